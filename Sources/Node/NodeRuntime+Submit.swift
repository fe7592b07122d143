import Replication

@available(macOS 15, *)
extension NodeRuntime: PipelinedNodeService {
    /// Queues the request on the node's event loop and returns at once. NIO runs the tasks
    /// handed to one loop in the order they were handed over, so requests submitted one
    /// after the other become core events, and Totem broadcasts, in that order.
    public func submit(_ request: ReplicatedNode.ClientRequest) -> PendingReply {
        let pending = PendingReply()
        eventLoop.execute {
            guard !self.isStopped, self.isStarted else {
                pending.resume(returning: .failure(.noQuorum))
                return
            }
            let token = ClientToken(self.nextToken)
            self.nextToken &+= 1
            self.waiting[token] = pending
            self.enqueue(.core(.requested(token, request, at: self.now())))
        }
        return pending
    }
}
