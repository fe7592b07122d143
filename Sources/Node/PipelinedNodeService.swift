import CMap
import NIOConcurrencyHelpers
import NIOCore
import Replication

/// A `NodeService` that takes a request without waiting for its reply.
///
/// Ordering contract: requests submitted one after the other (from one task, or otherwise
/// ordered by happens-before) reach the node in that order. On the real node they become
/// Totem broadcasts in that order, and Totem delivers one sender's messages in the order it
/// sent them (its send queue is FIFO and a packed frame keeps its records in order), so:
/// - two writes of one connection are applied in submission order;
/// - a linearizable read submitted after a write waits for a read barrier broadcast after
///   that write (a read never joins a barrier already handed to Totem:
///   `Replica.readRequested`), so the read sees the write;
/// - a stale read is answered from the applied state when it reaches the node, so it does
///   NOT see an earlier write still in flight: callers wait for earlier replies first;
/// - a linearizable read is answered from the applied state when its barrier is confirmed,
///   which may already include writes submitted AFTER the read: callers that need a read
///   not to see their later writes (a Redis pipeline does) send a write only once the
///   reads before it are answered.
///
/// This is what lets a client connection pipeline: many of its requests in flight at
/// once, packed into the same Totem messages and covered by the same fsync.
public protocol PipelinedNodeService: NodeService {
    /// Hands `request` to the node now and returns at once; the reply arrives through the
    /// returned `PendingReply`.
    func submit(_ request: ReplicatedNode.ClientRequest) -> PendingReply

    /// Hands `request` to the node now and returns at once; `onReply` gets the reply, on
    /// whatever thread completes it. Same ordering as `submit(_:)` (the two may be mixed).
    func submit(_ request: ReplicatedNode.ClientRequest, onReply: @escaping PendingReply.Callback)

    /// The event loop the node steps its requests on, if it has one. A client server that
    /// runs its connections on this loop submits and collects replies without a thread
    /// switch (a request is then stepped from the connection's read, and its reply
    /// reaches the connection from the node's step, on the same thread).
    var requestEventLoop: (any EventLoop)? { get }

    /// Linearizable reads of `ops` behind ONE read barrier, submitted now (ordered after
    /// this caller's earlier requests, like `submit`); `onReplies` gets one reply per op,
    /// in order, once the barrier is confirmed. Every reply reflects at least the state the
    /// barrier confirmed, so each read is linearizable; a client connection sends the
    /// linearizable reads it parsed in one turn this way instead of one barrier wait, one
    /// waiting entry and one reply callback per read.
    func submitLinearizableReads(_ ops: [CMapOperation],
                                 onReplies: @escaping @Sendable ([ReplicatedNode.ClientReply]) -> Void)

    /// Takes a CPG multicast without waiting, when the node can answer it at once (its
    /// member is known and the inbox has room): `.accepted`, ordered after this connection's
    /// earlier requests. nil: the caller must take the awaited `processGroupMcast`, which
    /// also gives the refusals. Lets a pipeline of multicasts stream without a task each.
    func admitProcessGroupMcast(_ group: ProcessGroupName, connection: ConnectionID, payload: [UInt8]) -> ProcessGroupReply?
}

extension PipelinedNodeService {
    public func submit(_ request: ReplicatedNode.ClientRequest, onReply: @escaping PendingReply.Callback) {
        submit(request).whenComplete(onReply)
    }

    public var requestEventLoop: (any EventLoop)? { nil }

    /// One `submit` per op, gathered (services without a cheaper way).
    public func submitLinearizableReads(_ ops: [CMapOperation],
                                        onReplies: @escaping @Sendable ([ReplicatedNode.ClientReply]) -> Void) {
        guard !ops.isEmpty else {
            onReplies([])
            return
        }
        let gathered = NIOLockedValueBox((replies: [ReplicatedNode.ClientReply?](repeating: nil, count: ops.count),
                                          missing: ops.count))
        for (index, op) in ops.enumerated() {
            submit(.read(op, .linearizable)) { reply in
                let done: [ReplicatedNode.ClientReply]? = gathered.withLockedValue { state in
                    guard state.replies[index] == nil else { return nil }
                    state.replies[index] = reply
                    state.missing -= 1
                    return state.missing == 0 ? state.replies.map { $0 ?? .failure(.unknownOutcome) } : nil
                }
                if let done { onReplies(done) }
            }
        }
    }

    public func admitProcessGroupMcast(_ group: ProcessGroupName, connection: ConnectionID, payload: [UInt8]) -> ProcessGroupReply? {
        nil
    }
}
