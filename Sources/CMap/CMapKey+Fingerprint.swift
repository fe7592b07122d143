/// Fixed-width views of a key for the B-tree's in-node search (KeyNode).
///
/// A node stores, for each key, the eight bytes that follow the node's common prefix as one
/// big-endian word (a "fingerprint"). Keys that share the prefix compare like their
/// fingerprints whenever the fingerprints differ, so a search compares words in one
/// contiguous array and reads a full key only on a tie. Bytes past the end of a key count
/// as zero, which keeps bytewise order because a key never contains a zero byte.
extension CMapKey {
    /// The longest prefix the node keeps inline (the key's three inline words).
    static let maxNodePrefix = inlineBytes

    /// The inline word `j` (0, 1 or 2).
    @inline(__always)
    func inlineWord(_ j: Int) -> UInt64 { j == 0 ? w0 : (j == 1 ? w1 : w2) }

    /// Bytes `offset ..< offset + 8` as a big-endian word, zero past the end of the key.
    @inline(__always)
    func word(at offset: Int) -> UInt64 {
        if offset <= 16 {
            let j = offset >> 3
            let shift = UInt64((offset & 7) << 3)
            if shift == 0 { return inlineWord(j) }
            if j == 0 { return (w0 << shift) | (w1 >> (64 - shift)) }
            return (w1 << shift) | (w2 >> (64 - shift))
        }
        return slowWord(at: offset)
    }

    private func slowWord(at offset: Int) -> UInt64 {
        // A leaf of one key has the whole inline prefix in common (24 bytes), so a store into
        // it asks for the word past the end of a short key: no loop for that.
        if offset >= count { return 0 }
        var w: UInt64 = 0
        for i in offset..<(offset + 8) {
            w = (w << 8) | UInt64(i < count ? byte(at: i) : 0)
        }
        return w
    }

    /// The length of the common prefix of two keys, at most `maxNodePrefix` (zero padding
    /// counts as shared, which is harmless: see `word(at:)`).
    @inline(__always)
    static func sharedPrefix(_ a: CMapKey, _ b: CMapKey) -> Int {
        var x = a.w0 ^ b.w0
        if x != 0 { return x.leadingZeroBitCount >> 3 }
        x = a.w1 ^ b.w1
        if x != 0 { return 8 + x.leadingZeroBitCount >> 3 }
        x = a.w2 ^ b.w2
        if x != 0 { return 16 + x.leadingZeroBitCount >> 3 }
        return 24
    }

    /// The mask of the bytes of inline word `j` that lie inside a prefix of `length` bytes.
    @inline(__always)
    static func prefixMask(word j: Int, length: Int) -> UInt64 {
        let inWord = length - 8 * j
        if inWord >= 8 { return ~0 }
        if inWord <= 0 { return 0 }
        return ~UInt64(0) << UInt64(64 - 8 * inWord)
    }

    /// Compares the first `length` bytes (≤ 24) of the key with a prefix given as three
    /// masked words: -1, 0 or 1.
    @inline(__always)
    func comparePrefix(_ p0: UInt64, _ p1: UInt64, _ p2: UInt64, length: Int) -> Int {
        let a = w0 & Self.prefixMask(word: 0, length: length)
        if a != p0 { return a < p0 ? -1 : 1 }
        let b = w1 & Self.prefixMask(word: 1, length: length)
        if b != p1 { return b < p1 ? -1 : 1 }
        let c = w2 & Self.prefixMask(word: 2, length: length)
        if c != p2 { return c < p2 ? -1 : 1 }
        return 0
    }
}
