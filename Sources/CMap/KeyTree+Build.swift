/// Building from sorted input (snapshot loading) and checking the invariants (tests).
extension KeyTree {
    /// A tree of `keys[i] → entries[i]` (value hashes `valueHashes[i]`). The keys must be
    /// strictly increasing (the caller checks; snapshot decoding rejects a file whose keys
    /// are not). O(n), nodes evenly filled.
    init(sortedKeys keys: [CMapKey], entries: [CMapEntry], valueHashes: [UInt64]) {
        precondition(keys.count == entries.count && keys.count == valueHashes.count,
                     "sortedKeys: \(keys.count) keys, \(entries.count) entries, \(valueHashes.count) hashes")
        self.init()
        guard !keys.isEmpty else { return }
        // Leaves, then each level of inner nodes, evenly filled; a node's first key is kept
        // for the separator in front of it.
        var level: [(node: KeyNode, first: CMapKey)] = []
        for range in Self.evenRanges(keys.count, parts: (keys.count + KeyNode.leafMax - 1) / KeyNode.leafMax) {
            let leaf = KeyNode.make(leaf: true)
            let slots = range.map { KeySlot(key: keys[$0], entry: entries[$0], valueHash: valueHashes[$0]) }
            leaf.fillLeaf(slots[...])
            level.append((leaf, keys[range.lowerBound]))
        }
        while level.count > 1 {
            let fanOut = KeyNode.innerMax + 1
            var next: [(node: KeyNode, first: CMapKey)] = []
            for range in Self.evenRanges(level.count, parts: (level.count + fanOut - 1) / fanOut) {
                let inner = KeyNode.make(leaf: false)
                let group = level[range]
                inner.fillInner(separators: group.dropFirst().map(\.first)[...],
                                children: group.map(\.node)[...],
                                counts: group.map(\.node.subtreeCount)[...])
                next.append((inner, group[group.startIndex].first))
            }
            level = next
        }
        root = level[0].node
    }

    /// `0..<n` cut into `parts` consecutive ranges whose sizes differ by at most one.
    private static func evenRanges(_ n: Int, parts: Int) -> [Range<Int>] {
        let base = n / parts
        let extra = n % parts
        var out: [Range<Int>] = []
        var start = 0
        for j in 0..<parts {
            let size = base + (j < extra ? 1 : 0)
            out.append(start..<(start + size))
            start += size
        }
        return out
    }

    /// A description of the first broken invariant, or nil: keys strictly increasing and
    /// inside their separators' bounds, counts right, every leaf at the same depth, non-root
    /// nodes within their minimum and maximum, prefixes shared and fingerprints right, value
    /// hashes right, long values (only they) in the key cell's array.
    func invariantViolation() -> String? {
        guard let root else { return nil }
        var leafDepth: Int? = nil
        var previous: CMapKey? = nil
        func checkPrefix(_ n: KeyNode) -> String? {
            let p = n.h.pointee.prefixLength
            guard p >= 0 && p <= CMapKey.maxNodePrefix else { return "prefix length \(p)" }
            for i in 0..<n.count {
                let k = n.key(i)
                if k.comparePrefix(n.h.pointee.prefix0, n.h.pointee.prefix1, n.h.pointee.prefix2, length: p) != 0 {
                    return "key \(k) does not share the node's \(p)-byte prefix"
                }
                if n.fingerprints[i] != k.word(at: p) { return "stale fingerprint of \(k)" }
            }
            for i in n.count..<KeyNode.fingerprintWords where n.fingerprints[i] != KeyNode.unusedFingerprint {
                return "unused fingerprint \(i) is not marked unused"
            }
            return nil
        }
        func check(_ n: KeyNode, depth: Int, isRoot: Bool, low: CMapKey?, high: CMapKey?) -> String? {
            let minimum = n.isLeaf ? KeyNode.leafMin : KeyNode.innerMin
            let maximum = n.isLeaf ? KeyNode.leafMax : KeyNode.innerMax
            if n.count > maximum || (n.isLeaf && n.count == 0) { return "node with \(n.count) keys" }
            if !isRoot && n.count < minimum { return "underfull node with \(n.count) keys" }
            if isRoot && !n.isLeaf && n.count == 0 { return "inner root without separators" }
            if let problem = checkPrefix(n) { return problem }
            for i in 0..<n.count {
                let k = n.key(i)
                if let low, k < low { return "key \(k) below its bound \(low)" }
                if let high, !(k < high) { return "key \(k) not below its bound \(high)" }
            }
            if n.isLeaf {
                if let d = leafDepth, d != depth { return "leaves at depths \(d) and \(depth)" }
                leafDepth = depth
                for i in 0..<n.count {
                    let s = n.slot(i)
                    if let p = previous, !(p < s.key) { return "keys out of order at \(s.key)" }
                    previous = s.key
                    if s.valueHash != StateHash.ofValue(s.entry.value) { return "stale value hash of \(s.key)" }
                    let long = ValueRecord.isBig(n.record(i))
                    if long != (n.cells[i].big != nil) { return "value of \(s.key) both or neither inline and in an array" }
                }
                return n.subtreeCount == n.count ? nil : "leaf count \(n.subtreeCount), actual \(n.count)"
            }
            if n.h.pointee.childCount != n.count + 1 { return "inner node with wrong child count" }
            for i in 1..<max(1, n.count) where !(n.separators[i - 1] < n.separators[i]) {
                return "separators out of order"
            }
            var total = 0
            for i in 0...n.count {
                let child = n.children[i]
                if child.isLeaf != n.children[0].isLeaf { return "mixed children" }
                let lo = i == 0 ? low : n.separators[i - 1]
                let hi = i == n.count ? high : n.separators[i]
                if let problem = check(child, depth: depth + 1, isRoot: false, low: lo, high: hi) { return problem }
                if n.childCounts[i] != child.subtreeCount { return "child count \(n.childCounts[i]), actual \(child.subtreeCount)" }
                total += child.subtreeCount
            }
            return total == n.subtreeCount ? nil : "subtree count \(n.subtreeCount), actual \(total)"
        }
        return check(root, depth: 0, isRoot: true, low: nil, high: nil)
    }
}
