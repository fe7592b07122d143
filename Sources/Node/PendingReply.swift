import NIOConcurrencyHelpers
import Replication

/// The reply to one request handed to a node: completed once by the node, collected once by
/// whoever submitted it, in either order, by awaiting `value` or through a callback
/// (`whenComplete`). This is what lets a connection submit a request now and collect its
/// reply later (pipelining, see `PipelinedNodeService`).
///
/// The first completion wins; later ones are ignored. A waiter whose task is cancelled
/// stops waiting with `.failure(.unknownOutcome)`: it can no longer tell what happened.
public final class PendingReply: Sendable {
    public typealias Callback = @Sendable (ReplicatedNode.ClientReply) -> Void

    private enum State {
        case waiting(CheckedContinuation<ReplicatedNode.ClientReply, Never>?)
        case callback(Callback)
        case done(ReplicatedNode.ClientReply)
    }

    private let state: NIOLockedValueBox<State>

    public init() {
        state = NIOLockedValueBox(.waiting(nil))
    }

    /// A reply handed to `onReply` when it completes, on the completer's thread: the client
    /// server uses this so a reply reaches its connection without a task switch.
    public init(onReply: @escaping Callback) {
        state = NIOLockedValueBox(.callback(onReply))
    }

    /// Completes with `reply` (named like a continuation's, so the runtime's table of
    /// waiting requests can hold either).
    public func resume(returning reply: ReplicatedNode.ClientReply) {
        let waiter: State? = state.withLockedValue { state in
            switch state {
            case .done: return nil
            case .waiting, .callback:
                defer { state = .done(reply) }
                return state
            }
        }
        switch waiter {
        case .waiting(let continuation?): continuation.resume(returning: reply)
        case .callback(let callback): callback(reply)
        case .waiting(nil), .done, nil: break
        }
    }

    /// Hands the reply to `callback` once it is there (at once if it already is). Instead
    /// of awaiting `value`: only one of the two may be used, once.
    public func whenComplete(_ callback: @escaping Callback) {
        let ready: ReplicatedNode.ClientReply? = state.withLockedValue { state in
            switch state {
            case .done(let reply):
                return reply
            case .waiting(let existing):
                precondition(existing == nil, "a PendingReply awaited and given a callback")
                state = .callback(callback)
                return nil
            case .callback:
                preconditionFailure("two callbacks for the same PendingReply")
            }
        }
        if let ready { callback(ready) }
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
                        case .callback:
                            preconditionFailure("a PendingReply given a callback and awaited")
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
