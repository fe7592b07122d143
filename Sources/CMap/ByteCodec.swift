/// Why bytes could not be decoded into an operation, a result or a snapshot body. Decoding
/// untrusted bytes ends here, never in a trap.
public struct CMapDecodingError: Error, Equatable, Sendable, CustomStringConvertible {
    public var offset: Int
    public var reason: String
    public init(offset: Int, reason: String) {
        self.offset = offset
        self.reason = reason
    }
    public var description: String { "cannot decode CMap data at offset \(offset): \(reason)" }
}

/// Little-endian appender.
struct ByteWriter {
    var bytes: [UInt8] = []

    init(reservingCapacity capacity: Int = 64) { bytes.reserveCapacity(capacity) }

    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u16(_ v: UInt16) { append(v) }
    mutating func u32(_ v: UInt32) { append(v) }
    mutating func u64(_ v: UInt64) { append(v) }

    /// Byte by byte: `append(contentsOf:)` of a raw buffer takes a generic path that costs
    /// more than the bytes themselves at these sizes.
    @inline(__always)
    private mutating func append<T: FixedWidthInteger>(_ v: T) {
        var x = v
        for _ in 0..<MemoryLayout<T>.size {
            bytes.append(UInt8(truncatingIfNeeded: x))
            x >>= 8
        }
    }

    mutating func raw(_ b: [UInt8]) { bytes.append(contentsOf: b) }
}

/// Bounds-checked little-endian reader over untrusted bytes; every read throws
/// `CMapDecodingError` instead of reading past the end. Offsets count from the start of the
/// bytes read, whether they are an array or a slice (an entry's op is a slice of the
/// delivered message or log record).
struct ByteReader {
    let bytes: ArraySlice<UInt8>
    private(set) var offset: Int

    init(_ bytes: [UInt8], offset: Int = 0) {
        self.bytes = bytes[...]
        self.offset = offset
    }

    init(_ bytes: ArraySlice<UInt8>, offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
    }

    /// Moves past `count` bytes the caller has checked are there (a programmer error
    /// otherwise). Cheaper than building a new reader at the new offset, which retains and
    /// releases the bytes.
    mutating func skip(_ count: Int) {
        precondition(count >= 0 && count <= remaining, "skip \(count) of \(remaining) bytes")
        offset += count
    }

    /// The next byte, not consumed; nil at the end.
    var peek: UInt8? { offset < bytes.count ? bytes[bytes.startIndex + offset] : nil }

    var remaining: Int { bytes.count - offset }
    var isAtEnd: Bool { offset == bytes.count }

    func fail(_ reason: String) -> CMapDecodingError { CMapDecodingError(offset: offset, reason: reason) }

    /// By subscript: a slice's `withUnsafeBytes` (as `integer` reads) costs more than the
    /// byte itself, and tags and lengths are read a byte at a time.
    mutating func u8() throws(CMapDecodingError) -> UInt8 {
        guard offset < bytes.count else { throw fail("1 bytes needed, 0 left") }
        let v = bytes[bytes.startIndex &+ offset]
        offset &+= 1
        return v
    }
    mutating func u16() throws(CMapDecodingError) -> UInt16 { try integer() }
    mutating func u32() throws(CMapDecodingError) -> UInt32 { try integer() }
    mutating func u64() throws(CMapDecodingError) -> UInt64 { try integer() }

    @inline(__always)
    private mutating func integer<T: FixedWidthInteger>() throws(CMapDecodingError) -> T {
        let size = MemoryLayout<T>.size
        guard remaining >= size else {
            throw fail("\(size) bytes needed, \(remaining) left")
        }
        let v = bytes.withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: T.self)) }
        offset += size
        return v
    }

    mutating func raw(_ count: Int) throws(CMapDecodingError) -> [UInt8] {
        guard count >= 0, remaining >= count else {
            throw fail("\(count) bytes needed, \(remaining) left")
        }
        // Through a buffer pointer: one memcpy (copying an array slice takes a generic path).
        let start = offset
        let r = bytes.withUnsafeBufferPointer { Array(UnsafeBufferPointer(rebasing: $0[start..<(start + count)])) }
        offset += count
        return r
    }

    /// Throws unless every byte was consumed.
    func expectEnd() throws(CMapDecodingError) {
        if !isAtEnd { throw fail("\(remaining) unexpected bytes after the end") }
    }
}
