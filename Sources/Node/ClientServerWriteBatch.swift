import CMap
import Replication

/// The writes one connection parsed in one turn, not sent yet: they go to the node as ONE
/// request (`ReplicatedNode.ClientRequest.writeBatch`: one Totem message, one log entry, one
/// duplicate-table record, one reply), and each op's answer goes back to request `index`
/// of reply slot `slot` (docs/protocol.md, Pipelining). Sent when the turn's parsing ends,
/// before any other request of the connection, or when full.
struct WriteBatch: Sendable {
    /// Most writes in one batch (a `redis-benchmark -P 16` pipeline is 16).
    static let operationsMax = 64
    /// Most encoded bytes of one batch (estimated per op); a write larger than this goes
    /// alone. Well under `CMapBatch.encodedBytesMax`.
    static let bytesMax = 64 << 10

    private(set) var ops: [CMapOperation] = []
    /// Where each op's answer goes: request `index` of reply slot `slot`.
    private var targets: [(slot: UInt64, index: Int)] = []
    private var bytes = 0
    /// The connection's client id, and the request number of the last write appended (a
    /// batch is one request; its number is its last write's, so numbers still grow).
    private var clientID: UInt64 = 0
    private var clientSeq: UInt64 = 0

    var isEmpty: Bool { ops.isEmpty }
    var count: Int { ops.count }

    /// `op` can be batched: a write outside the reserved keys (the node refuses those one
    /// by one, so they go alone).
    static func isBatchable(_ op: CMapOperation) -> Bool {
        op.isWrite && !ReconfigurationEntry.touchesReservedKey(op)
    }

    /// Whether `op` fits (else the batch is sent first).
    func hasRoom(for op: CMapOperation, clientID: UInt64) -> Bool {
        ops.isEmpty || (ops.count < Self.operationsMax && self.clientID == clientID
                        && bytes + CMapCodec.encodedBytesEstimate(op) <= Self.bytesMax)
    }

    mutating func append(_ op: CMapOperation, clientID: UInt64, clientSeq: UInt64, slot: UInt64, index: Int) {
        precondition(hasRoom(for: op, clientID: clientID), "WriteBatch.append past its bounds")
        // Grown when a second write comes: a lone write (no pipeline) allocates no more
        // than it must.
        if ops.isEmpty {
            self.clientID = clientID
        } else if ops.count == 1 {
            ops.reserveCapacity(16)
            targets.reserveCapacity(16)
        }
        ops.append(op)
        targets.append((slot, index))
        bytes += CMapCodec.encodedBytesEstimate(op)
        self.clientSeq = clientSeq
    }

    /// The request to send: a plain write for a single op (the format of an unbatched
    /// write), a batch for more.
    var request: ReplicatedNode.ClientRequest {
        precondition(!ops.isEmpty, "WriteBatch.request of an empty batch")
        return ops.count == 1 ? .write(ops[0], clientID: clientID, clientSeq: clientSeq)
            : .writeBatch(ops, clientID: clientID, clientSeq: clientSeq)
    }

    /// Where the answer to write `position` goes.
    func target(_ position: Int) -> (slot: UInt64, index: Int) { targets[position] }

    /// Each write's answer from the node's reply to `request`: its own result of a batch's,
    /// or the batch's failure or refusal (which is every write's).
    func answers(_ reply: ReplicatedNode.ClientReply) -> [ReplicatedNode.ClientReply] {
        if ops.count == 1 { return [reply] }
        switch reply {
        case .result(.batch(let results), let index) where results.count == ops.count:
            return results.map { .result($0, index: index) }
        case .result(let other, _):
            return Array(repeating: .rejected("internal: a write batch of \(ops.count) answered with \(other)"),
                         count: ops.count)
        case .failure, .rejected:
            return Array(repeating: reply, count: ops.count)
        }
    }

    /// The batch, leaving this one empty.
    mutating func take() -> WriteBatch {
        defer { self = WriteBatch() }
        return self
    }
}
