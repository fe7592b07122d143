import CMap
import NIOCore
import Replication

@available(macOS 15, *)
extension NodeRuntime {
    /// One read barrier for all of `ops`: the first op is submitted as a linearizable read
    /// (its barrier is ordered after every request submitted before it, and confirmed by a
    /// majority), and when it is answered the others are read from the applied state of
    /// that moment, which holds everything the barrier confirmed (and perhaps later
    /// committed writes: still within the reads' request-reply interval, so linearizable).
    /// The reply arrives on the loop (`waiting` is loop-confined), where `core` may be read.
    public func submitLinearizableReads(_ ops: [CMapOperation],
                                        onReplies: @escaping @Sendable ([ReplicatedNode.ClientReply]) -> Void) {
        guard let first = ops.first else {
            onReplies([])
            return
        }
        guard ops.count > 1 else {
            submit(.read(first, .linearizable)) { onReplies([$0]) }
            return
        }
        submit(.read(first, .linearizable)) { reply in
            guard case .result = reply else {
                // Not confirmed (no quorum, timed out, stopped): no read of the batch was.
                onReplies(Array(repeating: reply, count: ops.count))
                return
            }
            self.eventLoop.preconditionInEventLoop()
            let state = self.core.store.state
            var replies: [ReplicatedNode.ClientReply] = []
            replies.reserveCapacity(ops.count)
            replies.append(reply)
            for op in ops.dropFirst() {
                replies.append(op.isWrite ? .rejected("a write cannot be served as a read")
                                          : .result(ReplicatedNode.read(op, in: state), index: state.appliedIndex))
            }
            onReplies(replies)
        }
    }
}
