import Basics
import Dispatch
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Group commit for the real node: callers append from any thread and later learn
/// "durable through i"; a serial dispatch queue of its own performs the writes and the
/// fdatasync calls, so the event loop never blocks on the disk.
///
/// `append` frames the records (header, CRC32C) into an `EncodedBatch` on the caller's
/// thread, outside any lock the sync thread needs, and queues it. Framing there costs about
/// as much as waking another thread to do it would cost the caller, and it happens while the
/// previous fdatasync runs, so the sync thread only places and writes bytes. One pass of the
/// sync loop writes what is queued (at most `recordsPerSyncMax` records), issues one
/// fdatasync, advances the durable index after it returns, calls the waiters it satisfies,
/// then looks for more before it lets the queue go idle: a batch queued during the fdatasync
/// costs no wake-up and no re-dispatch. After an I/O error every waiter and every later
/// append gets the error: the log never claims durability it does not have.
///
/// Measured (Bench/results/ringlog-2026-11-26b.md): the path between two fdatasyncs is
/// placing and writing the batch plus the one wake-up of whoever waits for durability;
/// framing, a re-dispatch per sync and a second (encoding) thread are no longer on it.
///
/// The wrapped `RingLog` is touched only on `queue` (through the `log` mutex, which is then
/// never contended); `state` is what callers share with the queue. Lock order: `log` before
/// `state`.
@available(macOS 15, *)
public final class GroupCommitLog: Sendable {
    private let queue: DispatchQueue
    private let log: Mutex<RingLog>
    private let state: Mutex<State>
    /// Written batches, emptied, whose storage the next appends reuse: allocating a batch's
    /// arrays per append (and freeing them per sync) costs malloc calls and, for large
    /// batches, page faults. Many small appends during one sync each take one, so up to
    /// `sparesMax` are kept, holding at most `sparesBytesMax` bytes of capacity in all.
    private let spares = Mutex<Spares>(Spares())
    private static let sparesMax = 64
    private static let sparesBytesMax = 4 << 20

    private struct Spares {
        var batches: [EncodedBatch] = []
        var bytes = 0
    }
    private let onDurable: (@Sendable (Result<LogIndex, RingLogError>) -> Void)?
    private let recordsPerSyncMax: Int
    /// Waits a little before a sync while busy, so that one sync covers more appends.
    private let gathering: SyncGathering
    /// The log's `payloadBytesMax`: `append` refuses a larger payload before framing it.
    private let payloadBytesMax: Int

    private struct State {
        /// Framed by callers, in index order, not yet handed to the log.
        var queued: [EncodedBatch] = []
        /// The last index appended by callers (queued or not).
        var lastIndex: LogIndex
        var durableIndex: LogIndex
        var failure: RingLogError?
        /// The sync loop is queued or running on `queue`.
        var isFlushScheduled = false
        /// `perform` / `performSync` calls waiting for the queue: the sync loop lets them in
        /// between two syncs instead of running as long as appends keep coming.
        var performsWaiting = 0
        var waiters: [Waiter] = []
        /// When the oldest of `queued` was appended (monotonic nanoseconds; meaningless
        /// while `queued` is empty), and how many records the previous sync covered: the
        /// inputs of `gathering`.
        var oldestQueuedAt: UInt64 = 0
        var lastSyncRecords = 0
    }

    private struct Waiter {
        var target: LogIndex
        var wake: @Sendable (Result<LogIndex, RingLogError>) -> Void
    }

    /// Takes ownership of an opened log. `onDurable`, if given, is called on the log's
    /// queue after every sync with the new durable index, or once with the error that
    /// failed the log.
    /// With `gathering`, a busy log waits a little before each sync (SyncGathering.swift).
    public convenience init(
        _ log: sending RingLog, label: String = "ringlog.sync", gathering: SyncGathering = .off,
        onDurable: (@Sendable (Result<LogIndex, RingLogError>) -> Void)? = nil
    ) {
        self.init(log, label: label, recordsPerSyncMax: Int.max, gathering: gathering, onDurable: onDurable)
    }

    /// As above, and one write + fdatasync covers at most `recordsPerSyncMax` records, except
    /// the flush before a `perform`, which takes everything. The benchmark uses it to compare
    /// with a raw loop at exactly the same number of records per fdatasync.
    public init(
        _ log: sending RingLog, label: String = "ringlog.sync", recordsPerSyncMax: Int,
        gathering: SyncGathering = .off,
        onDurable: (@Sendable (Result<LogIndex, RingLogError>) -> Void)? = nil
    ) {
        precondition(recordsPerSyncMax > 0, "recordsPerSyncMax \(recordsPerSyncMax) must be positive")
        let initial = State(lastIndex: log.lastIndex, durableIndex: log.durableIndex)
        self.payloadBytesMax = log.options.payloadBytesMax
        self.queue = DispatchQueue(label: label)
        self.log = Mutex(log)
        self.state = Mutex(initial)
        self.onDurable = onDurable
        self.recordsPerSyncMax = recordsPerSyncMax
        self.gathering = gathering
    }

    public var lastIndex: LogIndex { state.withLock { $0.lastIndex } }
    public var durableIndex: LogIndex { state.withLock { $0.durableIndex } }
    public var failure: RingLogError? { state.withLock { $0.failure } }

    /// Queues records with consecutive indexes after `lastIndex`; returns at once, having
    /// framed them (no disk access). Throws the log's error once it has failed, and
    /// `recordTooLarge` (appending nothing) for a payload over the log's limit.
    public func append(_ records: [LogRecord]) throws {
        guard !records.isEmpty else { return }
        for record in records where record.payload.count > payloadBytesMax {
            throw RingLogError.recordTooLarge(
                index: record.index, payloadBytes: record.payload.count, limit: payloadBytesMax)
        }
        try enqueue(encode(records), first: records[0].index, last: records[records.count - 1].index)
    }

    /// Queues framed batches holding `first...last` and starts the sync loop if it is idle.
    private func enqueue(_ batches: [EncodedBatch], first: LogIndex, last: LogIndex) throws {
        let arrivedAt = gathering.windowNanoseconds > 0 ? DispatchTime.now().uptimeNanoseconds : 0
        let mustSchedule = try state.withLock { s -> Bool in
            if let failure = s.failure { throw failure }
            precondition(first == s.lastIndex.next, "append of \(first) after last index \(s.lastIndex)")
            if s.queued.isEmpty { s.oldestQueuedAt = arrivedAt }
            s.queued.append(contentsOf: batches)
            s.lastIndex = last
            if s.isFlushScheduled { return false }
            s.isFlushScheduled = true
            return true
        }
        if mustSchedule { queue.async { self.flushLoop() } }
    }

    /// As `append(_:)` for records the caller frames itself: `frame` appends them to a
    /// batch (recycled storage) with `EncodedBatch.append(index:epoch:type:head:tail:)`,
    /// so no `LogRecord` and no joined payload is built per record. At most
    /// `recordsPerSyncMax` records; a payload over the log's limit throws `recordTooLarge`
    /// and appends nothing.
    public func appendFramed(_ frame: (inout EncodedBatch) -> Void) throws {
        var batch = spares.withLock { spares -> EncodedBatch? in
            guard let batch = spares.batches.popLast() else { return nil }
            spares.bytes -= batch.bytes.capacity
            return batch
        } ?? EncodedBatch()
        frame(&batch)
        guard !batch.isEmpty else { return }
        precondition(batch.count <= recordsPerSyncMax,
                     "appendFramed of \(batch.count) records, over recordsPerSyncMax \(recordsPerSyncMax)")
        if let largest = batch.largestPayload(), largest.bytes > payloadBytesMax {
            throw RingLogError.recordTooLarge(index: largest.index, payloadBytes: largest.bytes, limit: payloadBytesMax)
        }
        try enqueue([batch], first: batch.firstIndex, last: batch.lastIndex)
    }

    /// Frames `records` in batches of at most `recordsPerSyncMax` (the most one sync takes),
    /// reusing the storage of written batches.
    private func encode(_ records: [LogRecord]) -> [EncodedBatch] {
        var batches: [EncodedBatch] = []
        var start = 0
        while start < records.count {
            let end = records.count - start > recordsPerSyncMax ? start + recordsPerSyncMax : records.count
            var batch = spares.withLock { spares -> EncodedBatch? in
                guard let batch = spares.batches.popLast() else { return nil }
                spares.bytes -= batch.bytes.capacity
                return batch
            } ?? EncodedBatch()
            if start == 0 && end == records.count {
                batch.append(records)
            } else {
                batch.append(Array(records[start..<end]))
            }
            batches.append(batch)
            start = end
        }
        return batches
    }

    /// Returns once everything through `index` is durable (the durable index, which may be
    /// larger), or throws the error that failed the log. `index` must have been appended.
    public func waitDurable(through index: LogIndex) async throws -> LogIndex {
        try await withCheckedThrowingContinuation { continuation in
            whenDurable(through: index) { continuation.resume(with: $0.mapError { $0 as any Error }) }
        }
    }

    /// Calls `body` once everything through `index` is durable, with the durable index (which
    /// may be larger), or with the error that failed the log. `index` must have been appended.
    /// `body` runs at once on the calling thread if that is already known, otherwise on the
    /// log's queue right after the fdatasync that covers `index`. The calls that one sync
    /// satisfies are made in order of `index`, and a sync's calls all come before the next
    /// sync's: a caller waiting for i never hears after one waiting for j > i registered
    /// at the same time.
    public func whenDurable(
        through index: LogIndex, _ body: @escaping @Sendable (Result<LogIndex, RingLogError>) -> Void
    ) {
        let ready = state.withLock { s -> Result<LogIndex, RingLogError>? in
            if let failure = s.failure { return .failure(failure) }
            if s.durableIndex >= index { return .success(s.durableIndex) }
            precondition(index <= s.lastIndex, "wait for \(index) past the last index \(s.lastIndex)")
            s.waiters.append(Waiter(target: index, wake: body))
            return nil
        }
        if let ready { body(ready) }
    }

    /// Runs `body` on the log's queue after the pending appends are written and synced:
    /// reads, truncation, compaction, meta. Do not append while a `body` that changes the
    /// last index (truncate, compact) is in flight.
    public func perform<T: Sendable>(_ body: @escaping @Sendable (RingLog) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async {
                self.state.withLock { $0.performsWaiting -= 1 }
                continuation.resume(with: self.drainAndRun(body))
            }
            // Counted once queued (the block may already have run and counted -1): the loop
            // that sees the count then knows the block is behind it on the queue.
            state.withLock { $0.performsWaiting += 1 }
        }
    }

    /// `perform`, blocking the calling thread instead of suspending: for an event loop that
    /// must not continue before a truncation or a meta write is durable. It does not need a
    /// free thread in Swift's cooperative pool (a semaphore waiting on a detached task does,
    /// and deadlocks when the pool is busy). Never call it from the log's own queue.
    public func performSync<T: Sendable>(_ body: @Sendable (RingLog) throws -> T) throws -> T {
        state.withLock { $0.performsWaiting += 1 }
        return try queue.sync {
            self.state.withLock { $0.performsWaiting -= 1 }
            return try self.drainAndRun(body).get()
        }
    }

    /// On `queue`: writes and syncs everything appended so far, then runs `body` on the log
    /// and takes over its last and durable indexes.
    private func drainAndRun<T: Sendable>(_ body: @Sendable (RingLog) throws -> T) -> Result<T, any Error> {
        _ = flushOnce(drainingAll: true)
        return log.withLock { log -> Result<T, any Error> in
            let outcome = Result { try body(log) }
            let last = log.lastIndex
            let durable = log.durableIndex
            self.state.withLock { s in
                if s.queued.isEmpty { s.lastIndex = last }
                s.durableIndex = durable
            }
            return outcome
        }
    }

    /// For tests: the number of framed batches not yet handed to the log.
    func queuedBatchCount() -> Int {
        state.withLock { $0.queued.count }
    }

    /// For tests: the `perform` / `performSync` calls waiting for the queue.
    func performsWaitingCount() -> Int {
        state.withLock { $0.performsWaiting }
    }

    /// Keeps the storage of written batches for the next appends.
    private func recycle(_ batches: inout [EncodedBatch]) {
        while var batch = batches.popLast() {
            batch.removeAll()  // the only reference left: keeps its storage
            let capacity = batch.bytes.capacity
            let kept = spares.withLock { spares -> Bool in
                guard spares.batches.count < GroupCommitLog.sparesMax,
                    spares.bytes + capacity <= GroupCommitLog.sparesBytesMax
                else { return false }
                spares.batches.append(batch)
                spares.bytes += capacity
                return true
            }
            if !kept { break }
        }
        batches.removeAll()
    }

    /// The sync loop, on `queue`: one group commit after another while batches are queued.
    /// It checks for more before going idle (in the same critical section that clears
    /// `isFlushScheduled`, so an append either sees the loop running or schedules it), and
    /// steps aside, queueing itself again, when a `perform` is waiting.
    private func flushLoop() {
        while true {
            switch flushOnce(drainingAll: false) {
            case .idle:
                preallocateWhileIdle()
                return
            case .more: continue
            case .yield:
                queue.async { self.flushLoop() }
                return
            }
        }
    }

    private enum Next { case idle, more, yield }

    /// On `queue`, with nothing left to sync: the log zeros (and syncs) the next stretch of
    /// its file now, when it is close to the end of its zeroed tail, instead of in the sync
    /// of a later append (RingLog+Preallocation.swift). Rare: once per `preallocationBytes`
    /// of records. An append arriving meanwhile waits for it on the queue. A disk error here
    /// fails the log, and the next sync reports it to its waiters like any other.
    private func preallocateWhileIdle() {
        log.withLock { log in _ = try? log.preallocateAhead() }
    }

    /// On `queue`, before a sync: waits as `gathering` says (never while a `perform` waits),
    /// once, then the sync takes whatever is queued by then.
    private func gather() {
        guard gathering.windowNanoseconds > 0 else { return }
        let now = DispatchTime.now().uptimeNanoseconds
        let wait = state.withLock { s -> UInt64 in
            guard s.performsWaiting == 0, s.failure == nil else { return 0 }
            var queuedRecords = 0
            for batch in s.queued { queuedRecords += batch.count }
            return gathering.wait(now: now, oldestQueuedAt: s.oldestQueuedAt, lastSyncRecords: s.lastSyncRecords,
                                  queuedRecords: queuedRecords)
        }
        guard wait > 0 else { return }
        var request = timespec(tv_sec: Int(wait / 1_000_000_000), tv_nsec: Int(wait % 1_000_000_000))
        _ = nanosleep(&request, nil)
    }

    /// One group commit: write what is queued (with `drainingAll`, everything; otherwise at
    /// most `recordsPerSyncMax` records), one sync, then wake the waiters it satisfies.
    /// Returns what the loop should do next; with `drainingAll` (before a `perform` body,
    /// which the loop always yields to) it never returns `.idle` while batches are queued.
    private func flushOnce(drainingAll: Bool) -> Next {
        let limit = drainingAll ? Int.max : recordsPerSyncMax
        if !drainingAll { gather() }
        let taken = state.withLock { s -> (batches: [EncodedBatch], wasFailed: Bool)? in
            var count = 0
            var k = 0
            while k < s.queued.count, count <= limit &- s.queued[k].count {
                count += s.queued[k].count
                k += 1
            }
            if k == 0 && (s.failure != nil || s.durableIndex == s.lastIndex) {
                // Nothing to do: go idle, unless this is a perform's flush (the loop that
                // scheduled itself still runs, or will be scheduled by the next append).
                if !drainingAll { s.isFlushScheduled = false }
                return nil
            }
            let batches = Array(s.queued[..<k])
            s.queued.removeFirst(k)
            s.lastSyncRecords = count
            return (batches, s.failure != nil)
        }
        guard let taken else { return .idle }
        var batches = taken.batches
        let wasFailed = taken.wasFailed
        let hadBatches = !batches.isEmpty
        let result = log.withLock { log -> Result<LogIndex, RingLogError> in
            do {
                for batch in batches { try log.append(batch) }
                return .success(try log.sync())
            } catch let error as RingLogError {
                return .failure(error)
            } catch {
                preconditionFailure("RingLog threw a non-RingLogError: \(error)")
            }
        }
        let (woken, next) = state.withLock { s -> ([(Waiter, Result<LogIndex, RingLogError>)], Next) in
            var woken: [(Waiter, Result<LogIndex, RingLogError>)] = []
            switch result {
            case .success(let durable):
                s.durableIndex = max(s.durableIndex, durable)
                if s.waiters.contains(where: { $0.target <= durable }) {
                    let (ready, waiting) = partition(s.waiters) { $0.target <= durable }
                    s.waiters = waiting
                    woken = ready.map { ($0, .success(durable)) }
                }
            case .failure(let error):
                if s.failure == nil { s.failure = error }
                woken = s.waiters.map { ($0, .failure(s.failure ?? error)) }
                s.waiters.removeAll()
                s.queued.removeAll()
            }
            if s.performsWaiting > 0 && !drainingAll { return (woken, .yield) }
            return (woken, .more)
        }
        // Lower targets first: a caller waiting for i hears no later than one waiting for j > i.
        for (waiter, outcome) in woken.sorted(by: { $0.0.target < $1.0.target }) {
            waiter.wake(outcome)
        }
        if hadBatches || (result.isFailure && !wasFailed) { onDurable?(result) }
        recycle(&batches)  // after the calls, so that waiters hear first
        return next
    }
}

private func partition<T>(_ items: [T], by isFirst: (T) -> Bool) -> ([T], [T]) {
    var first: [T] = []
    var second: [T] = []
    for item in items {
        if isFirst(item) { first.append(item) } else { second.append(item) }
    }
    return (first, second)
}

extension Result {
    fileprivate var isFailure: Bool {
        if case .failure = self { return true }
        return false
    }
}
