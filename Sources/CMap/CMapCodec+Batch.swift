import Basics

/// What one log entry's op holds: one operation, or a write batch (several client writes
/// carried by one entry, applied in order at its index: `CMapStateMachine.applyBatch`).
public enum CMapEntryOperation: Equatable, Sendable {
    case single(CMapOperation)
    case batch([CMapOperation])
}

/// The write-batch encoding (docs/replication.md, "The op of an entry"): the codec version
/// byte, tag 10, the count (u16, 1...`CMapBatch.operationsMax`), then each operation as in
/// a single op but without the version byte (tag and fields: every field has its length, so
/// the operations need no framing of their own). Only writes may be in a batch. Single
/// operations keep their encoding, so logs and snapshots written before batches existed
/// read the same; a node that does not know tag 10 cannot apply a batch (every node of a
/// cluster must run a version that does before any client pipelines writes).
extension CMapCodec {
    static let batchTag: UInt8 = 10

    /// Why `ops` cannot be a batch, or nil: at least one and at most
    /// `CMapBatch.operationsMax` operations, all writes.
    public static func batchProblem(_ ops: [CMapOperation]) -> String? {
        guard !ops.isEmpty else { return "an empty write batch" }
        guard ops.count <= CMapBatch.operationsMax else {
            return "a write batch of \(ops.count) operations (the limit is \(CMapBatch.operationsMax))"
        }
        // Through a buffer pointer, whose elements are borrowed: `for op in ops` (or a key
        // path) copies each operation, a retain and a release of its key and value.
        let allWrites = ops.withUnsafeBufferPointer { buffer in buffer.indices.allSatisfy { buffer[$0].isWrite } }
        return allWrites ? nil : "a read in a write batch"
    }

    /// The batch's op bytes. `ops` must pass `batchProblem` (a programmer error otherwise).
    public static func encodeBatch(_ ops: [CMapOperation]) -> [UInt8] {
        if let problem = batchProblem(ops) { preconditionFailure("CMapCodec.encodeBatch: \(problem)") }
        return ops.withUnsafeBufferPointer { buffer in
            // Elements borrowed, not copied (see `batchProblem`).
            var capacity = 4
            for i in buffer.indices { capacity += encodedBytesEstimate(buffer[i]) }
            var w = ByteWriter(reservingCapacity: capacity)
            w.u8(operationVersion)
            w.u8(batchTag)
            w.u16(UInt16(buffer.count))
            for i in buffer.indices { w.operation(buffer[i]) }
            return w.bytes
        }
    }

    /// An entry's op: a single operation or a batch. Throws on anything malformed (a bad
    /// count, a read or an unknown tag inside a batch, bytes left over).
    public static func decodeEntryOperation(_ bytes: [UInt8]) throws(CMapDecodingError) -> CMapEntryOperation {
        try decodeEntryOperation(bytes[...])
    }

    /// As `decodeEntryOperation(_: [UInt8])`, reading the slice in place.
    public static func decodeEntryOperation(_ bytes: ArraySlice<UInt8>) throws(CMapDecodingError) -> CMapEntryOperation {
        var r = ByteReader(bytes)
        try r.operationVersion()
        guard r.peek == batchTag else {
            let op = try r.operation()
            try r.expectEnd()
            return .single(op)
        }
        _ = try r.u8()
        let countAt = r.offset
        let n = Int(try r.u16())
        // Each operation takes at least 3 bytes (tag, key length, a key byte).
        guard n >= 1, n <= CMapBatch.operationsMax, n <= r.remaining / 3 else {
            throw CMapDecodingError(offset: countAt, reason: "write batch of \(n) operations in \(r.remaining) bytes")
        }
        var ops: [CMapOperation] = []
        ops.reserveCapacity(n)
        for _ in 0..<n {
            let at = r.offset
            let op = try r.operation()
            guard op.isWrite else { throw CMapDecodingError(offset: at, reason: "a read in a write batch") }
            ops.append(op)
        }
        try r.expectEnd()
        return .batch(ops)
    }
}
