/// Little-endian writers and bounds-checked readers for the replication messages and
/// entries. Reading never traps: a short or malformed buffer is a thrown `DecodeError`.
struct ByteWriter {
    var bytes: [UInt8] = []
    init(capacity: Int = 64) { bytes.reserveCapacity(capacity) }

    mutating func u8(_ v: UInt8) { bytes.append(v) }
    // Byte by byte: `append(contentsOf:)` of a raw buffer takes a generic path that costs
    // more than the bytes themselves at these sizes.
    mutating func u32(_ v: UInt32) { for k in 0..<4 { bytes.append(UInt8(truncatingIfNeeded: v >> (8 * UInt32(k)))) } }
    mutating func u64(_ v: UInt64) { for k in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(k)))) } }
    mutating func blob(_ v: [UInt8]) {
        u32(UInt32(v.count))
        bytes.append(contentsOf: v)
    }
}

/// Writes an encoding whose length is known before it starts: one allocation of exactly
/// that size, fixed-size fields gathered in a small inline buffer and copied in one go (the
/// growing `ByteWriter` checks capacity per byte, and these encodings run for every write
/// on every node). `Array(unsafeUninitializedCapacity:)` would look up the array's generic
/// metadata on every call, which costs more than the copying.
struct ExactWriter {
    private(set) var bytes: [UInt8] = []
    /// Fixed-size fields not yet copied into `bytes`.
    private var scratch: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)
    private var scratchCount = 0
    private static let scratchBytes = 64

    private init(capacity: Int) { bytes.reserveCapacity(capacity) }

    /// Exactly `count` bytes; `body` must write all of them.
    static func bytes(count: Int, _ body: (inout ExactWriter) -> Void) -> [UInt8] {
        var w = ExactWriter(capacity: count)
        body(&w)
        w.flush()
        precondition(w.bytes.count == count, "encoded \(w.bytes.count) bytes of \(count)")
        return w.bytes
    }

    private mutating func flush() {
        guard scratchCount > 0 else { return }
        let n = scratchCount
        withUnsafeBytes(of: &scratch) { raw in bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: raw[0..<n])) }
        scratchCount = 0
    }

    private mutating func store<T: FixedWidthInteger>(_ v: T) {
        if scratchCount + MemoryLayout<T>.size > Self.scratchBytes { flush() }
        let at = scratchCount
        withUnsafeMutableBytes(of: &scratch) { $0.storeBytes(of: v.littleEndian, toByteOffset: at, as: T.self) }
        scratchCount += MemoryLayout<T>.size
    }

    mutating func u8(_ v: UInt8) { store(v) }
    mutating func u32(_ v: UInt32) { store(v) }
    mutating func u64(_ v: UInt64) { store(v) }
    /// Length (u32) and bytes, as `ByteWriter.blob`.
    mutating func blob(_ v: [UInt8]) { blob(v[...]) }
    mutating func blob(_ v: ArraySlice<UInt8>) {
        store(UInt32(v.count))
        flush()
        v.withUnsafeBytes { bytes.append(contentsOf: $0) }
    }
}

public struct DecodeError: Error, Equatable, Sendable, CustomStringConvertible {
    public var reason: String
    public var offset: Int
    public var description: String { "malformed replication data at byte \(offset): \(reason)" }
}

/// Offsets count from the start of the bytes read, whether they are an array or a slice.
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

    var remaining: Int { bytes.count - offset }

    mutating func need(_ n: Int, _ what: String) throws {
        if n < 0 || remaining < n { throw DecodeError(reason: "truncated \(what)", offset: offset) }
    }
    mutating func u8(_ what: String) throws -> UInt8 {
        try need(1, what)
        defer { offset += 1 }
        return bytes[bytes.startIndex + offset]
    }
    mutating func u32(_ what: String) throws -> UInt32 {
        try need(4, what)
        let at = offset
        let v = bytes.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: at, as: UInt32.self)) }
        offset += 4
        return v
    }
    mutating func u64(_ what: String) throws -> UInt64 {
        try need(8, what)
        let at = offset
        let v = bytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: at, as: UInt64.self)) }
        offset += 8
        return v
    }
    mutating func blob(_ what: String, maxBytes: Int) throws -> [UInt8] {
        let n = Int(try u32(what))
        if n > maxBytes { throw DecodeError(reason: "\(what) of \(n) bytes exceeds \(maxBytes)", offset: offset) }
        try need(n, what)
        let start = offset
        offset += n
        // Through a buffer pointer: one memcpy (copying an array slice takes a generic path).
        return bytes.withUnsafeBufferPointer { Array(UnsafeBufferPointer(rebasing: $0[start..<(start + n)])) }
    }
    /// As `blob`, without copying: a slice of the bytes read (it keeps their storage alive).
    mutating func blobSlice(_ what: String, maxBytes: Int) throws -> ArraySlice<UInt8> {
        let n = Int(try u32(what))
        if n > maxBytes { throw DecodeError(reason: "\(what) of \(n) bytes exceeds \(maxBytes)", offset: offset) }
        try need(n, what)
        let start = bytes.startIndex + offset
        offset += n
        return bytes[start..<(start + n)]
    }
    /// A count of items each at least `minItemBytes` long: refuses counts the buffer cannot hold.
    mutating func count(_ what: String, max: Int, minItemBytes: Int) throws -> Int {
        let n = Int(try u32(what))
        if n > max || n * minItemBytes > remaining {
            throw DecodeError(reason: "\(what) count \(n) is impossible here", offset: offset)
        }
        return n
    }
    func finish() throws {
        if remaining != 0 { throw DecodeError(reason: "\(remaining) trailing bytes", offset: offset) }
    }
}
