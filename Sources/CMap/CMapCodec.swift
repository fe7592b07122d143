import Basics

/// The compact binary codec of operations and results: what the replication layer stores in
/// a log entry, and what the duplicate-request table and snapshots keep. Little-endian; an
/// operation starts with a codec version byte so the log format can evolve. Decoding bad
/// bytes throws `CMapDecodingError`, never traps, and allocates at most what the input holds.
public enum CMapCodec {
    public static let operationVersion: UInt8 = 1
    /// A hard limit on one decoded string or binary value, whatever the configuration says.
    public static let absoluteMaxValueBytes = 64 << 20
    /// A hard limit on the items of one decoded listing page.
    public static let absoluteMaxListItems = 1 << 20

    // MARK: Operations

    public static func encode(_ op: CMapOperation) -> [UInt8] {
        var w = ByteWriter(reservingCapacity: encodedBytesEstimate(op))
        w.u8(operationVersion)
        w.operation(op)
        return w.bytes
    }

    /// A single operation. A write batch's bytes (`encodeBatch`) are refused here: an entry's
    /// op is decoded with `decodeEntryOperation`, which takes both.
    public static func decodeOperation(_ bytes: [UInt8]) throws(CMapDecodingError) -> CMapOperation {
        var r = ByteReader(bytes)
        try r.operationVersion()
        if r.peek == batchTag {
            throw CMapDecodingError(offset: 1, reason: "a write batch where one operation was expected")
        }
        let op = try r.operation()
        try r.expectEnd()
        return op
    }

    /// An upper bound of `encode(op).count` for the common writes (the buffer is reserved
    /// once); a guess for the others.
    public static func encodedBytesEstimate(_ op: CMapOperation) -> Int {
        switch op {
        case .set(let k, let v), .compareAndSet(let k, _, let v), .getOrDefault(let k, let v):
            24 + k.count + v.byteCount
        default:
            64
        }
    }

    // MARK: Results

    public static func encode(_ result: CMapResult) -> [UInt8] {
        var w = ByteWriter()
        w.result(result)
        return w.bytes
    }

    public static func decodeResult(_ bytes: [UInt8]) throws(CMapDecodingError) -> CMapResult {
        var r = ByteReader(bytes)
        let result = try r.result()
        try r.expectEnd()
        return result
    }
}

extension ByteWriter {
    /// An operation's tag and fields (after the codec version byte, or inside a batch).
    mutating func operation(_ op: CMapOperation) {
        switch op {
        case .get(let k):
            u8(1); key(k)
        case .getOrDefault(let k, let v):
            u8(2); key(k); value(v)
        case .set(let k, let v):
            u8(3); key(k); value(v)
        case .delete(let k):
            u8(4); key(k)
        case .adjust(let k, let delta):
            u8(5); key(k); u64(UInt64(bitPattern: delta))
        case .incrementBy(let k, let delta):
            u8(6); key(k); u64(UInt64(bitPattern: delta))
        case .compareAndSet(let k, let expected, let v):
            u8(7); key(k); u64(expected.rawValue); value(v)
        case .count(let p):
            u8(8); prefix(p)
        case .list(let p, let cursor, let limit):
            u8(9); prefix(p); optionalKey(cursor); u32(limit)
        }
    }

    mutating func key(_ k: CMapKey) {
        u8(UInt8(k.count))
        k.appendBytes(to: &bytes)
    }

    mutating func optionalKey(_ k: CMapKey?) {
        if let k { key(k) } else { u8(0) }
    }

    mutating func prefix(_ p: CMapPrefix) {
        u8(UInt8(p.bytes.count))
        raw(p.bytes)
    }

    mutating func text(_ s: String) {
        let b = Array(s.utf8.prefix(Int(UInt16.max)))
        u16(UInt16(b.count))
        raw(b)
    }

    mutating func value(_ v: CMapValue) {
        u8(v.type.rawValue)
        switch v {
        case .int8(let x): u8(UInt8(bitPattern: x))
        case .uint8(let x): u8(x)
        case .int16(let x): u16(UInt16(bitPattern: x))
        case .uint16(let x): u16(x)
        case .int32(let x): u32(UInt32(bitPattern: x))
        case .uint32(let x): u32(x)
        case .int64(let x): u64(UInt64(bitPattern: x))
        case .uint64(let x): u64(x)
        case .float(let x): u32(x.bitPattern)
        case .double(let x): u64(x.bitPattern)
        case .string(let b), .binary(let b):
            u32(UInt32(b.count))
            raw(b)
        }
    }

    mutating func result(_ result: CMapResult) {
        switch result {
        case .ok: u8(1)
        case .value(let v, let version): u8(2); value(v); u64(version.rawValue)
        case .notFound: u8(3)
        case .integer(let i): u8(4); u64(UInt64(bitPattern: i))
        case .count(let n): u8(5); u64(n)
        case .list(let items, let cursor):
            u8(6)
            u32(UInt32(items.count))
            for item in items {
                key(item.key); value(item.entry.value); u64(item.entry.version.rawValue)
            }
            optionalKey(cursor)
        case .versionMismatch(let current): u8(7); u64(current.rawValue)
        case .error(let e): u8(8); error(e)
        case .batch(let results):
            u8(9)
            u32(UInt32(truncatingIfNeeded: results.count))
            for r in results { self.result(r) }
        }
    }

    mutating func error(_ e: CMapError) {
        switch e {
        case .invalidKey(let reason): u8(1); text(reason)
        case .valueTooLarge(let bytes, let limit): u8(2); u64(UInt64(bytes)); u64(UInt64(limit))
        case .wrongType(let k, let type, let operation): u8(3); key(k); u8(type.rawValue); text(operation)
        case .notAnInteger(let k): u8(4); key(k)
        case .incrementOverflow(let k): u8(5); key(k)
        case .staleRequest(let client, let requestID, let last):
            u8(6); u64(client.rawValue); u64(requestID); u64(last)
        case .badPageSize(let requested, let maximum): u8(7); u32(requested); u32(maximum)
        case .badValue(let type, let reason): u8(8); u8(type.rawValue); text(reason)
        }
    }
}

extension ByteReader {
    mutating func operationVersion() throws(CMapDecodingError) {
        let version = try u8()
        guard version == CMapCodec.operationVersion else {
            throw CMapDecodingError(offset: offset - 1, reason: "unknown operation codec version \(version)")
        }
    }

    /// An operation's tag and fields (`ByteWriter.operation`).
    mutating func operation() throws(CMapDecodingError) -> CMapOperation {
        let at = offset
        let tag = try u8()
        switch tag {
        case 1: return .get(try key())
        case 2: return .getOrDefault(try key(), defaultValue: try value())
        case 3: return .set(try key(), try value())
        case 4: return .delete(try key())
        case 5: return .adjust(try key(), by: Int64(bitPattern: try u64()))
        case 6: return .incrementBy(try key(), by: Int64(bitPattern: try u64()))
        case 7:
            let k = try key()
            let expected = LogIndex(try u64())
            return .compareAndSet(k, expectedVersion: expected, value: try value())
        case 8: return .count(try prefix())
        case 9: return .list(try prefix(), after: try optionalKey(), limit: try u32())
        default: throw CMapDecodingError(offset: at, reason: "unknown operation tag \(tag)")
        }
    }

    /// Checked and built from the bytes in place: a key of up to 24 bytes needs no array
    /// (copying the bytes out first and freeing them cost more than the rest of decoding an
    /// operation). Errors are those of validating the copied bytes.
    mutating func key() throws(CMapDecodingError) -> CMapKey {
        let at = offset
        let count = Int(try u8())
        guard remaining >= count else { throw fail("\(count) bytes needed, \(remaining) left") }
        let start = offset
        let key: CMapKey? = bytes.withUnsafeBytes { all in
            let b = UnsafeRawBufferPointer(rebasing: all[start..<(start + count)])
            // A length byte cannot exceed `CMapKey.maxBytes`; emptiness and bytes remain.
            guard count > 0 else { return nil }
            // Eight bytes at a time, without a branch per byte: keys are valid but for
            // corrupt input.
            return CMapKey.allKeyBytes(b) ? CMapKey(decodedUnchecked: b) : nil
        }
        guard let key else {
            let problem = CMapKey.problem(with: Array(bytes.dropFirst(start).prefix(count)), allowEmpty: false)
            throw CMapDecodingError(offset: at, reason: problem ?? "invalid key")
        }
        skip(count)
        return key
    }

    mutating func optionalKey() throws(CMapDecodingError) -> CMapKey? {
        if peek == 0 {
            _ = try u8()
            return nil
        }
        return try key()
    }

    mutating func prefix() throws(CMapDecodingError) -> CMapPrefix {
        let at = offset
        let b = try raw(Int(try u8()))
        if let problem = CMapKey.problem(with: b, allowEmpty: true) {
            throw CMapDecodingError(offset: at, reason: problem)
        }
        return CMapPrefix(unchecked: b)
    }

    mutating func text() throws(CMapDecodingError) -> String {
        String(decoding: try raw(Int(try u16())), as: UTF8.self)
    }

    mutating func valueType() throws(CMapDecodingError) -> CMapValueType {
        let tag = try u8()
        guard let type = CMapValueType(rawValue: tag) else { throw fail("unknown value type \(tag)") }
        return type
    }

    mutating func value() throws(CMapDecodingError) -> CMapValue {
        switch try valueType() {
        case .int8: return .int8(Int8(bitPattern: try u8()))
        case .uint8: return .uint8(try u8())
        case .int16: return .int16(Int16(bitPattern: try u16()))
        case .uint16: return .uint16(try u16())
        case .int32: return .int32(Int32(bitPattern: try u32()))
        case .uint32: return .uint32(try u32())
        case .int64: return .int64(Int64(bitPattern: try u64()))
        case .uint64: return .uint64(try u64())
        case .float: return .float(Float(bitPattern: try u32()))
        case .double: return .double(Double(bitPattern: try u64()))
        case .string: return .string(try boundedBytes())
        case .binary: return .binary(try boundedBytes())
        }
    }

    private mutating func boundedBytes() throws(CMapDecodingError) -> [UInt8] {
        let n = Int(try u32())
        guard n <= CMapCodec.absoluteMaxValueBytes else {
            throw fail("value of \(n) bytes exceeds the hard limit of \(CMapCodec.absoluteMaxValueBytes)")
        }
        return try raw(n)
    }

    /// A result; a batch's results (tag 9) only at the top level, at most
    /// `CMapBatch.operationsMax` of them.
    mutating func result(allowingBatch: Bool = true) throws(CMapDecodingError) -> CMapResult {
        let tag = try u8()
        switch tag {
        case 1: return .ok
        case 2: return .value(try value(), version: LogIndex(try u64()))
        case 3: return .notFound
        case 4: return .integer(Int64(bitPattern: try u64()))
        case 5: return .count(try u64())
        case 6:
            let n = Int(try u32())
            // Each item takes at least 12 bytes, so a huge count in a short input fails early.
            guard n <= CMapCodec.absoluteMaxListItems, n <= remaining / 12 else {
                throw fail("listing of \(n) items in \(remaining) bytes")
            }
            var items: [CMapListItem] = []
            items.reserveCapacity(n)
            for _ in 0..<n {
                let k = try key()
                let v = try value()
                items.append(CMapListItem(key: k, entry: CMapEntry(value: v, version: LogIndex(try u64()))))
            }
            return .list(items, nextCursor: try optionalKey())
        case 7: return .versionMismatch(current: LogIndex(try u64()))
        case 8: return .error(try error())
        case 9 where allowingBatch:
            let n = Int(try u32())
            // Each result takes at least 1 byte.
            guard n >= 1, n <= CMapBatch.operationsMax, n <= remaining else {
                throw fail("batch of \(n) results in \(remaining) bytes")
            }
            var results: [CMapResult] = []
            results.reserveCapacity(n)
            for _ in 0..<n { results.append(try result(allowingBatch: false)) }
            return .batch(results)
        case 9: throw fail("a batch of results inside a batch")
        default: throw fail("unknown result tag \(tag)")
        }
    }

    mutating func error() throws(CMapDecodingError) -> CMapError {
        let tag = try u8()
        switch tag {
        case 1: return .invalidKey(try text())
        case 2: return .valueTooLarge(bytes: Int(clamping: try u64()), limitBytes: Int(clamping: try u64()))
        case 3: return .wrongType(key: try key(), type: try valueType(), operation: try text())
        case 4: return .notAnInteger(key: try key())
        case 5: return .incrementOverflow(key: try key())
        case 6:
            return .staleRequest(client: ClientID(try u64()), requestID: try u64(), lastRequestID: try u64())
        case 7: return .badPageSize(requested: try u32(), maximum: try u32())
        case 8: return .badValue(type: try valueType(), reason: try text())
        default: throw fail("unknown error tag \(tag)")
        }
    }
}

extension CMapKey {
    /// As `init(unchecked:)` (the same representation), from bytes the decoder checked.
    init(decodedUnchecked b: UnsafeRawBufferPointer) {
        // Big-endian words, zero-padded: the bytes present are copied into the word's
        // first bytes in memory, which the byte order then makes the most significant.
        // Inlined: as a call, the three words cost more than checking the key's bytes.
        @inline(__always)
        func word(_ at: Int) -> UInt64 {
            let n = b.count &- at
            if n >= 8 { return UInt64(bigEndian: b.loadUnaligned(fromByteOffset: at, as: UInt64.self)) }
            if n <= 0 { return 0 }
            var w: UInt64 = 0
            withUnsafeMutableBytes(of: &w) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: b[at..<(at + n)])) }
            return UInt64(bigEndian: w)
        }
        w0 = word(0)
        w1 = word(8)
        w2 = word(16)
        tail = b.count > Self.inlineBytes ? Array(b[Self.inlineBytes...]) : []
        count = b.count
    }
}
