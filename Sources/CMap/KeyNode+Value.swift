import Basics
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How a leaf stores an entry's value: a 128-byte record of 16 words, aligned to 64 bytes in
/// the leaf, holding the value's hash, its version, its type and length, and up to
/// `inlineBytes` bytes of the value itself. A value of a random 1M-key store thus lives in
/// the leaf: a set reads and writes two adjacent cache lines of the leaf instead of also
/// reaching a separate heap allocation for the old value (a dependent cache and TLB miss),
/// and frees nothing. Longer strings and binaries keep their array in the key's cell
/// (`KeyCell.big`), where Swift manages its reference count; a record itself holds no
/// reference, so leaves copy and move records as plain bytes.
///
/// Word 0: `StateHash.ofValue` of the value. Word 1: the version. Word 2: the type's raw
/// value in the low byte, the length in bytes above it. Words 3...15: the bytes of a string
/// or binary of at most `inlineBytes`, or the bit pattern of a number (zero-extended).
enum ValueRecord {
    static let words = 16
    static let bytes = words * 8
    static let inlineBytes = (words - 3) * 8

    @inline(__always) static func valueHash(_ r: UnsafeMutablePointer<UInt64>) -> UInt64 { r[0] }
    @inline(__always) static func version(_ r: UnsafeMutablePointer<UInt64>) -> LogIndex { LogIndex(r[1]) }
    @inline(__always) static func byteCount(_ r: UnsafeMutablePointer<UInt64>) -> Int { Int(truncatingIfNeeded: r[2] >> 8) }
    @inline(__always) static func isBig(_ r: UnsafeMutablePointer<UInt64>) -> Bool { byteCount(r) > inlineBytes }

    /// Writes the value; `big` is the key cell's array, set for a long string or binary and
    /// cleared (only if it was set, so an inline overwrite never touches the cell) otherwise.
    @inline(__always)
    static func write(
        _ value: CMapValue, version: LogIndex, hash: UInt64, to r: UnsafeMutablePointer<UInt64>,
        big: UnsafeMutablePointer<[UInt8]?>, wasBig: Bool
    ) {
        r[0] = hash
        r[1] = version.rawValue
        switch value {
        case .string(let b), .binary(let b):
            r[2] = UInt64(value.type.rawValue) | UInt64(b.count) << 8
            if b.count > inlineBytes {
                big.pointee = b
                return
            }
            b.withUnsafeBytes { raw in
                if let base = raw.baseAddress, raw.count > 0 {
                    UnsafeMutableRawPointer(r + 3).copyMemory(from: base, byteCount: raw.count)
                }
            }
            if wasBig { big.pointee = nil }
            return
        default:
            break
        }
        r[2] = UInt64(value.type.rawValue) | UInt64(value.byteCount) << 8
        r[3] = scalarBits(value)
        if wasBig { big.pointee = nil }
    }

    /// The bit pattern of a number, zero-extended (0 for a string or binary).
    @inline(__always)
    static func scalarBits(_ value: CMapValue) -> UInt64 {
        switch value {
        case .int8(let v): UInt64(UInt8(bitPattern: v))
        case .uint8(let v): UInt64(v)
        case .int16(let v): UInt64(UInt16(bitPattern: v))
        case .uint16(let v): UInt64(v)
        case .int32(let v): UInt64(UInt32(bitPattern: v))
        case .uint32(let v): UInt64(v)
        case .int64(let v): UInt64(bitPattern: v)
        case .uint64(let v): v
        case .float(let v): UInt64(v.bitPattern)
        case .double(let v): v.bitPattern
        case .string, .binary: 0
        }
    }

    /// The stored value (a new array for an inline string or binary).
    static func value(_ r: UnsafeMutablePointer<UInt64>, big: [UInt8]?) -> CMapValue {
        let meta = r[2]
        let count = Int(truncatingIfNeeded: meta >> 8)
        let bits = r[3]
        // Written by `write` from a valid value, so the type byte is always valid.
        switch CMapValueType(rawValue: UInt8(truncatingIfNeeded: meta)) ?? .binary {
        case .int8: return .int8(Int8(bitPattern: UInt8(truncatingIfNeeded: bits)))
        case .uint8: return .uint8(UInt8(truncatingIfNeeded: bits))
        case .int16: return .int16(Int16(bitPattern: UInt16(truncatingIfNeeded: bits)))
        case .uint16: return .uint16(UInt16(truncatingIfNeeded: bits))
        case .int32: return .int32(Int32(bitPattern: UInt32(truncatingIfNeeded: bits)))
        case .uint32: return .uint32(UInt32(truncatingIfNeeded: bits))
        case .int64: return .int64(Int64(bitPattern: bits))
        case .uint64: return .uint64(bits)
        case .float: return .float(Float(bitPattern: UInt32(truncatingIfNeeded: bits)))
        case .double: return .double(Double(bitPattern: bits))
        case .string: return .string(bytes(r, count: count, big: big))
        case .binary: return .binary(bytes(r, count: count, big: big))
        }
    }

    @inline(__always)
    private static func bytes(_ r: UnsafeMutablePointer<UInt64>, count: Int, big: [UInt8]?) -> [UInt8] {
        if count > inlineBytes, let big { return big }
        let n = min(count, inlineBytes)
        return [UInt8](unsafeUninitializedCapacity: n) { buffer, initialized in
            if let base = buffer.baseAddress, n > 0 {
                UnsafeMutableRawPointer(base).copyMemory(from: UnsafeRawPointer(r + 3), byteCount: n)
            }
            initialized = n
        }
    }

    /// Whether the stored value equals `value` (same type and bytes, as `CMapValue.==`),
    /// without building it.
    @inline(__always)
    static func equals(_ r: UnsafeMutablePointer<UInt64>, big: UnsafeMutablePointer<[UInt8]?>, _ value: CMapValue) -> Bool {
        let meta = r[2]
        guard UInt8(truncatingIfNeeded: meta) == value.type.rawValue else { return false }
        let count = Int(truncatingIfNeeded: meta >> 8)
        switch value {
        case .string(let b), .binary(let b):
            guard b.count == count else { return false }
            if count > inlineBytes {
                // memcmp through the buffers: `Array ==` compares element by element in a
                // generic loop (a 256-byte value took longer than the tree descent), and libc's
                // vector compare takes about a fifth of the instructions of a word loop at 256
                // bytes (a re-set of the held value, every SET of redis-benchmark without -r).
                guard let stored = big.pointee else { return false }
                return stored.withUnsafeBytes { s in
                    b.withUnsafeBytes { raw in
                        guard let x = s.baseAddress, let y = raw.baseAddress else { return s.count == raw.count }
                        return s.count == raw.count && (x == y || memcmp(x, y, count) == 0)
                    }
                }
            }
            return b.withUnsafeBytes { raw in
                guard let base = raw.baseAddress, count > 0 else { return true }
                return sameBytes(base, UnsafeRawPointer(r + 3), count)
            }
        default:
            return value.byteCount == count && scalarBits(value) == r[3]
        }
    }
}

/// Whether `n` bytes at `a` and `b` are equal, eight at a time.
@inline(__always)
private func sameBytes(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ n: Int) -> Bool {
    var i = 0
    while n &- i >= 8 {
        if a.loadUnaligned(fromByteOffset: i, as: UInt64.self) != b.loadUnaligned(fromByteOffset: i, as: UInt64.self) {
            return false
        }
        i &+= 8
    }
    while i < n {
        if a.load(fromByteOffset: i, as: UInt8.self) != b.load(fromByteOffset: i, as: UInt8.self) { return false }
        i &+= 1
    }
    return true
}
