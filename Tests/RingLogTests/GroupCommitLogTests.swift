import Dispatch
import Basics
import RingLog
import Simulation
import Synchronization
import Testing

@Suite("GroupCommitLog")
struct GroupCommitLogTests {
    @Test func appendsBecomeDurableOnTheRealDisk() async throws {
        try await withTemporaryDirectoryAsync { dir in
            let seen = Mutex<[LogIndex]>([])
            let log = GroupCommitLog(try RingLog(disk: FileDisk(), directory: dir)) { result in
                if case .success(let index) = result { seen.withLock { $0.append(index) } }
            }
            for batch in 0..<20 {
                let first = UInt64(batch * 10 + 1)
                try log.append(records(first...(first + 9)))
            }
            #expect(log.lastIndex == LogIndex(200))
            let durable = try await log.waitDurable(through: LogIndex(200))
            #expect(durable == LogIndex(200))
            #expect(log.durableIndex == LogIndex(200))
            // Already durable: returns at once.
            #expect(try await log.waitDurable(through: LogIndex(17)) == LogIndex(200))
            let read = try await log.perform { try $0.read(from: LogIndex(1), through: LogIndex(200)) }
            #expect(read == records(1...200))
            // The callback saw the durable index grow to 200, never backwards.
            let indexes = seen.withLock { $0 }
            #expect(indexes.last == LogIndex(200) && indexes == indexes.sorted())
            try await log.perform { log in
                try log.writeMeta(LogMeta(nodeID: NodeID(1), normalEpoch: Epoch(1), voters: [], commitIndex: LogIndex(200)))
                try log.truncate(after: LogIndex(200))
            }
        }
    }

    @Test func aFailedSyncFailsEveryWaiterAndLaterAppend() async throws {
        let log = GroupCommitLog(try RingLog(disk: SimulatedDisk(seed: 21), directory: "/n"))
        try await log.perform { ($0.disk as? SimulatedDisk)?.failingSyncs = 1 }
        try log.append(records(1...3))
        await #expect(throws: RingLogError.self) { try await log.waitDurable(through: LogIndex(3)) }
        #expect(log.failure != nil)
        #expect(log.durableIndex == .zero)
        #expect(throws: RingLogError.self) { try log.append(records(4...4)) }
        await #expect(throws: RingLogError.self) { try await log.waitDurable(through: LogIndex(1)) }
    }

    @Test func concurrentWaitersAreAllWoken() async throws {
        let log = GroupCommitLog(try RingLog(disk: SimulatedDisk(seed: 22), directory: "/n"))
        try log.append(records(1...64))
        try await withThrowingTaskGroup(of: LogIndex.self) { group in
            for target in stride(from: 1, through: 64, by: 9) {
                group.addTask { try await log.waitDurable(through: LogIndex(UInt64(target))) }
            }
            for try await durable in group { #expect(durable >= LogIndex(1)) }
        }
        #expect(log.durableIndex == LogIndex(64))
    }
}


extension GroupCommitLogTests {
    /// Appends that arrive while an fdatasync is running are all covered by the next one:
    /// ten appends, two syncs. The disk holds each sync until the test releases it.
    @Test func appendsDuringASyncShareTheNextSync() async throws {
        let entered = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        let disk = GatedDisk(SimulatedDisk(seed: 23), entered: entered, release: release)
        let log = GroupCommitLog(try RingLog(disk: disk, directory: "/n"))
        try await log.perform { ($0.disk as? GatedDisk)?.gatedSyncs = 2 }
        try log.append(records(1...1))
        entered.wait()  // the first fdatasync has started
        for i in 2...10 { try log.append(records(UInt64(i)...UInt64(i))) }
        release.signal()
        entered.wait()  // the second one, covering 2...10
        release.signal()
        #expect(try await log.waitDurable(through: LogIndex(10)) == LogIndex(10))
        #expect(try await log.perform { ($0.disk as? GatedDisk)?.syncCount } == 2)
    }
}

/// A disk whose first `gatedSyncs` file syncs each signal `entered` and wait for `release`.
final class GatedDisk: Disk {
    let inner: SimulatedDisk
    let entered: DispatchSemaphore
    let release: DispatchSemaphore
    var gatedSyncs = 0
    var syncCount = 0
    /// The file syncs (counting from 1) that fail, after their gate.
    var failingSyncNumbers: [Int] = []

    init(_ inner: SimulatedDisk, entered: DispatchSemaphore, release: DispatchSemaphore) {
        self.inner = inner
        self.entered = entered
        self.release = release
    }

    func sync(_ handle: DiskHandle) throws {
        syncCount += 1
        if gatedSyncs > 0 {
            gatedSyncs -= 1
            entered.signal()
            release.wait()
        }
        if failingSyncNumbers.contains(syncCount) {
            throw DiskError(.sync, path: "\(handle)", errno: 5, message: "injected sync failure \(syncCount)")
        }
        try inner.sync(handle)
    }

    func open(_ path: String, mode: DiskOpenMode) throws -> DiskHandle { try inner.open(path, mode: mode) }
    func close(_ handle: DiskHandle) { inner.close(handle) }
    func size(of handle: DiskHandle) throws -> UInt64 { try inner.size(of: handle) }
    func write(_ handle: DiskHandle, at offset: UInt64, _ bytes: UnsafeRawBufferPointer) throws {
        try inner.write(handle, at: offset, bytes)
    }
    func read(_ handle: DiskHandle, at offset: UInt64, count: Int) throws -> [UInt8] {
        try inner.read(handle, at: offset, count: count)
    }
    func truncate(_ handle: DiskHandle, to size: UInt64) throws { try inner.truncate(handle, to: size) }
    func rename(_ from: String, to: String) throws { try inner.rename(from, to: to) }
    func remove(_ path: String) throws { try inner.remove(path) }
    func list(directory: String) throws -> [String] { try inner.list(directory: directory) }
    func createDirectory(_ path: String) throws { try inner.createDirectory(path) }
    func syncDirectory(_ path: String) throws { try inner.syncDirectory(path) }
}
