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

