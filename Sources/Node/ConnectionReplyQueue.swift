import NIOConcurrencyHelpers
import RESP
import Replication

/// The replies of one client connection, in request order, between the task that reads and
/// sends its requests and the task that writes its replies (see `ClientConnection`).
///
/// The reader appends one slot per request, after making room: at most
/// `RESPLimits.pendingRequestsMax` requests are parsed and not yet answered on the socket
/// (`RESPPendingRequests`). While there is no room the reader stops reading the socket, so
/// a client that pipelines faster than the node answers is pushed back by TCP.
///
/// The writer takes the slots queued so far, awaits each one's reply in order, writes them
/// and reports them written. Either side may end the queue: the reader `finish`es (the rest
/// is still written), the writer `close`s when the socket fails or its task is cancelled
/// (a wait of the reader's that can no longer be satisfied then throws
/// `ConnectionReplyQueue.Closed`).
final class ConnectionReplyQueue: Sendable {
    /// The answer to one request: ready, or awaiting the node's replies.
    enum Slot: Sendable {
        case ready([RESPValue])
        case pending([PendingReply], reply: @Sendable ([ReplicatedNode.ClientReply]) -> RESPValue)

        /// True when taking the replies will not wait.
        var isComplete: Bool {
            switch self {
            case .ready: true
            case .pending(let replies, _): replies.allSatisfy(\.isComplete)
            }
        }

        /// The replies to write, waiting for the node if need be.
        func replies() async -> [RESPValue] {
            switch self {
            case .ready(let values):
                return values
            case .pending(let pending, let reply):
                var replies: [ReplicatedNode.ClientReply] = []
                replies.reserveCapacity(pending.count)
                for one in pending { replies.append(await one.value) }
                return [reply(replies)]
            }
        }
    }

    /// Thrown to the reader when the writer is gone: the connection is over.
    struct Closed: Error {}

    private struct State {
        var slots: [Slot] = []
        /// Slots appended and not yet reported written.
        var unanswered: RESPPendingRequests
        var isFinished = false
        var isClosed = false
        var writer: CheckedContinuation<[Slot]?, Never>?
        /// The reader, waiting for room or for everything to be written.
        var reader: (continuation: CheckedContinuation<Bool, Never>, untilEmpty: Bool)?

        /// Resumes the waiting reader if what it waits for happened (true) or never will (false).
        mutating func readerToWake() -> (CheckedContinuation<Bool, Never>, Bool)? {
            guard let waiting = reader else { return nil }
            let ready = isReady(untilEmpty: waiting.untilEmpty)
            guard ready || isClosed else { return nil }
            reader = nil
            return (waiting.continuation, ready)
        }

        func isReady(untilEmpty: Bool) -> Bool {
            untilEmpty ? unanswered.count == 0 : !unanswered.isFull
        }
    }

    private let state: NIOLockedValueBox<State>

    init(limits: RESPLimits) {
        state = NIOLockedValueBox(State(unanswered: RESPPendingRequests(limits: limits)))
    }

    // MARK: The reader's side

    /// Returns once one more slot may be appended.
    func waitForRoom() async throws {
        try await wait(untilEmpty: false)
    }

    /// Returns once every slot appended so far is written to the socket.
    func waitUntilAllWritten() async throws {
        try await wait(untilEmpty: true)
    }

    /// Appends a slot; call `waitForRoom` first.
    func append(_ slot: Slot) {
        let writer: CheckedContinuation<[Slot]?, Never>? = state.withLockedValue { state in
            precondition(!state.isFinished, "a slot appended after finish")
            state.unanswered.requestStarted()
            if let writer = state.writer {
                state.writer = nil
                return writer
            }
            state.slots.append(slot)
            return nil
        }
        writer?.resume(returning: [slot])
    }

    /// No more slots: the writer ends once the queued ones are written.
    func finish() {
        let writer: CheckedContinuation<[Slot]?, Never>? = state.withLockedValue { state in
            state.isFinished = true
            defer { state.writer = nil }
            return state.slots.isEmpty ? state.writer : nil
        }
        writer?.resume(returning: nil)
    }

    private func wait(untilEmpty: Bool) async throws {
        // The common case, without suspending: there is room, or nothing is unanswered.
        if state.withLockedValue({ $0.isReady(untilEmpty: untilEmpty) }) { return }
        let isReady = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                let wake: (CheckedContinuation<Bool, Never>, Bool)? = state.withLockedValue { state in
                    precondition(state.reader == nil, "the reader waits twice")
                    state.reader = (continuation, untilEmpty)
                    return state.readerToWake()
                }
                if let (continuation, isReady) = wake { continuation.resume(returning: isReady) }
            }
        } onCancel: {
            close()
        }
        if !isReady { throw Closed() }
    }

    // MARK: The writer's side

    /// Every slot queued so far, in order; waits when there is none; nil when the queue is
    /// finished and empty, or closed.
    func nextSlots() async -> [Slot]? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<[Slot]?, Never>) in
                let ready: [Slot]?? = state.withLockedValue { state in
                    if state.isClosed { return .some(nil) }
                    if !state.slots.isEmpty {
                        defer { state.slots.removeAll(keepingCapacity: true) }
                        return .some(state.slots)
                    }
                    if state.isFinished { return .some(nil) }
                    state.writer = continuation
                    return nil
                }
                if let ready { continuation.resume(returning: ready) }
            }
        } onCancel: {
            close()
        }
    }

    /// `count` slots' replies went out on the socket.
    func written(_ count: Int) {
        let wake = state.withLockedValue { state in
            for _ in 0..<count { state.unanswered.replySent() }
            return state.readerToWake()
        }
        if let (continuation, isReady) = wake { continuation.resume(returning: isReady) }
    }

    /// The connection is over (the socket failed, or the task was cancelled): wakes both
    /// sides; the reader's waits throw from now on.
    func close() {
        let (writer, reader): (CheckedContinuation<[Slot]?, Never>?, (CheckedContinuation<Bool, Never>, Bool)?) =
            state.withLockedValue { state in
                state.isClosed = true
                defer { state.writer = nil }
                return (state.writer, state.readerToWake())
            }
        writer?.resume(returning: nil)
        if let (continuation, isReady) = reader { continuation.resume(returning: isReady) }
    }
}
