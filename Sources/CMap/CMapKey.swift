/// A CMap key: 1...255 bytes of `[A-Za-z0-9_./:-]`, ordered bytewise (a key sorts before
/// its extensions, as corosync's libqb trie iterates).
///
/// corosync requires at least 3 bytes (`CMAP_KEYNAME_MINLEN`); we allow 1, because Redis
/// clients routinely `SET a 1`. Dots are only a naming convention for hierarchy.
/// A key can only be built through validation, so every key inside the store is valid.
public struct CMapKey: Hashable, Comparable, Sendable, CustomStringConvertible {
    public static let minBytes = 1
    public static let maxBytes = 255

    // Representation: the first 24 bytes inline as three big-endian words (zero-padded), the
    // rest in `tail`. Comparing two keys then reads no heap memory unless they share their
    // first 24 bytes, which keeps a B-tree search inside the node's own array instead of
    // chasing one pointer per comparison (the cache misses dominated the apply benchmark).
    // Padding with zeros preserves bytewise order because a key never contains a zero byte.
    @usableFromInline let w0: UInt64
    @usableFromInline let w1: UInt64
    @usableFromInline let w2: UInt64
    @usableFromInline let tail: [UInt8]
    /// Length in bytes (an internal bound of a prefix may be 256 bytes long).
    public let count: Int

    static let inlineBytes = 24

    /// Validates `bytes`; throws `CMapError.invalidKey` saying what is wrong.
    public init(validating bytes: [UInt8]) throws(CMapError) {
        if let reason = CMapKey.problem(with: bytes, allowEmpty: false) {
            throw CMapError.invalidKey(reason)
        }
        self.init(unchecked: bytes)
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

    /// Used by the codecs after they checked the bytes themselves, and for search bounds.
    init(unchecked bytes: [UInt8]) {
        func word(_ at: Int) -> UInt64 {
            var w: UInt64 = 0
            for i in at..<(at + 8) { w = (w << 8) | UInt64(i < bytes.count ? bytes[i] : 0) }
            return w
        }
        w0 = word(0)
        w1 = word(8)
        w2 = word(16)
        tail = bytes.count > Self.inlineBytes ? Array(bytes[Self.inlineBytes...]) : []
        count = bytes.count
    }

    /// The key's bytes (ASCII, so also valid UTF-8).
    public var bytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(count)
        appendBytes(to: &out)
        return out
    }

    /// Appends the key's bytes without building an intermediate array.
    func appendBytes(to out: inout [UInt8]) {
        let inline = min(count, Self.inlineBytes)
        for i in 0..<inline { out.append(byte(at: i)) }
        out.append(contentsOf: tail)
    }

    @inline(__always)
    func byte(at i: Int) -> UInt8 {
        if i >= Self.inlineBytes { return tail[i - Self.inlineBytes] }
        let w = i < 8 ? w0 : (i < 16 ? w1 : w2)
        return UInt8(truncatingIfNeeded: w >> UInt64(56 - 8 * (i & 7)))
    }

    public var description: String { String(decoding: bytes, as: UTF8.self) }

    @inline(__always)
    public static func < (a: CMapKey, b: CMapKey) -> Bool {
        if a.w0 != b.w0 { return a.w0 < b.w0 }
        if a.w1 != b.w1 { return a.w1 < b.w1 }
        if a.w2 != b.w2 { return a.w2 < b.w2 }
        // Equal first 24 bytes: both are at least 24 bytes long, or both are equal.
        if a.tail.isEmpty && b.tail.isEmpty { return false }
        return compareBytes(a.tail, b.tail) < 0
    }

    @inline(__always)
    public static func == (a: CMapKey, b: CMapKey) -> Bool {
        // Keys of at most 24 bytes have no tail; longer ones compare it with memcmp rather
        // than the generic `Array ==`.
        a.w0 == b.w0 && a.w1 == b.w1 && a.w2 == b.w2 && a.count == b.count
            && (a.count <= inlineBytes || compareBytes(a.tail, b.tail) == 0)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(w0)
        hasher.combine(w1)
        hasher.combine(w2)
        hasher.combine(tail)
    }

    public func hasPrefix(_ prefix: CMapPrefix) -> Bool {
        let p = prefix.bytes
        guard count >= p.count else { return false }
        for i in 0..<p.count where byte(at: i) != p[i] { return false }
        return true
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
