import CMap
import RESP
import Replication

/// A command that is nothing but some node requests and a function of their replies, so a
/// connection can send it now and answer it later, with other commands in flight (see
/// `ClientConnectionHandler` and docs/protocol.md, Pipelining). Everything that touches the
/// session was done while preparing it (a write's request number is taken then, so request
/// numbers follow the request order).
struct PreparedCommand: Sendable {
    /// Sent in this order, one after the other.
    var requests: [ReplicatedNode.ClientRequest]
    /// Stale reads are answered from the node's applied state the moment they arrive, so
    /// one sent while an earlier write of the connection is in flight would not see it: a
    /// command with a stale read is sent only once every earlier reply is in.
    var waitsForEarlierReplies: Bool
    /// A linearizable read is answered from the state when its barrier is confirmed, which
    /// may already include writes sent after the read: a write is sent only once the reads
    /// before it are answered (`ClientConnectionHandler`).
    var hasLinearizableRead: Bool
    var hasWrite: Bool
    /// Every request is a write: the connection batches these (one request, one log entry
    /// for all the writes it parsed in a turn).
    var isOnlyWrites: Bool
    /// Every request is a linearizable read: the connection batches these (one barrier for
    /// all the reads it parsed in a turn).
    var isOnlyLinearizableReads: Bool {
        hasLinearizableRead && !hasWrite && !waitsForEarlierReplies
            && !requests.contains { if case .reconfigure = $0 { true } else { false } }
    }
    /// The reply, from the requests' replies in order (as many as `requests`).
    var reply: @Sendable ([ReplicatedNode.ClientReply]) -> RESPValue

    init(requests: [ReplicatedNode.ClientRequest], reply: @escaping @Sendable ([ReplicatedNode.ClientReply]) -> RESPValue) {
        self.requests = requests
        self.waitsForEarlierReplies = requests.contains {
            if case .read(_, .stale) = $0 { true } else { false }
        }
        self.hasLinearizableRead = requests.contains { if case .read(_, .linearizable) = $0 { true } else { false } }
        self.hasWrite = requests.contains {
            switch $0 {
            case .write, .writeBatch: true
            case .read, .reconfigure: false
            }
        }
        self.isOnlyWrites = !requests.isEmpty && requests.allSatisfy {
            if case .write = $0 { true } else { false }
        }
        self.reply = reply
    }

    /// A command answered without asking the node (PING, ECHO, an argument error).
    static func answered(_ value: RESPValue) -> PreparedCommand {
        PreparedCommand(requests: []) { _ in value }
    }

    /// One request; a failure or a store error becomes its error reply, a result is shaped.
    static func one(_ request: ReplicatedNode.ClientRequest,
                    _ shape: @escaping @Sendable (CMapResult) -> RESPValue) -> PreparedCommand {
        PreparedCommand(requests: [request]) { replies in
            switch outcome(replies[0]) {
            case .failure(let error): error
            case .success(let result): shape(result)
            }
        }
    }

    /// Several requests; the first failure is the reply, else the results are combined.
    static func many(_ requests: [ReplicatedNode.ClientRequest],
                     _ combine: @escaping @Sendable ([CMapResult]) -> RESPValue) -> PreparedCommand {
        PreparedCommand(requests: requests) { replies in
            var results: [CMapResult] = []
            results.reserveCapacity(replies.count)
            for reply in replies {
                switch outcome(reply) {
                case .failure(let error): return error
                case .success(let result): results.append(result)
                }
            }
            return combine(results)
        }
    }

    /// A node reply as a result, or the error reply a client can act on.
    static func outcome(_ reply: ReplicatedNode.ClientReply) -> Result<CMapResult, RESPValue> {
        switch reply {
        case .result(.error(let error), _): .failure(CommandReplies.storeError(error))
        case .result(let result, _): .success(result)
        case .failure(let failure): .failure(CommandReplies.failure(failure))
        case .rejected(let reason): .failure(.error("ERR request rejected: \(reason)"))
        }
    }

    static func unexpected(_ result: CMapResult, _ command: String) -> RESPValue {
        .error("ERR internal: unexpected result \(result) for \(command)")
    }
}
