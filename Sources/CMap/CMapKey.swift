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
        // Big-endian words, zero-padded: whole words are loaded at once, and the bytes of a
        // partial word are copied into its first bytes in memory, which the byte order then
        // makes the most significant (a byte-by-byte loop cost more than the rest of a SET's
        // key handling).
        let words = bytes.withUnsafeBytes { b -> (UInt64, UInt64, UInt64) in
            func word(_ at: Int) -> UInt64 {
                let n = b.count &- at
                if n >= 8 { return UInt64(bigEndian: b.loadUnaligned(fromByteOffset: at, as: UInt64.self)) }
                if n <= 0 { return 0 }
                var w: UInt64 = 0
                withUnsafeMutableBytes(of: &w) { $0.copyMemory(from: UnsafeRawBufferPointer(rebasing: b[at..<(at &+ n)])) }
                return UInt64(bigEndian: w)
            }
            return (word(0), word(8), word(16))
        }
        w0 = words.0
        w1 = words.1
        w2 = words.2
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
        // The inline words in big-endian order are the key's first bytes: one append of
        // `min(count, 24)` of them rather than one append per byte.
        var words = (w0.bigEndian, w1.bigEndian, w2.bigEndian)
        let inline = min(count, Self.inlineBytes)
        withUnsafeBytes(of: &words) { out.append(contentsOf: UnsafeRawBufferPointer(rebasing: $0[0..<inline])) }
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

    /// The key bytes as a bit set over 0...127: bit `b & 63` of word `b >> 6` (`-./0-9:`
    /// in the low word, letters and `_` in the high one); no byte above 127 is a key byte.
    /// A test checks the constants against `isKeyByteSlow`.
    static let keyByteBitsLow: UInt64 = 0x07FF_E000_0000_0000
    static let keyByteBitsHigh: UInt64 = 0x07FF_FFFE_87FF_FFFE

    @inline(__always)
    static func isKeyByte(_ b: UInt8) -> Bool {
        keyByteBit(b) != 0
    }

    /// 1 for a key byte, 0 otherwise, without a branch.
    @inline(__always)
    static func keyByteBit(_ b: UInt8) -> UInt64 {
        let bits = b < 64 ? keyByteBitsLow : (b < 128 ? keyByteBitsHigh : 0)
        return (bits >> UInt64(b & 63)) & 1
    }

    /// Whether every byte of `b` is a key byte, eight at a time (a byte loop cost about nine
    /// instructions a byte, the key check of a decoded SET more than its value copy). An
    /// empty buffer passes: callers check the length.
    static func allKeyBytes(_ b: UnsafeRawBufferPointer) -> Bool {
        let n = b.count
        var lanes = laneHighBits
        if n >= 8 {
            var i = 0
            while n &- i > 8 {
                lanes &= keyByteLanes(b.loadUnaligned(fromByteOffset: i, as: UInt64.self))
                i &+= 8
            }
            // The last eight bytes, overlapping the previous word when `n` is not a multiple.
            lanes &= keyByteLanes(b.loadUnaligned(fromByteOffset: n &- 8, as: UInt64.self))
        } else if n > 0 {
            // 1...7 bytes; the lanes past them hold a key byte ("a").
            var w: UInt64 = 0x6161_6161_6161_6161
            withUnsafeMutableBytes(of: &w) { $0.copyMemory(from: b) }
            lanes &= keyByteLanes(w)
        }
        return lanes == laneHighBits
    }

    private static let laneHighBits: UInt64 = 0x8080_8080_8080_8080

    /// Bit 7 of each byte lane of the result is set when that byte of `x` is a key byte; the
    /// other bits are 0. The key bytes are four ranges of 7-bit values (`-` to `:`, `A` to
    /// `Z`, `_`, `a` to `z`); with bit 7 of every lane cleared, adding `0x80 - lo` to a lane
    /// sets its bit 7 exactly when the value is at least `lo`, and no sum carries into the
    /// next lane (at most 0x7F + 0x80). A byte with bit 7 set is never a key byte.
    @inline(__always)
    static func keyByteLanes(_ x: UInt64) -> UInt64 {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let v = x & ~laneHighBits
        @inline(__always)
        func within(_ lo: UInt64, _ hi: UInt64) -> UInt64 {
            (v &+ ones &* (0x80 &- lo)) & ~(v &+ ones &* (0x7F &- hi))
        }
        let ok = within(0x2D, 0x3A) | within(0x41, 0x5A) | within(0x5F, 0x5F) | within(0x61, 0x7A)
        return ok & ~x & laneHighBits
    }

    /// The definition the bit set encodes.
    static func isKeyByteSlow(_ b: UInt8) -> Bool {
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
        // The common case, every byte valid, in one pass over the buffer, a word at a time.
        if bytes.withUnsafeBytes({ allKeyBytes($0) }) { return nil }
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
