/// Removal with B+ tree rebalancing: a node that drops below its minimum is merged with a
/// sibling when both fit in one node, otherwise the two share their entries evenly. Every
/// node on the path that a snapshot still shares is copied first.
extension KeyTree {
    /// Removes the key; returns its entry and value hash, or nil when it was absent (then
    /// nothing, not even a shared path, is copied).
    mutating func removeValue(forKey key: CMapKey) -> KeySlot? {
        guard root != nil, self[key] != nil else { return nil }
        if !isKnownUniquelyReferenced(&root!) { root = root!.copy() }
        let top = root!
        let old = Self.remove(from: top, key)
        if top.count == 0 {
            root = top.isLeaf ? nil : top.children[0]
        }
        return old
    }

    /// `n` is uniquely referenced and its subtree holds `key`.
    private static func remove(from n: KeyNode, _ key: CMapKey) -> KeySlot {
        if n.isLeaf {
            let (i, found) = n.leafSearch(key)
            precondition(found, "KeyTree: key vanished during removal")
            return n.leafRemove(at: i)
        }
        let i = n.childIndex(key)
        makeUniqueChild(n, i)
        let old = remove(from: n.children[i], key)
        n.h.pointee.subtreeCount &-= 1
        n.childCounts[i] &-= 1
        let child = n.children[i]
        if child.count < (child.isLeaf ? KeyNode.leafMin : KeyNode.innerMin) {
            rebalance(n, i > 0 ? i - 1 : i)
        }
        return old
    }

    @inline(__always)
    private static func makeUniqueChild(_ n: KeyNode, _ i: Int) {
        let c = n.children
        if !isKnownUniquelyReferenced(&c[i]) { c[i] = c[i].copy() }
    }

    /// Merges children `l` and `l + 1` of `n` (unique) when they fit in one node, else
    /// spreads their entries evenly over both. Rare (once per many removals), so it goes
    /// through arrays for clarity.
    private static func rebalance(_ n: KeyNode, _ l: Int) {
        makeUniqueChild(n, l)
        makeUniqueChild(n, l + 1)
        let left = n.children[l]
        let right = n.children[l + 1]
        if left.isLeaf {
            let all = left.drainLeaf() + right.drainLeaf()
            if all.count <= KeyNode.leafMax {
                left.fillLeaf(all[...])
                n.innerRemove(at: l)
            } else {
                let m = all.count / 2
                left.fillLeaf(all[..<m])
                right.fillLeaf(all[m...])
                n.replaceSeparator(l, with: all[m].key)
                n.childCounts[l + 1] = right.subtreeCount
            }
        } else {
            let a = left.drainInner()
            let b = right.drainInner()
            let separators = a.separators + [n.separators[l]] + b.separators
            let children = a.children + b.children
            let counts = a.counts + b.counts
            if separators.count <= KeyNode.innerMax {
                left.fillInner(separators: separators[...], children: children[...], counts: counts[...])
                n.innerRemove(at: l)
            } else {
                let m = separators.count / 2
                left.fillInner(separators: separators[..<m], children: children[...m], counts: counts[...m])
                right.fillInner(separators: separators[(m + 1)...], children: children[(m + 1)...], counts: counts[(m + 1)...])
                n.replaceSeparator(l, with: separators[m])
                n.childCounts[l + 1] = right.subtreeCount
            }
        }
        n.childCounts[l] = left.subtreeCount
    }
}
