import NIOCore
import Replication

@available(macOS 15, *)
extension NodeRuntime: PipelinedNodeService {
    /// Queues the request on the node's event loop and returns at once. On the loop itself
    /// (a client connection served there) the request is stepped at once; from elsewhere it
    /// is handed over with `execute`. Either way requests submitted one after the other by
    /// one thread become core events, and Totem broadcasts, in that order (NIO runs the
    /// tasks handed to one loop in the order they were handed over).
    public func submit(_ request: ReplicatedNode.ClientRequest) -> PendingReply {
        let pending = PendingReply()
        accept(request, pending)
        return pending
    }

    public func submit(_ request: ReplicatedNode.ClientRequest, onReply: @escaping PendingReply.Callback) {
        accept(request, PendingReply(onReply: onReply))
    }

    public var requestEventLoop: (any EventLoop)? { eventLoop }

    private func accept(_ request: ReplicatedNode.ClientRequest, _ pending: PendingReply) {
        if eventLoop.inEventLoop {
            step(request, pending)
        } else {
            eventLoop.execute { self.step(request, pending) }
        }
    }

    private func step(_ request: ReplicatedNode.ClientRequest, _ pending: PendingReply) {
        guard !isStopped, isStarted else {
            pending.resume(returning: .failure(.noQuorum))
            return
        }
        let token = ClientToken(nextToken)
        nextToken &+= 1
        waiting[token] = pending
        enqueue(.core(.requested(token, request, at: now())))
    }
}
