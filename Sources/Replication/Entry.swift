import Basics

/// One entry of the replicated log (DESIGN.md section 4): `(index, epoch, originator,
/// requestID, op)`. The index is the same on every synced node; the epoch is the ring in
/// which Totem ordered the entry and stays with the entry when it is copied by a sync.
/// `(index, epoch)` identifies an entry: two logs holding the same pair hold the same
/// entries up to that index (the log-matching property the sync relies on).
public struct Entry: Hashable, Sendable {
    public var index: LogIndex
    public var epoch: Epoch
    /// The node whose client asked for it (the node that answers the client).
    public var originator: NodeID
    /// The originator's local request number; unique per originator incarnation.
    public var requestID: UInt64
    /// Duplicate suppression: the client's id and its own sequence number (0 = none).
    public var clientID: UInt64
    public var clientSeq: UInt64
    /// The state-machine operation, opaque to replication (CMap's encoded operation).
    /// Usually a slice of the delivered message or log record it was decoded from (no copy
    /// per entry); it keeps that storage alive while the entry is held (until applied).
    public var op: ArraySlice<UInt8>

    public init(index: LogIndex, epoch: Epoch, originator: NodeID, requestID: UInt64,
                clientID: UInt64 = 0, clientSeq: UInt64 = 0, op: ArraySlice<UInt8>) {
        self.index = index
        self.epoch = epoch
        self.originator = originator
        self.requestID = requestID
        self.clientID = clientID
        self.clientSeq = clientSeq
        self.op = op
    }

    public init(index: LogIndex, epoch: Epoch, originator: NodeID, requestID: UInt64,
                clientID: UInt64 = 0, clientSeq: UInt64 = 0, op: [UInt8]) {
        self.init(index: index, epoch: epoch, originator: originator, requestID: requestID,
                  clientID: clientID, clientSeq: clientSeq, op: op[...])
    }

    /// Field by field, the op eight bytes per step (the synthesized == compared it byte by
    /// byte; the simulator compares every applied entry with the first copy applied).
    public static func == (a: Entry, b: Entry) -> Bool {
        guard a.index == b.index, a.epoch == b.epoch, a.originator == b.originator, a.requestID == b.requestID,
              a.clientID == b.clientID, a.clientSeq == b.clientSeq, a.op.count == b.op.count else { return false }
        return a.op.withUnsafeBytes { x in
            b.op.withUnsafeBytes { y in
                var i = 0
                while x.count - i >= 8 {
                    if x.loadUnaligned(fromByteOffset: i, as: UInt64.self) != y.loadUnaligned(fromByteOffset: i, as: UInt64.self) {
                        return false
                    }
                    i += 8
                }
                while i < x.count {
                    if x[i] != y[i] { return false }
                    i += 1
                }
                return true
            }
        }
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(index)
        hasher.combine(epoch)
        hasher.combine(originator)
        hasher.combine(requestID)
        hasher.combine(clientID)
        hasher.combine(clientSeq)
        hasher.combine(op)
    }

    /// Largest op accepted in an entry: the maximum value size plus room for the key.
    public static let opBytesMax = (1 << 20) + 4096

    /// The entry's payload in a log record (index and epoch are the record's own fields).
    public func encodedPayload() -> [UInt8] {
        ExactWriter.bytes(count: Entry.payloadHeaderBytes + op.count) { w in
            w.u32(originator.rawValue)
            w.u64(requestID)
            w.u64(clientID)
            w.u64(clientSeq)
            w.blob(op)
        }
    }

    /// `encodedPayload().count`, without encoding.
    public var encodedPayloadByteCount: Int { Entry.payloadHeaderBytes + op.count }

    /// The bytes of `encodedPayload()` in two parts, without joining them: the fixed fields
    /// (built on the stack) and the op (the entry's own storage). The simulator frames its
    /// log records straight from these (building the joined payload first cost an
    /// allocation and a copy per entry on every node).
    /// Not generic: a generic method called from another module runs unspecialized, which
    /// cost more than the encoding.
    public func withEncodedPayloadParts(_ body: (_ head: UnsafeRawBufferPointer, _ op: UnsafeRawBufferPointer) -> Void) {
        // originator u32, request id, client id, client seq (u64 each), op length u32.
        var fields: (UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &fields) { f in
            f.storeBytes(of: originator.rawValue.littleEndian, toByteOffset: 0, as: UInt32.self)
            f.storeBytes(of: requestID.littleEndian, toByteOffset: 4, as: UInt64.self)
            f.storeBytes(of: clientID.littleEndian, toByteOffset: 12, as: UInt64.self)
            f.storeBytes(of: clientSeq.littleEndian, toByteOffset: 20, as: UInt64.self)
            f.storeBytes(of: UInt32(truncatingIfNeeded: op.count).littleEndian, toByteOffset: 28, as: UInt32.self)
            let head = UnsafeRawBufferPointer(rebasing: f[0..<Entry.payloadHeaderBytes])
            op.withUnsafeBytes { body(head, $0) }
        }
    }

    /// The payload's fixed fields: originator, request id, client id, client seq, op length.
    static let payloadHeaderBytes = 4 + 8 + 8 + 8 + 4

    /// The op is a slice of `payload` (no copy).
    public init(index: LogIndex, epoch: Epoch, payload: [UInt8]) throws {
        try self.init(index: index, epoch: epoch, payload: payload[...])
    }

    /// The op is a slice of `payload` (no copy).
    public init(index: LogIndex, epoch: Epoch, payload: ArraySlice<UInt8>) throws {
        var r = ByteReader(payload)
        self.index = index
        self.epoch = epoch
        originator = NodeID(try r.u32("originator"))
        requestID = try r.u64("request id")
        clientID = try r.u64("client id")
        clientSeq = try r.u64("client seq")
        op = try r.blobSlice("op", maxBytes: Entry.opBytesMax)
        try r.finish()
    }

    func encode(into w: inout ByteWriter) {
        w.u64(index.rawValue)
        w.u64(epoch.rawValue)
        w.blob(encodedPayload())
    }

    static func decode(from r: inout ByteReader) throws -> Entry {
        let index = LogIndex(try r.u64("entry index"))
        let epoch = Epoch(try r.u64("entry epoch"))
        return try Entry(index: index, epoch: epoch, payload: try r.blobSlice("entry payload", maxBytes: opBytesMax + 64))
    }
}
