import Basics
import Dispatch
@testable import RingLog
import Simulation
import Synchronization
import Testing

/// GroupCommitLog frames batch N+1 on the appending thread while batch N is being synced. These
/// tests hold a sync open (GatedDisk) to put the log in exactly that state.
@Suite("GroupCommitLog pipelining")
struct PipelinedGroupCommitTests {
    /// A log whose first `gated` syncs wait for the test; `failing` lists syncs that fail.
    private func gatedLog(
        seed: UInt64, gated: Int, failing: [Int] = [],
        onDurable: (@Sendable (Result<LogIndex, RingLogError>) -> Void)? = nil
    ) throws -> (GroupCommitLog, entered: DispatchSemaphore, release: DispatchSemaphore) {
        let entered = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        let disk = GatedDisk(SimulatedDisk(seed: seed), entered: entered, release: release)
        disk.gatedSyncs = gated
        disk.failingSyncNumbers = failing
        let log = GroupCommitLog(
            try RingLog(disk: disk, directory: "/n"), recordsPerSyncMax: .max, onDurable: onDurable)
        return (log, entered, release)
    }

    @Test func theNextBatchIsEncodedWhileASyncRuns() async throws {
        let (log, entered, release) = try gatedLog(seed: 31, gated: 1)
        try log.append(records(1...8))
        entered.wait()  // the sync covering 1...8 has started and is held
        try log.append(records(9...16))
        try log.append(records(17...20))
        // Both appends were framed (one batch each) while the sync was held; nothing is
        // durable yet.
        #expect(log.queuedBatchCount() == 2)
        #expect(log.durableIndex == .zero)
        release.signal()
        #expect(try await log.waitDurable(through: LogIndex(20)) == LogIndex(20))
        let read = try await log.perform { try $0.read(from: LogIndex(1), through: LogIndex(20)) }
        #expect(read == records(1...20))
        #expect(try await log.perform { ($0.disk as? GatedDisk)?.syncCount } == 2)
    }

    /// The sync in flight fails while the next batch is already encoded: no waiter hears of
    /// durability, the durable index stays where it was, the encoded batch is never written,
    /// and every later append or wait gets the error.
    @Test func aFailedSyncWithTheNextBatchEncodedStopsTheLog() async throws {
        let reports = Mutex<[Result<LogIndex, RingLogError>]>([])
        let (log, entered, release) = try gatedLog(seed: 32, gated: 1, failing: [1]) { result in
            reports.withLock { $0.append(result) }
        }
        try log.append(records(1...4))
        entered.wait()
        try log.append(records(5...9))
        #expect(log.queuedBatchCount() == 1)
        let outcomes = Mutex<[Result<LogIndex, RingLogError>]>([])
        for target in [9, 2, 5] {
            log.whenDurable(through: LogIndex(UInt64(target))) { result in outcomes.withLock { $0.append(result) } }
        }
        release.signal()
        await #expect(throws: RingLogError.self) { try await log.waitDurable(through: LogIndex(9)) }
        // The RingLog itself refuses writes: the encoded batch 5...9 was never appended. (A
        // `perform` runs after the failed flush has made all its calls.)
        let (last, logFailed) = try await log.perform { ($0.lastIndex, $0.failure != nil) }
        #expect(logFailed && last == LogIndex(4))
        let heard = outcomes.withLock { $0 }
        #expect(heard.count == 3)
        #expect(heard.allSatisfy { if case .failure = $0 { true } else { false } })
        #expect(log.durableIndex == .zero)
        #expect(log.failure != nil)
        #expect(throws: RingLogError.self) { try log.append(records(10...10)) }
        await #expect(throws: RingLogError.self) { try await log.waitDurable(through: LogIndex(1)) }
        // onDurable heard only the failure, never a durable index.
        let reported = reports.withLock { $0 }
        #expect(reported.count == 1)
        #expect(reported.allSatisfy { if case .failure = $0 { true } else { false } })
    }

    /// The first sync succeeds, the second (covering the batch encoded during the first)
    /// fails: the first batch's waiters hear success, the second's the error, and the
    /// durable index stops at the first batch.
    @Test func aFailureAfterASuccessKeepsTheEarlierDurability() async throws {
        let (log, entered, release) = try gatedLog(seed: 33, gated: 2, failing: [2])
        try log.append(records(1...3))
        entered.wait()
        try log.append(records(4...6))
        #expect(log.queuedBatchCount() == 1)
        let outcomes = Mutex<[(Int, Result<LogIndex, RingLogError>)]>([])
        for target in [6, 3, 1, 4] {
            log.whenDurable(through: LogIndex(UInt64(target))) { result in outcomes.withLock { $0.append((target, result)) } }
        }
        release.signal()  // sync 1 succeeds
        entered.wait()  // sync 2 has started
        release.signal()  // and fails
        await #expect(throws: RingLogError.self) { try await log.waitDurable(through: LogIndex(6)) }
        _ = try await log.perform { $0.lastIndex }  // after the failed flush's calls
        let heard = outcomes.withLock { $0 }
        #expect(heard.map(\.0) == [1, 3, 4, 6])
        for (target, result) in heard {
            switch result {
            case .success(let durable): #expect(target <= 3 && durable == LogIndex(3))
            case .failure: #expect(target > 3)
            }
        }
        #expect(log.durableIndex == LogIndex(3))
        #expect(log.failure != nil)
    }

    /// Waiters registered in shuffled order across three syncs are called back in order of
    /// their targets, each with the durable index of the first sync that covers it.
    @Test func durableThroughWaitsResolveInOrder() async throws {
        let durables = Mutex<[LogIndex]>([])
        let (log, entered, release) = try gatedLog(seed: 34, gated: 2) { result in
            if case .success(let index) = result { durables.withLock { $0.append(index) } }
        }
        try log.append(records(1...5))
        entered.wait()  // sync 1 (1...5) held
        try log.append(records(6...12))
        var generator = SeededGenerator(seed: 34)
        var targets = Array(1...12)
        targets.shuffle(using: &generator)
        let order = Mutex<[(Int, LogIndex)]>([])
        for target in targets {
            log.whenDurable(through: LogIndex(UInt64(target))) { result in
                if case .success(let durable) = result { order.withLock { $0.append((target, durable)) } }
            }
        }
        release.signal()
        entered.wait()  // sync 2 (6...12) held: sync 1's waiters have been called
        let afterFirst = order.withLock { $0 }
        #expect(afterFirst.map(\.0) == Array(1...5))
        #expect(afterFirst.allSatisfy { $0.1 == LogIndex(5) })
        try log.append(records(13...15))
        for target in [15, 13, 14] {
            log.whenDurable(through: LogIndex(UInt64(target))) { result in
                if case .success(let durable) = result { order.withLock { $0.append((target, durable)) } }
            }
        }
        release.signal()
        #expect(try await log.waitDurable(through: LogIndex(15)) == LogIndex(15))
        _ = try await log.perform { $0.lastIndex }  // after the last flush's calls
        let all = order.withLock { $0 }
        #expect(all.map(\.0) == Array(1...15))
        #expect(all.map(\.1) == Array(repeating: LogIndex(5), count: 5) + Array(repeating: LogIndex(12), count: 7)
            + Array(repeating: LogIndex(15), count: 3))
        #expect(durables.withLock { $0 } == [LogIndex(5), LogIndex(12), LogIndex(15)])
    }

    /// `perform` waits for the batch being encoded and the one being synced: a read issued
    /// while a sync is held sees every record appended before it.
    @Test func performSeesEveryAppendMadeBeforeIt() async throws {
        let (log, entered, release) = try gatedLog(seed: 35, gated: 1)
        try log.append(records(1...2))
        entered.wait()
        try log.append(records(3...40))
        release.signal()
        let read = try await log.perform { try $0.read(from: LogIndex(1), through: $0.lastIndex) }
        #expect(read == records(1...40))
        #expect(log.durableIndex == LogIndex(40))
    }

    /// Many appends from one thread racing the sync loop, over several seeds (half of them
    /// with appends cut to at most 3 records per sync): every record arrives once, in order,
    /// and the durable index reaches the end.
    @Test(arguments: [41, 42, 43, 44] as [UInt64])
    func manySmallAppendsArriveInOrder(seed: UInt64) async throws {
        let log = GroupCommitLog(
            try RingLog(disk: SimulatedDisk(seed: seed), directory: "/n", options: smallSegments),
            recordsPerSyncMax: seed % 2 == 0 ? .max : 3)
        var generator = SeededGenerator(seed: seed)
        var next: UInt64 = 1
        for _ in 0..<200 {
            let count = UInt64(1 + generator.next() % 5)
            try log.append(records(next...(next + count - 1)))
            next += count
        }
        let last = LogIndex(next - 1)
        #expect(try await log.waitDurable(through: last) == last)
        let read = try await log.perform { try $0.read(from: LogIndex(1), through: $0.lastIndex) }
        #expect(read == records(1...(next - 1)))
    }
}

extension PipelinedGroupCommitTests {
    /// With `recordsPerSyncMax`, batches encoded during a sync are written one sync each
    /// when two would exceed the limit, and a larger append is cut to the limit.
    @Test func recordsPerSyncMaxKeepsBatchesApart() async throws {
        let entered = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        let disk = GatedDisk(SimulatedDisk(seed: 36), entered: entered, release: release)
        disk.gatedSyncs = 1
        let durables = Mutex<[LogIndex]>([])
        let log = GroupCommitLog(try RingLog(disk: disk, directory: "/n"), recordsPerSyncMax: 4) { result in
            if case .success(let index) = result { durables.withLock { $0.append(index) } }
        }
        try log.append(records(1...4))
        entered.wait()
        try log.append(records(5...8))
        try log.append(records(9...10))
        try log.append(records(11...16))  // larger than the limit: cut into 11...14, 15...16
        #expect(log.queuedBatchCount() == 4)
        release.signal()
        #expect(try await log.waitDurable(through: LogIndex(16)) == LogIndex(16))
        _ = try await log.perform { $0.lastIndex }
        #expect(durables.withLock { $0 } == [LogIndex(4), LogIndex(8), LogIndex(10), LogIndex(14), LogIndex(16)])
    }
}

extension PipelinedGroupCommitTests {
    /// The sync loop keeps going while batches are queued, but a `perform` waiting for the
    /// queue gets in after the sync in flight: it does not wait for every queued batch to be
    /// synced one by one (here five syncs of one record each), its own flush takes them all.
    @Test func aWaitingPerformGetsInBetweenTwoSyncs() async throws {
        let entered = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        let disk = GatedDisk(SimulatedDisk(seed: 37), entered: entered, release: release)
        disk.gatedSyncs = 2
        let log = GroupCommitLog(try RingLog(disk: disk, directory: "/n"), recordsPerSyncMax: 1)
        try log.append(records(1...1))
        entered.wait()  // sync 1 held
        for i in 2...6 { try log.append(records(UInt64(i)...UInt64(i))) }
        #expect(log.queuedBatchCount() == 5)
        let seen = Task { try await log.perform { log in ((log.disk as? GatedDisk)?.syncCount, log.durableIndex) } }
        // Bounded: the task registers within a few scheduler turns.
        var turns = 0
        while log.performsWaitingCount() == 0 && turns < 1_000_000 {
            await Task.yield()
            turns += 1
        }
        #expect(log.performsWaitingCount() == 1)
        release.signal()  // sync 1 returns; the loop steps aside for the perform
        entered.wait()  // sync 2: the perform's flush, covering 2...6
        release.signal()
        let (syncs, durable) = try await seen.value
        #expect(syncs == 2 && durable == LogIndex(6))
        #expect(log.queuedBatchCount() == 0)
    }

    /// A payload over the log's limit is refused by `append` itself: nothing is queued, and
    /// the log keeps working (it is the caller's error, not the disk's).
    @Test func anOversizedPayloadIsRefusedWithoutFailingTheLog() async throws {
        let log = GroupCommitLog(
            try RingLog(disk: SimulatedDisk(seed: 38), directory: "/n", options: RingLogOptions(payloadBytesMax: 32)))
        try log.append(records(1...2, payloadBytes: 32))
        #expect(throws: RingLogError.recordTooLarge(index: LogIndex(4), payloadBytes: 33, limit: 32)) {
            try log.append(records(3...3, payloadBytes: 32) + records(4...4, payloadBytes: 33))
        }
        #expect(log.lastIndex == LogIndex(2))
        try log.append(records(3...3, payloadBytes: 32))
        #expect(try await log.waitDurable(through: LogIndex(3)) == LogIndex(3))
        #expect(log.failure == nil)
        let read = try await log.perform { try $0.read(from: LogIndex(1), through: $0.lastIndex) }
        #expect(read == records(1...2, payloadBytes: 32) + records(3...3, payloadBytes: 32))
    }
}
