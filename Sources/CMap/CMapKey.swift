/// A CMap key: 1...255 bytes of `[A-Za-z0-9_./:-]`, ordered bytewise (a key sorts before
/// its extensions, as corosync's libqb trie iterates).
///
/// corosync requires at least 3 bytes (`CMAP_KEYNAME_MINLEN`); we allow 1, because Redis
/// clients routinely `SET a 1`. Dots are only a naming convention for hierarchy.
/// A key can only be built through validation, so every key inside the store is valid.
public struct CMapKey: Hashable, Comparable, Sendable, CustomStringConvertible {
    public static let minBytes = 1
    public static let maxBytes = 255

    /// The key's bytes (ASCII, so also valid UTF-8).
    public let bytes: [UInt8]

    /// Validates `bytes`; throws `CMapError.invalidKey` saying what is wrong.
    public init(validating bytes: [UInt8]) throws(CMapError) {
        if let reason = CMapKey.problem(with: bytes, allowEmpty: false) {
            throw CMapError.invalidKey(reason)
        }
        self.bytes = bytes
    }

    public init(validating string: String) throws(CMapError) {
        try self.init(validating: Array(string.utf8))
    }

    /// For literals in tests and code: traps on an invalid key (a programmer error).
    public init(_ string: String) {
        do {
            try self.init(validating: string)
        } catch {
            preconditionFailure("invalid CMap key literal \"\(string)\": \(error)")
        }
    }

    /// Used by the codecs after they checked the bytes themselves.
    init(unchecked bytes: [UInt8]) { self.bytes = bytes }

    public var description: String { String(decoding: bytes, as: UTF8.self) }

    public static func < (a: CMapKey, b: CMapKey) -> Bool {
        compareBytes(a.bytes, b.bytes) < 0
    }

    public static func == (a: CMapKey, b: CMapKey) -> Bool { a.bytes == b.bytes }

    public func hasPrefix(_ prefix: CMapPrefix) -> Bool {
        bytes.count >= prefix.bytes.count && bytes.starts(with: prefix.bytes)
    }

    static func isKeyByte(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "."),
            UInt8(ascii: "/"), UInt8(ascii: ":"), UInt8(ascii: "-"):
            true
        default:
            false
        }
    }

    /// Why `bytes` is not a valid key (or prefix), or nil when it is.
    static func problem(with bytes: [UInt8], allowEmpty: Bool) -> String? {
        if bytes.isEmpty && !allowEmpty { return "key is empty" }
        if bytes.count > maxBytes {
            return "key is \(bytes.count) bytes long, the maximum is \(maxBytes)"
        }
        if let offset = bytes.firstIndex(where: { !isKeyByte($0) }) {
            return "key has byte 0x\(String(bytes[offset], radix: 16)) at offset \(offset); "
                + "allowed are A-Z a-z 0-9 _ . / : -"
        }
        return nil
    }
}

/// A prefix for iteration, counting and tracking: like a key, but may be empty (everything).
public struct CMapPrefix: Hashable, Sendable, CustomStringConvertible {
    public let bytes: [UInt8]
    public static let all = CMapPrefix(unchecked: [])

    public init(validating bytes: [UInt8]) throws(CMapError) {
        if let reason = CMapKey.problem(with: bytes, allowEmpty: true) {
            throw CMapError.invalidKey(reason)
        }
        self.bytes = bytes
    }

    public init(validating string: String) throws(CMapError) {
        try self.init(validating: Array(string.utf8))
    }

    /// For literals: traps on an invalid prefix (a programmer error).
    public init(_ string: String) {
        do {
            try self.init(validating: string)
        } catch {
            preconditionFailure("invalid CMap prefix literal \"\(string)\": \(error)")
        }
    }

    init(unchecked bytes: [UInt8]) { self.bytes = bytes }

    public var description: String { String(decoding: bytes, as: UTF8.self) }

    /// The smallest key that could carry this prefix (the prefix itself; for the empty prefix
    /// the smallest possible key).
    var lowerBound: [UInt8] { bytes }

    /// A byte string greater than every key with this prefix and smaller than every larger
    /// key without it: key bytes are all below 0x7F, so appending 0xFF works.
    var upperBound: [UInt8] { bytes + [0xFF] }
}

/// Bytewise three-way comparison (memcmp order, shorter first on a tie).
@inline(__always)
func compareBytes(_ a: [UInt8], _ b: [UInt8]) -> Int {
    a.withUnsafeBufferPointer { pa in
        b.withUnsafeBufferPointer { pb in
            let n = min(pa.count, pb.count)
            if n > 0, let ba = pa.baseAddress, let bb = pb.baseAddress {
                let c = memcmpBytes(ba, bb, n)
                if c != 0 { return c }
            }
            return pa.count < pb.count ? -1 : (pa.count > pb.count ? 1 : 0)
        }
    }
}

@inline(__always)
private func memcmpBytes(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ n: Int) -> Int {
    // Eight bytes at a time, compared big-endian so the first differing byte decides.
    var i = 0
    let ra = UnsafeRawPointer(a)
    let rb = UnsafeRawPointer(b)
    while n - i >= 8 {
        let x = UInt64(bigEndian: ra.loadUnaligned(fromByteOffset: i, as: UInt64.self))
        let y = UInt64(bigEndian: rb.loadUnaligned(fromByteOffset: i, as: UInt64.self))
        if x != y { return x < y ? -1 : 1 }
        i += 8
    }
    while i < n {
        if a[i] != b[i] { return a[i] < b[i] ? -1 : 1 }
        i += 1
    }
    return 0
}
