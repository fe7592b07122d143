import NIOConcurrencyHelpers
import Replication

/// The reply to one request handed to a node: completed once by the node, awaited once by
/// whoever submitted it, in either order. This is what lets a connection submit a request
/// now and collect its reply later (pipelining, see `PipelinedNodeService`).
///
/// The first completion wins; later ones are ignored. A waiter whose task is cancelled
/// stops waiting with `.failure(.unknownOutcome)`: it can no longer tell what happened.
public final class PendingReply: Sendable {
    private enum State {
        case waiting(CheckedContinuation<ReplicatedNode.ClientReply, Never>?)
        case done(ReplicatedNode.ClientReply)
    }

    private let state = NIOLockedValueBox(State.waiting(nil))

    public init() {}

    /// Completes with `reply` (named like a continuation's, so the runtime's table of
    /// waiting requests can hold either).
    public func resume(returning reply: ReplicatedNode.ClientReply) {
        let waiter: CheckedContinuation<ReplicatedNode.ClientReply, Never>? = state.withLockedValue { state in
            guard case .waiting(let continuation) = state else { return nil }
            state = .done(reply)
            return continuation
        }
        waiter?.resume(returning: reply)
    }

    /// True once a reply is there (awaiting `value` will not suspend).
    public var isComplete: Bool {
        state.withLockedValue { if case .done = $0 { true } else { false } }
    }

    /// The reply; waits for it. Only one task may wait.
    public var value: ReplicatedNode.ClientReply {
        get async {
            await withTaskCancellationHandler {
                await withCheckedContinuation { continuation in
                    let ready: ReplicatedNode.ClientReply? = state.withLockedValue { state in
                        switch state {
                        case .done(let reply):
                            return reply
                        case .waiting(let existing):
                            precondition(existing == nil, "two tasks wait for the same PendingReply")
                            state = .waiting(continuation)
                            return nil
                        }
                    }
                    if let ready { continuation.resume(returning: ready) }
                }
            } onCancel: {
                resume(returning: .failure(.unknownOutcome))
            }
        }
    }
}
