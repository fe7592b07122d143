import Basics
import Dispatch
import Synchronization

/// Group commit for the real node: callers append from any thread and later learn
/// "durable through i"; a serial dispatch queue of its own performs the writes and the
/// fdatasync calls, so the event loop never blocks on the disk.
///
/// Appends that arrive while an fdatasync runs wait in `pending` and are all written and
/// covered by the next one. While that fdatasync runs, a second queue already frames them
/// (header, CRC32C) into an `EncodedBatch` once they add up to 32 KiB, so the sync thread only
/// writes bytes: the CPU work of batch N+1 overlaps the disk wait of batch N (pipelining);
/// smaller batches are framed by the sync thread after the sync. The durable index still
/// advances only after the fdatasync covering it returns. After an I/O error every waiter and
/// every later append gets the error: the log never claims durability it does not have.
///
/// The wrapped `RingLog` is touched only on `queue` (through the `log` mutex, which is then
/// never contended); `state` is what callers share with the queues. `encoding` is held while
/// records move from `pending` to `encoded`, so batches reach the log in index order whichever
/// queue encodes them. Lock order: `encoding` before `state`; `log` before `state`.
@available(macOS 15, *)
public final class GroupCommitLog: Sendable {
    private let queue: DispatchQueue
    private let encodeQueue: DispatchQueue
    private let log: Mutex<RingLog>
    private let state: Mutex<State>
    private let encoding = Mutex<Void>(())
    /// Written batches, emptied, whose storage the next encodings reuse: a batch of a few
    /// hundred KiB allocated and freed per sync costs page faults. At most `sparesMax`.
    private let spares = Mutex<[EncodedBatch]>([])
    private static let sparesMax = 4
    private let onDurable: (@Sendable (Result<LogIndex, RingLogError>) -> Void)?
    private let recordsPerSyncMax: Int
    /// Records appended during a sync are framed on the other queue only once they add up to
    /// this many bytes; below it the sync queue frames them itself, since waking a thread
    /// then costs more CPU than the framing it would overlap.
    private let encodeAheadBytesMin: Int

    private struct State {
        /// Appended by callers, not yet encoded.
        var pending: [LogRecord] = []
        /// The encoded size of `pending`.
        var pendingBytes = 0
        /// Encoded, in index order, not yet handed to the log.
        var encoded: [EncodedBatch] = []
        /// Records taken from `pending` whose batch is not yet in `encoded`.
        var isEncoding = false
        /// The last index appended by callers (pending or not).
        var lastIndex: LogIndex
        var durableIndex: LogIndex
        var failure: RingLogError?
        /// A `flushOnce` is queued or running on `queue`.
        var isFlushScheduled = false
        /// An `encodeOnce` is queued or running on `encodeQueue`.
        var isEncodeScheduled = false
        var waiters: [Waiter] = []

        /// Nothing appended is still on its way to the log.
        var isDrained: Bool { pending.isEmpty && encoded.isEmpty && !isEncoding }
    }

    private struct Waiter {
        var target: LogIndex
        var wake: @Sendable (Result<LogIndex, RingLogError>) -> Void
    }

    /// Takes ownership of an opened log. `onDurable`, if given, is called on the log's
    /// queue after every sync with the new durable index, or once with the error that
    /// failed the log.
    public convenience init(
        _ log: sending RingLog, label: String = "ringlog.sync",
        onDurable: (@Sendable (Result<LogIndex, RingLogError>) -> Void)? = nil
    ) {
        self.init(log, label: label, recordsPerSyncMax: Int.max, onDurable: onDurable)
    }

    /// As above, and one write + fdatasync covers at most `recordsPerSyncMax` records, except
    /// the flush before a `perform`, which takes everything. The benchmark uses it to compare
    /// with a raw loop at exactly the same number of records per fdatasync.
    public convenience init(
        _ log: sending RingLog, label: String = "ringlog.sync", recordsPerSyncMax: Int,
        onDurable: (@Sendable (Result<LogIndex, RingLogError>) -> Void)? = nil
    ) {
        self.init(
            log, label: label, recordsPerSyncMax: recordsPerSyncMax, encodeAheadBytesMin: 32 << 10,
            onDurable: onDurable)
    }

    /// Tests pass `encodeAheadBytesMin: 0` to see the encoding queue at work with small records.
    init(
        _ log: sending RingLog, label: String = "ringlog.sync", recordsPerSyncMax: Int, encodeAheadBytesMin: Int,
        onDurable: (@Sendable (Result<LogIndex, RingLogError>) -> Void)? = nil
    ) {
        precondition(recordsPerSyncMax > 0, "recordsPerSyncMax \(recordsPerSyncMax) must be positive")
        let initial = State(lastIndex: log.lastIndex, durableIndex: log.durableIndex)
        self.queue = DispatchQueue(label: label)
        self.encodeQueue = DispatchQueue(label: label + ".encode")
        self.log = Mutex(log)
        self.state = Mutex(initial)
        self.onDurable = onDurable
        self.recordsPerSyncMax = recordsPerSyncMax
        self.encodeAheadBytesMin = encodeAheadBytesMin
    }

    public var lastIndex: LogIndex { state.withLock { $0.lastIndex } }
    public var durableIndex: LogIndex { state.withLock { $0.durableIndex } }
    public var failure: RingLogError? { state.withLock { $0.failure } }

    /// Queues records with consecutive indexes after `lastIndex`; returns at once. Throws
    /// the log's error once it has failed.
    public func append(_ records: [LogRecord]) throws {
        guard !records.isEmpty else { return }
        var bytes = 0
        for record in records { bytes &+= record.encodedByteCount }
        let next = try state.withLock { s -> Schedule in
            if let failure = s.failure { throw failure }
            precondition(
                records.first!.index == s.lastIndex.next,
                "append of \(records.first!.index) after last index \(s.lastIndex)")
            s.pending.append(contentsOf: records)
            s.pendingBytes &+= bytes
            s.lastIndex = records.last!.index
            if !s.isFlushScheduled {
                // The sync thread is idle: it encodes the records itself, no second hop.
                s.isFlushScheduled = true
                return .flush
            }
            // A sync is in flight: encode meanwhile on the other queue, if worth a thread.
            if s.isEncodeScheduled || s.pendingBytes < encodeAheadBytesMin { return .nothing }
            s.isEncodeScheduled = true
            return .encode
        }
        switch next {
        case .flush: queue.async { self.flushOnce() }
        case .encode: encodeQueue.async { self.encodeOnce() }
        case .nothing: break
        }
    }

    private enum Schedule { case flush, encode, nothing }

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
                self.flushOnce(drainingAll: true)
                let result = self.log.withLock { log -> Result<T, any Error> in
                    let outcome = Result { try body(log) }
                    let last = log.lastIndex
                    let durable = log.durableIndex
                    self.state.withLock { s in
                        if s.isDrained { s.lastIndex = last }
                        s.durableIndex = durable
                    }
                    return outcome
                }
                continuation.resume(with: result)
            }
        }
    }

    /// `perform`, blocking the calling thread instead of suspending: for an event loop that
    /// must not continue before a truncation or a meta write is durable. It does not need a
    /// free thread in Swift's cooperative pool (a semaphore waiting on a detached task does,
    /// and deadlocks when the pool is busy). Never call it from the log's own queue.
    public func performSync<T: Sendable>(_ body: @Sendable (RingLog) throws -> T) throws -> T {
        try queue.sync {
            self.flushOnce(drainingAll: true)
            return try self.log.withLock { log -> T in
                defer {
                    let last = log.lastIndex
                    let durable = log.durableIndex
                    self.state.withLock { s in
                        if s.isDrained { s.lastIndex = last }
                        s.durableIndex = durable
                    }
                }
                return try body(log)
            }
        }
    }

    /// Moves everything pending into `encoded` as one batch; schedules a flush if none is.
    /// Runs on either queue; `encoding` keeps the batches in index order.
    private func encodePending() {
        encoding.withLock { _ in
            let records = state.withLock { s -> [LogRecord] in
                var taken: [LogRecord] = []
                swap(&taken, &s.pending)
                s.pendingBytes = 0
                s.isEncoding = !taken.isEmpty
                return taken
            }
            guard !records.isEmpty else { return }
            // The CPU work, outside `state`; in pieces of at most `recordsPerSyncMax` records,
            // the most one sync takes.
            var batches: [EncodedBatch] = []
            var start = 0
            while start < records.count {
                let end = records.count - start > recordsPerSyncMax ? start + recordsPerSyncMax : records.count
                var batch = spares.withLock { $0.popLast() } ?? EncodedBatch()
                batch.append(Array(records[start..<end]))
                batches.append(batch)
                start = end
            }
            let mustFlush = state.withLock { s -> Bool in
                s.isEncoding = false
                if s.failure != nil { return false }  // the log has failed: dropped
                s.encoded.append(contentsOf: batches)
                if s.isFlushScheduled { return false }
                s.isFlushScheduled = true
                return true
            }
            if mustFlush { queue.async { self.flushOnce() } }
        }
    }

    /// For tests: returns once every encoding scheduled so far has finished, with the number
    /// of records still pending and of encoded batches not yet handed to the log.
    func encodeBarrier() -> (pending: Int, encodedBatches: Int) {
        encodeQueue.sync {}
        return state.withLock { ($0.pending.count, $0.encoded.count) }
    }

    /// Runs on `encodeQueue`: encodes what callers appended while a sync was running.
    /// Loops here rather than queueing itself again, so that `encodeBarrier` waits for it.
    private func encodeOnce() {
        var again = true
        while again {
            encodePending()
            again = state.withLock { s -> Bool in
                s.isEncodeScheduled = !s.pending.isEmpty
                return s.isEncodeScheduled
            }
        }
    }

    /// Keeps the storage of written batches for the next encodings.
    private func recycle(_ batches: inout [EncodedBatch]) {
        while var batch = batches.popLast() {
            batch.removeAll()  // the only reference left: keeps its storage
            let kept = spares.withLock { spares -> Bool in
                guard spares.count < GroupCommitLog.sparesMax else { return false }
                spares.append(batch)
                return true
            }
            if !kept { break }
        }
    }

    /// Starts the encoding queue if enough records are pending and it is not already on them.
    private func startEncoderIfNeeded() {
        let start = state.withLock { s -> Bool in
            if s.pending.isEmpty || s.isEncodeScheduled || s.pendingBytes < encodeAheadBytesMin { return false }
            s.isEncodeScheduled = true
            return true
        }
        if start { encodeQueue.async { self.encodeOnce() } }
    }

    /// One group commit: write what is encoded (or, when nothing is, encode what is pending
    /// here), one sync, wake the waiters it satisfies. Runs on `queue`; schedules itself
    /// again if more arrived meanwhile. With `drainingAll` (before a `perform` body) it takes
    /// every record appended so far, encoded or not.
    private func flushOnce(drainingAll: Bool = false) {
        // With batches already encoded, write them at once and leave what is pending to the
        // other queue, which frames it during this sync. Only an idle pipeline encodes here.
        if drainingAll || state.withLock({ $0.encoded.isEmpty }) {
            encodePending()
        } else {
            startEncoderIfNeeded()
        }
        let limit = drainingAll ? Int.max : recordsPerSyncMax
        var (batches, wasFailed) = state.withLock { s -> ([EncodedBatch], Bool) in
            var taken: [EncodedBatch] = []
            if limit == Int.max {
                swap(&taken, &s.encoded)
            } else {
                var count = 0
                var k = 0
                while k < s.encoded.count, count + s.encoded[k].count <= limit {
                    count += s.encoded[k].count
                    k += 1
                }
                taken = Array(s.encoded[..<k])
                s.encoded.removeFirst(k)
            }
            return (taken, s.failure != nil)
        }
        let result: Result<LogIndex, RingLogError>
        let hadBatches = !batches.isEmpty
        if batches.isEmpty, state.withLock({ $0.failure == nil && $0.durableIndex == $0.lastIndex }) {
            result = .success(durableIndex)
        } else {
            result = log.withLock { log in
                do {
                    for batch in batches { try log.append(batch) }
                    recycle(&batches)
                    return .success(try log.sync())
                } catch let error as RingLogError {
                    return .failure(error)
                } catch {
                    preconditionFailure("RingLog threw a non-RingLogError: \(error)")
                }
            }
        }
        let (woken, again) = state.withLock { s -> ([(Waiter, Result<LogIndex, RingLogError>)], Bool) in
            var woken: [(Waiter, Result<LogIndex, RingLogError>)] = []
            switch result {
            case .success(let durable):
                s.durableIndex = max(s.durableIndex, durable)
                let (ready, waiting) = partition(s.waiters) { $0.target <= durable }
                s.waiters = waiting
                woken = ready.map { ($0, .success(durable)) }
            case .failure(let error):
                if s.failure == nil { s.failure = error }
                woken = s.waiters.map { ($0, .failure(s.failure ?? error)) }
                s.waiters.removeAll()
                s.pending.removeAll()
                s.pendingBytes = 0
                s.encoded.removeAll()
            }
            let again = !s.encoded.isEmpty || (!s.pending.isEmpty && !s.isEncodeScheduled)
            s.isFlushScheduled = again
            return (woken, again)
        }
        // Lower targets first: a caller waiting for i hears no later than one waiting for j > i.
        for (waiter, outcome) in woken.sorted(by: { $0.0.target < $1.0.target }) {
            waiter.wake(outcome)
        }
        if hadBatches || (result.isFailure && !wasFailed) { onDurable?(result) }
        if again { queue.async { self.flushOnce() } }
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
