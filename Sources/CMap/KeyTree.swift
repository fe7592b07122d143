/// The store's entries: an ordered map CMapKey → CMapEntry with O(1) copies, a persistent
/// B+ tree whose nodes are shared between copies and copied on the first write through a
/// shared path (path copying). Copying the tree is one reference count increment, so a
/// snapshot captures the whole store in O(1) and encodes it on another thread while writes
/// go on (DESIGN.md section 6).
///
/// Entries live in the leaves; inner nodes hold separators, children and the children's
/// entry counts (rank, and so count(prefix), in O(log n)). Nodes are single allocations with
/// fingerprinted keys (KeyNode). Each entry keeps the hash of its value, so a set updates the
/// state hash without reading the old value.
///
/// Specialised rather than generic: the layout depends on the key's inline words.
/// (`PersistentSortedMap` remains for the small duplicate-request table.)
struct KeyTree: @unchecked Sendable {
    var root: KeyNode?

    init() {}

    var count: Int { root?.subtreeCount ?? 0 }
    var isEmpty: Bool { root == nil }

    /// What a store did.
    enum StoreOutcome {
        case added
        /// The previous entry and its value's hash.
        case replaced(CMapEntry, valueHash: UInt64)
        /// The stored value was identical (same type and bytes): nothing changed.
        case identical
    }

    // MARK: Reading

    subscript(key: CMapKey) -> CMapEntry? {
        guard var n = root else { return nil }
        while !n.isLeaf { n = n.children[n.childIndex(key)] }
        let (i, found) = n.leafSearch(key)
        return found ? n.entry(i) : nil
    }

    /// The number of keys strictly smaller than `key`.
    func rank(of key: CMapKey) -> Int {
        guard var n = root else { return 0 }
        var total = 0
        while !n.isLeaf {
            let i = n.childIndex(key)
            let counts = n.childCounts
            for c in 0..<i { total &+= counts[c] }
            n = n.children[i]
        }
        return total &+ n.leafSearch(key).index
    }

    /// Calls `body` on entries with key >= `start` (or > `start` when `inclusive` is false),
    /// in key order, until it returns false. O(log n + k) for k visited entries.
    func forEach(from start: CMapKey, inclusive: Bool = true, _ body: (CMapKey, CMapEntry) -> Bool) {
        guard let root else { return }
        _ = Self.visit(root, from: start, inclusive: inclusive, body)
    }

    /// Every entry in key order, until `body` returns false.
    func forEach(_ body: (CMapKey, CMapEntry) -> Bool) {
        guard let root else { return }
        _ = Self.visitAll(root, from: 0, body)
    }

    private static func visit(
        _ n: KeyNode, from start: CMapKey, inclusive: Bool, _ body: (CMapKey, CMapEntry) -> Bool
    ) -> Bool {
        if n.isLeaf {
            var (i, found) = n.leafSearch(start)
            if found && !inclusive { i += 1 }
            return visitAll(n, from: i, body)
        }
        let i = n.childIndex(start)
        if !visit(n.children[i], from: start, inclusive: inclusive, body) { return false }
        for j in (i + 1)..<(n.count + 1) where !visitAll(n.children[j], from: 0, body) { return false }
        return true
    }

    /// The subtree's entries from position `first` of a leaf (0 for an inner node).
    private static func visitAll(_ n: KeyNode, from first: Int, _ body: (CMapKey, CMapEntry) -> Bool) -> Bool {
        if n.isLeaf {
            for i in first..<max(first, n.count) where !body(n.cells[i].key, n.entry(i)) { return false }
            return true
        }
        for j in 0..<(n.count + 1) where !visitAll(n.children[j], from: 0, body) { return false }
        return true
    }

    // MARK: Writing

    /// Inserts or replaces the entry of `key`, except that an identical value (same type and
    /// bytes) is left in place with its version. One descent of the tree. Returns the value's
    /// `StateHash.ofValue` too (the stored one when identical): the value is hashed only when
    /// it is stored, because hashing a 256-byte value is a serial chain that costs more than
    /// comparing it, and re-setting a key to the value it has is common (and is all a
    /// `redis-benchmark -t set` run does).
    mutating func store(_ key: CMapKey, _ entry: CMapEntry) -> (StoreOutcome, valueHash: UInt64) {
        var hash = ValueHash()
        let outcome = store(key, entry, hash: &hash)
        return (outcome, hash.of(entry.value))
    }

    /// A value's `StateHash.ofValue`, computed at most once, when first needed (or taken from
    /// an identical stored value).
    struct ValueHash {
        var known: UInt64?
        mutating func of(_ value: CMapValue) -> UInt64 {
            if let known { return known }
            let h = StateHash.ofValue(value)
            known = h
            return h
        }
    }

    private mutating func store(_ key: CMapKey, _ entry: CMapEntry, hash: inout ValueHash) -> StoreOutcome {
        guard root != nil else {
            let leaf = KeyNode.make(leaf: true)
            leaf.leafInsert(KeySlot(key: key, entry: entry, valueHash: hash.of(entry.value)), at: 0)
            root = leaf
            return .added
        }
        if !isKnownUniquelyReferenced(&root!) { root = root!.copy() }
        // Without a retain of the root, as for each child in `store(into:)`.
        let (outcome, split) = Unmanaged.passUnretained(root!)._withUnsafeGuaranteedRef {
            Self.store(into: $0, key, entry, &hash)
        }
        if let split, let top = root {
            root = KeyNode.makeInner(left: top, separator: split.separator, right: split.right)
        }
        return outcome
    }

    private typealias Split = (separator: CMapKey, right: KeyNode)

    /// `n` is uniquely referenced by the caller.
    private static func store(
        into n: KeyNode, _ key: CMapKey, _ entry: CMapEntry, _ hash: inout ValueHash
    ) -> (StoreOutcome, Split?) {
        if n.isLeaf {
            let (i, found) = n.leafSearch(key)
            if found {
                let r = n.record(i)
                let big = (n.cells + i).pointer(to: \.big)!
                let oldHash = ValueRecord.valueHash(r)
                if ValueRecord.equals(r, big: big, entry.value) {
                    // Equal type and bytes: equal hashes, so the stored one is the value's.
                    hash.known = oldHash
                    return (.identical, nil)
                }
                let valueHash = hash.of(entry.value)
                // An inline value is read from the record, in the same two cache lines the
                // write touches; the key's cell is read only for a long value.
                let wasBig = ValueRecord.isBig(r)
                let old = CMapEntry(value: ValueRecord.value(r, big: wasBig ? big.pointee : nil), version: ValueRecord.version(r))
                ValueRecord.write(entry.value, version: entry.version, hash: valueHash, to: r, big: big, wasBig: wasBig)
                return (.replaced(old, valueHash: oldHash), nil)
            }
            n.leafInsert(KeySlot(key: key, entry: entry, valueHash: hash.of(entry.value)), at: i)
            guard n.count > KeyNode.leafMax else { return (.added, nil) }
            let right = n.splitLeaf(insertedAt: i)
            return (.added, (right.cells[0].key, right))
        }
        let i = n.childIndex(key)
        let children = n.children
        if !isKnownUniquelyReferenced(&children[i]) { children[i] = children[i].copy() }
        // The child is passed without a retain (n holds it and nothing below replaces it):
        // a retain is an atomic increment on the child's header, and x86 lets no later load
        // pass it, so the child's fingerprint loads would wait for its header's cache miss
        // instead of overlapping with it.
        let (outcome, split) = Unmanaged.passUnretained(children[i])._withUnsafeGuaranteedRef {
            store(into: $0, key, entry, &hash)
        }
        guard case .added = outcome else { return (outcome, nil) }
        n.h.pointee.subtreeCount &+= 1
        guard let split else {
            n.childCounts[i] &+= 1
            return (.added, nil)
        }
        n.childCounts[i] = children[i].subtreeCount
        n.innerInsert(split.separator, right: split.right, at: i)
        guard n.count > KeyNode.innerMax else { return (.added, nil) }
        return (.added, n.splitInner(insertedAt: i))
    }
}
