import Basics

// Little-endian cursors over raw memory, used by `WireCodec`. The writer writes into a buffer
// sized exactly beforehand (so it never grows and never allocates per field); the reader
// checks every read against the end of the body and throws instead of trapping.

struct WireWriter {
    private let base: UnsafeMutableRawPointer
    private let capacity: Int
    private(set) var offset: Int

    init(_ buffer: UnsafeMutableRawBufferPointer, offset: Int = 0) {
        // Every packet has a header, so the buffer is never empty.
        guard let base = buffer.baseAddress else { preconditionFailure("WireWriter: empty buffer") }
        self.base = base
        self.capacity = buffer.count
        self.offset = offset
    }

    private mutating func reserve(_ byteCount: Int) -> Int {
        let at = offset
        precondition(at + byteCount <= capacity,
                     "WireWriter overflow: \(byteCount) bytes at \(at) of \(capacity); size computation is wrong")
        offset = at + byteCount
        return at
    }

    mutating func u8(_ value: UInt8) {
        base.storeBytes(of: value, toByteOffset: reserve(1), as: UInt8.self)
    }

    mutating func u16(_ value: UInt16) {
        base.storeBytes(of: value.littleEndian, toByteOffset: reserve(2), as: UInt16.self)
    }

    mutating func u32(_ value: UInt32) {
        base.storeBytes(of: value.littleEndian, toByteOffset: reserve(4), as: UInt32.self)
    }

    mutating func u64(_ value: UInt64) {
        base.storeBytes(of: value.littleEndian, toByteOffset: reserve(8), as: UInt64.self)
    }

    mutating func node(_ id: NodeID) { u32(id.rawValue) }

    mutating func ringID(_ id: RingID) {
        u32(id.representative.rawValue)
        u64(id.seq)
    }

    mutating func bytes(_ source: [UInt8]) {
        let at = reserve(source.count)
        source.withUnsafeBytes { raw in
            if let src = raw.baseAddress, raw.count > 0 {
                (base + at).copyMemory(from: src, byteCount: raw.count)
            }
        }
    }
}

struct WireReader {
    private let base: UnsafeRawBufferPointer
    private(set) var offset: Int
    private let end: Int

    /// Reads `buffer[offset..<end]`; the caller has checked `offset <= end <= buffer.count`.
    init(_ buffer: UnsafeRawBufferPointer, offset: Int, end: Int) {
        self.base = buffer
        self.offset = offset
        self.end = end
    }

    var remaining: Int { end &- offset }

    /// Throws `.bodyTooShort` unless `byteCount` more bytes are there.
    func require(_ byteCount: Int) throws(WireRejection) {
        guard byteCount >= 0, byteCount <= remaining else { throw .bodyTooShort }
    }

    private mutating func take(_ byteCount: Int) throws(WireRejection) -> Int {
        try require(byteCount)
        let at = offset
        offset = at &+ byteCount
        return at
    }

    mutating func u8() throws(WireRejection) -> UInt8 {
        base[try take(1)]
    }

    mutating func u16() throws(WireRejection) -> UInt16 {
        UInt16(littleEndian: base.loadUnaligned(fromByteOffset: try take(2), as: UInt16.self))
    }

    mutating func u32() throws(WireRejection) -> UInt32 {
        UInt32(littleEndian: base.loadUnaligned(fromByteOffset: try take(4), as: UInt32.self))
    }

    mutating func u64() throws(WireRejection) -> UInt64 {
        UInt64(littleEndian: base.loadUnaligned(fromByteOffset: try take(8), as: UInt64.self))
    }

    /// A node that must be named: 0 is rejected.
    mutating func node() throws(WireRejection) -> NodeID {
        let raw = try u32()
        guard raw != 0 else { throw .zeroNodeID }
        return NodeID(raw)
    }

    /// A ring id. Its representative may be 0: the contract (Messages.swift) does not forbid
    /// a placeholder ring id such as a node's "no ring yet".
    mutating func ringID() throws(WireRejection) -> RingID {
        let representative = try u32()
        let seq = try u64()
        return RingID(representative: NodeID(representative), seq: seq)
    }

    /// All the bytes up to the end of the body.
    mutating func rest() -> [UInt8] {
        let at = offset
        let count = end &- at
        offset = end
        guard count > 0, let source = base.baseAddress else { return [] }
        // One memcpy; `Array(base[at..<end])` would copy byte by byte.
        return [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            if let target = buffer.baseAddress {
                UnsafeMutableRawPointer(target).copyMemory(from: source + at, byteCount: count)
            }
            initialized = count
        }
    }
}
