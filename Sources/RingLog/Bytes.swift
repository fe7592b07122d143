import Basics

/// Little-endian field writing and bounds-checked reading for the on-disk formats. Reading
/// never traps on short or hostile input: it returns nil.
struct ByteWriter {
    var bytes: [UInt8]

    init(capacity: Int = 64) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    mutating func append<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    mutating func append(contentsOf other: [UInt8]) { bytes.append(contentsOf: other) }

    /// Appends the CRC32C of everything written so far.
    mutating func appendChecksum() {
        append(CRC32C.checksum(bytes))
    }
}

struct ByteReader {
    let bytes: [UInt8]
    private(set) var offset: Int = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var remaining: Int { bytes.count - offset }

    mutating func read<T: FixedWidthInteger>(_: T.Type) -> T? {
        let size = MemoryLayout<T>.size
        guard remaining >= size else { return nil }
        var value: T = 0
        for i in 0..<size { value |= T(bytes[offset + i]) << (8 * i) }
        offset += size
        return value
    }

    /// Whether the last four bytes are the CRC32C of everything before them.
    static func hasValidTrailingChecksum(_ bytes: [UInt8]) -> Bool {
        guard bytes.count >= 4 else { return false }
        let body = bytes[..<(bytes.count - 4)]
        var stored: UInt32 = 0
        for i in 0..<4 { stored |= UInt32(bytes[bytes.count - 4 + i]) << (8 * i) }
        return CRC32C.checksum(body) == stored
    }
}
