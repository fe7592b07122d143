/// One entry of a leaf, as the tree's slower paths (removal, rebalancing, bulk builds) pass
/// it around: the key, its entry and the hash of its value. The hash lets a set update the
/// state hash and recognise an identical value without reading the old value's bytes.
/// Inside a leaf an entry is a `KeyCell` plus a `ValueRecord`.
struct KeySlot {
    var key: CMapKey
    var entry: CMapEntry
    var valueHash: UInt64
}

/// The part of a leaf entry that holds references: the key (whose bytes beyond 24 are an
/// array) and a long string or binary value (see `ValueRecord`), nil for the others.
struct KeyCell {
    var key: CMapKey
    var big: [UInt8]?
}

struct KeyNodeHeader {
    /// Slots of a leaf, separators of an inner node.
    var count: Int
    /// Initialised children of an inner node (`count + 1`, 0 while being rebuilt).
    var childCount: Int
    /// Entries in this subtree.
    var subtreeCount: Int
    /// Every key (separator) of the node starts with these `prefixLength` bytes (≤ 24),
    /// stored as three masked big-endian words, and `fingerprints[i]` holds the eight bytes
    /// of key `i` that follow them.
    var prefixLength: Int
    var prefix0: UInt64
    var prefix1: UInt64
    var prefix2: UInt64
    var isLeaf: Bool
}

/// A node of `KeyTree`, in one allocation (a ManagedBuffer): header, then fixed-capacity
/// regions. Leaf: fingerprints, value records (64-byte aligned), key cells. Inner node:
/// fingerprints, children, children's entry counts, separators. One allocation instead of an object and three arrays saves a
/// cache miss per array on the walk down, and the fingerprints put the whole in-node search
/// in one contiguous run of words (a 64-entry node: 512 bytes) that it reads with
/// independent loads instead of a chain of dependent binary-search probes.
///
/// A node is mutated only while its tree holds the only reference (the tree checks
/// `isKnownUniquelyReferenced` and copies first); shared nodes are read-only, which is why
/// sharing them across threads (a snapshot encoded on another thread) is safe. (ManagedBuffer
/// cannot be declared Sendable, so KeyTree is `@unchecked Sendable` on this ground.)
final class KeyNode: ManagedBuffer<KeyNodeHeader, UInt64> {
    static let leafMax = 64
    static let leafMin = leafMax / 4
    static let innerMax = 64
    static let innerMin = innerMax / 4
    /// One more than the maximum: a node overflows by one entry before it splits.
    static let leafCapacity = leafMax + 1
    static let innerCapacity = innerMax + 1
    static let keyWords = MemoryLayout<CMapKey>.stride / 8
    static let cellWords = MemoryLayout<KeyCell>.stride / 8
    /// The fingerprint region of either kind: a multiple of 8 words at least the capacity;
    /// unused fingerprints hold `unusedFingerprint`, so a search can scan the whole region
    /// with a trip count known at compile time.
    static let fingerprintWords = 72
    /// Above every stored key's fingerprint (key bytes are below 0x7F), and below 2^63 like
    /// them, so that `a < b` is the top bit of `a &- b` (see `countBelow`).
    static let unusedFingerprint = UInt64(Int64.max)
    /// The records start at the first 64-byte boundary after the fingerprints (a record is
    /// then exactly two cache lines); the extra words leave room to align. They come before
    /// the cells, close to the header: a set reads the header, the fingerprints and one
    /// record, and the closer they are the more often they share a page (a TLB miss fewer).
    static let recordsAfter = fingerprintWords
    static let cellsAt = recordsAfter + 8 + leafCapacity * ValueRecord.words
    static let leafWords = cellsAt + leafCapacity * cellWords
    /// Inner node: the children right after the fingerprints (the walk reads child i as
    /// soon as the fingerprints gave i, so it should share their page), then their counts,
    /// then the separators (read only on a fingerprint tie).
    static let childrenAt = fingerprintWords
    static let childCountsAt = childrenAt + innerCapacity + 1
    static let separatorsAt = childCountsAt + innerCapacity + 1
    static let innerWords = separatorsAt + innerCapacity * keyWords

    static func make(leaf: Bool) -> KeyNode {
        precondition(MemoryLayout<CMapKey>.stride % 8 == 0 && MemoryLayout<KeyCell>.stride % 8 == 0
            && MemoryLayout<CMapKey>.alignment <= 8 && MemoryLayout<KeyCell>.alignment <= 8
            && fingerprintWords >= max(leafCapacity, innerCapacity))
        let buffer = create(minimumCapacity: leaf ? leafWords : innerWords) { _ in
            KeyNodeHeader(count: 0, childCount: 0, subtreeCount: 0, prefixLength: 0,
                          prefix0: 0, prefix1: 0, prefix2: 0, isLeaf: leaf)
        }
        let node = unsafeDowncast(buffer, to: KeyNode.self)
        node.fingerprints.initialize(repeating: unusedFingerprint, count: fingerprintWords)
        let base = UnsafeMutableRawPointer(node.fingerprints)
        if leaf {
            (base + 8 * cellsAt).bindMemory(to: KeyCell.self, capacity: leafCapacity)
        } else {
            (base + 8 * separatorsAt).bindMemory(to: CMapKey.self, capacity: innerCapacity)
            (base + 8 * childrenAt).bindMemory(to: KeyNode.self, capacity: innerCapacity + 1)
            (base + 8 * childCountsAt).bindMemory(to: Int.self, capacity: innerCapacity + 1)
        }
        return node
    }

    deinit {
        if isLeaf {
            cells.deinitialize(count: count)
        } else {
            separators.deinitialize(count: count)
            children.deinitialize(count: h.pointee.childCount)
        }
    }

    // MARK: Regions

    @inline(__always) var h: UnsafeMutablePointer<KeyNodeHeader> { withUnsafeMutablePointerToHeader { $0 } }
    @inline(__always) var fingerprints: UnsafeMutablePointer<UInt64> { withUnsafeMutablePointerToElements { $0 } }
    @inline(__always) var cells: UnsafeMutablePointer<KeyCell> {
        UnsafeMutableRawPointer(fingerprints + Self.cellsAt).assumingMemoryBound(to: KeyCell.self)
    }
    /// The value records (a leaf): `records + i * ValueRecord.words` is entry i's.
    @inline(__always) var records: UnsafeMutablePointer<UInt64> {
        let after = UInt(bitPattern: fingerprints + Self.recordsAfter)
        return UnsafeMutablePointer(bitPattern: (after &+ 63) & ~63)!
    }
    @inline(__always) func record(_ i: Int) -> UnsafeMutablePointer<UInt64> { records + i &* ValueRecord.words }
    @inline(__always) var separators: UnsafeMutablePointer<CMapKey> {
        UnsafeMutableRawPointer(fingerprints + Self.separatorsAt).assumingMemoryBound(to: CMapKey.self)
    }
    @inline(__always) var children: UnsafeMutablePointer<KeyNode> {
        UnsafeMutableRawPointer(fingerprints + Self.childrenAt).assumingMemoryBound(to: KeyNode.self)
    }
    @inline(__always) var childCounts: UnsafeMutablePointer<Int> {
        UnsafeMutableRawPointer(fingerprints + Self.childCountsAt).assumingMemoryBound(to: Int.self)
    }

    @inline(__always) var isLeaf: Bool { h.pointee.isLeaf }
    @inline(__always) var count: Int { h.pointee.count }
    @inline(__always) var subtreeCount: Int { h.pointee.subtreeCount }

    /// Key `i` of a leaf, separator `i` of an inner node.
    @inline(__always) func key(_ i: Int) -> CMapKey { isLeaf ? cells[i].key : separators[i] }

    /// Entry `i` of a leaf (its value built from the record).
    @inline(__always) func entry(_ i: Int) -> CMapEntry {
        let r = record(i)
        return CMapEntry(value: ValueRecord.value(r, big: cells[i].big), version: ValueRecord.version(r))
    }

    /// Entry `i` of a leaf, with its key and value hash.
    func slot(_ i: Int) -> KeySlot {
        KeySlot(key: cells[i].key, entry: entry(i), valueHash: ValueRecord.valueHash(record(i)))
    }

    /// Initialises entry `i` of a leaf (its cell and record are uninitialised).
    private func initializeSlot(_ i: Int, _ slot: KeySlot) {
        (cells + i).initialize(to: KeyCell(key: slot.key, big: nil))
        ValueRecord.write(slot.entry.value, version: slot.entry.version, hash: slot.valueHash,
                          to: record(i), big: &cells[i].big, wasBig: false)
    }

    /// Moves `count` records from `from` to `to` (of this node or another; may overlap).
    @inline(__always)
    static func moveRecords(_ to: UnsafeMutablePointer<UInt64>, _ from: UnsafeMutablePointer<UInt64>, count: Int) {
        guard count > 0 else { return }
        UnsafeMutableRawPointer(to).copyMemory(from: UnsafeRawPointer(from), byteCount: count &* ValueRecord.bytes)
    }

    func copy() -> KeyNode {
        let c = KeyNode.make(leaf: isLeaf)
        c.h.pointee = h.pointee
        c.fingerprints.update(from: fingerprints, count: Self.fingerprintWords)
        if isLeaf {
            c.cells.initialize(from: cells, count: count)
            Self.moveRecords(c.records, records, count: count)
        } else {
            c.separators.initialize(from: separators, count: count)
            c.children.initialize(from: children, count: h.pointee.childCount)
            c.childCounts.initialize(from: childCounts, count: h.pointee.childCount)
        }
        return c
    }

    // MARK: Searching

    /// How many fingerprints are below `f` (≤ unusedFingerprint): a branch-free scan of the
    /// whole region with a fixed trip count, so it vectorises (with plain SSE2: both sides are
    /// below 2^63, so the borrow of the subtraction is the comparison) and its loads wait
    /// neither for the node's count nor for each other: their cache misses overlap.
    @inline(__always)
    static func countBelow(_ fp: UnsafeMutablePointer<UInt64>, _ f: UInt64) -> Int {
        var c: UInt64 = 0
        for i in 0..<fingerprintWords { c &+= (fp[i] &- f) >> 63 }
        return Int(truncatingIfNeeded: c)
    }

    /// The search fingerprint of `key`: its word at the prefix length, capped at
    /// `unusedFingerprint` (only search bounds, with 0xFF bytes, exceed it, and they are
    /// above every stored key either way).
    @inline(__always)
    static func searchFingerprint(_ key: CMapKey, at p: Int) -> UInt64 {
        min(key.word(at: p), unusedFingerprint)
    }

    /// Marks fingerprints `range` unused.
    @inline(__always)
    func vacate(_ range: Range<Int>) {
        (fingerprints + range.lowerBound).update(repeating: Self.unusedFingerprint, count: range.count)
    }

    /// Leaf: the first slot whose key is >= `key`, and whether it is equal.
    @inline(__always)
    func leafSearch(_ key: CMapKey) -> (index: Int, found: Bool) {
        let hp = h
        let n = hp.pointee.count
        let p = hp.pointee.prefixLength
        if p > 0 {
            let c = key.comparePrefix(hp.pointee.prefix0, hp.pointee.prefix1, hp.pointee.prefix2, length: p)
            if c != 0 { return (c < 0 ? 0 : n, false) }
        }
        let f = Self.searchFingerprint(key, at: p)
        let fp = fingerprints
        var i = Self.countBelow(fp, f)
        guard i < n && fp[i] == f else { return (i, false) }
        // Same prefix and fingerprint, and the key ends strictly inside the fingerprint's
        // eight bytes: the fingerprint holds the padding zero after its last byte, so the
        // stored key ends there too (keys have no zero bytes) and is the same key; the search
        // never reads it. (A key ending exactly at the window's end proves nothing: a longer
        // stored key may continue after it.)
        if key.count < p &+ 8 { return (i, true) }
        // Otherwise only the full keys can tell.
        let s = cells
        while i < n && fp[i] == f {
            if s[i].key < key { i &+= 1 } else { return (i, s[i].key == key) }
        }
        return (i, false)
    }

    /// Inner node: the child whose subtree holds `key` (separator `i` is the smallest key of
    /// child `i + 1`, so this is the number of separators <= `key`).
    @inline(__always)
    func childIndex(_ key: CMapKey) -> Int {
        let hp = h
        let n = hp.pointee.count
        let p = hp.pointee.prefixLength
        if p > 0 {
            let c = key.comparePrefix(hp.pointee.prefix0, hp.pointee.prefix1, hp.pointee.prefix2, length: p)
            if c != 0 { return c < 0 ? 0 : n }
        }
        let f = Self.searchFingerprint(key, at: p)
        let fp = fingerprints
        var i = Self.countBelow(fp, f)
        guard i < n && fp[i] == f else { return i }
        // As in leafSearch: the key equals separator i when it ends strictly inside the
        // fingerprint.
        if key.count < p &+ 8 { return i &+ 1 }
        let s = separators
        while i < n && fp[i] == f && !(key < s[i]) { i &+= 1 }
        return i
    }

    /// Recomputes the common prefix (that of the first and last key: they are sorted) and
    /// every fingerprint.
    func refreshPrefix() {
        let n = count
        let hp = h
        guard n > 0 else {
            hp.pointee.prefixLength = 0
            hp.pointee.prefix0 = 0
            hp.pointee.prefix1 = 0
            hp.pointee.prefix2 = 0
            return
        }
        let first = key(0)
        let p = CMapKey.sharedPrefix(first, key(n &- 1))
        hp.pointee.prefixLength = p
        hp.pointee.prefix0 = first.w0 & CMapKey.prefixMask(word: 0, length: p)
        hp.pointee.prefix1 = first.w1 & CMapKey.prefixMask(word: 1, length: p)
        hp.pointee.prefix2 = first.w2 & CMapKey.prefixMask(word: 2, length: p)
        let fp = fingerprints
        for i in 0..<n { fp[i] = key(i).word(at: p) }
    }

    /// After key `i` was placed: keeps the prefix (a key in the middle shares it) or
    /// recomputes it (a new first or last key may share less). A node's only key always
    /// recomputes it: the prefix words may still hold the bytes of a key removed earlier,
    /// which the length alone cannot tell.
    @inline(__always)
    private func placed(at i: Int) {
        let n = count
        let p = h.pointee.prefixLength
        if n == 1 || ((i == 0 || i == n &- 1) && CMapKey.sharedPrefix(key(0), key(n &- 1)) != p) {
            refreshPrefix()
        } else {
            fingerprints[i] = key(i).word(at: p)
        }
    }

    // MARK: Leaf edits

    func leafInsert(_ slot: KeySlot, at i: Int) {
        let n = count
        let s = cells
        let fp = fingerprints
        (s + i + 1).moveInitialize(from: s + i, count: n &- i)
        Self.moveRecords(record(i &+ 1), record(i), count: n &- i)
        (fp + i + 1).moveInitialize(from: fp + i, count: n &- i)
        initializeSlot(i, slot)
        h.pointee.count = n &+ 1
        h.pointee.subtreeCount = n &+ 1
        placed(at: i)
    }

    /// Removes slot `i`; the prefix stays valid (the remaining keys still share it).
    func leafRemove(at i: Int) -> KeySlot {
        let n = count
        let s = cells
        let fp = fingerprints
        let slot = self.slot(i)
        (s + i).deinitialize(count: 1)
        (s + i).moveInitialize(from: s + i + 1, count: n &- i &- 1)
        Self.moveRecords(record(i), record(i &+ 1), count: n &- i &- 1)
        (fp + i).moveInitialize(from: fp + i + 1, count: n &- i &- 1)
        vacate((n &- 1)..<n)
        h.pointee.count = n &- 1
        h.pointee.subtreeCount = n &- 1
        return slot
    }

    /// Moves every slot out (the node is left empty).
    func drainLeaf() -> [KeySlot] {
        let n = count
        let out = (0..<n).map { slot($0) }
        cells.deinitialize(count: n)
        vacate(0..<n)
        h.pointee.count = 0
        h.pointee.subtreeCount = 0
        return out
    }

    /// Fills an empty leaf.
    func fillLeaf(_ items: ArraySlice<KeySlot>) {
        precondition(count == 0 && items.count <= Self.leafCapacity, "fillLeaf: \(items.count) slots")
        for (j, slot) in items.enumerated() { initializeSlot(j, slot) }
        h.pointee.count = items.count
        h.pointee.subtreeCount = items.count
        refreshPrefix()
    }

    /// Splits an overfull leaf; returns the new right sibling. A node that overflowed because
    /// a key was appended at its end (keys arriving in order) keeps most entries on the left,
    /// so a fill in key order leaves nodes three-quarters full rather than half.
    func splitLeaf(insertedAt i: Int) -> KeyNode {
        let n = count
        let m = i == n &- 1 ? n &- Self.leafMin : n / 2
        let right = KeyNode.make(leaf: true)
        right.cells.moveInitialize(from: cells + m, count: n &- m)
        Self.moveRecords(right.records, record(m), count: n &- m)
        right.h.pointee.count = n &- m
        right.h.pointee.subtreeCount = n &- m
        vacate(m..<n)
        h.pointee.count = m
        h.pointee.subtreeCount = m
        right.refreshPrefix()
        refreshPrefix()
        return right
    }
}
