/// Edits of an inner node: `count` separators and `count + 1` children, with each child's
/// entry count kept beside it so that a rank sums one array instead of visiting children.
extension KeyNode {
    /// A new inner node over two children (a root that grew).
    static func makeInner(left: KeyNode, separator: CMapKey, right: KeyNode) -> KeyNode {
        let n = KeyNode.make(leaf: false)
        n.fillInner(separators: [separator][...], children: [left, right][...],
                    counts: [left.subtreeCount, right.subtreeCount][...])
        return n
    }

    /// Inserts separator `i` with child `i + 1` to its right.
    func innerInsert(_ separator: CMapKey, right: KeyNode, at i: Int) {
        let n = count
        let s = separators
        let fp = fingerprints
        let c = children
        let k = childCounts
        (s + i + 1).moveInitialize(from: s + i, count: n &- i)
        (fp + i + 1).moveInitialize(from: fp + i, count: n &- i)
        (c + i + 2).moveInitialize(from: c + i + 1, count: n &- i)
        (k + i + 2).moveInitialize(from: k + i + 1, count: n &- i)
        (s + i).initialize(to: separator)
        (c + i + 1).initialize(to: right)
        (k + i + 1).initialize(to: right.subtreeCount)
        h.pointee.count = n &+ 1
        h.pointee.childCount = n &+ 2
        let p = h.pointee.prefixLength
        if (i == 0 || i == n) && CMapKey.sharedPrefix(s[0], s[n]) != p {
            refreshPrefix()
        } else {
            fp[i] = separator.word(at: p)
        }
    }

    /// Removes separator `i` and child `i + 1` (an emptied child after a merge).
    func innerRemove(at i: Int) {
        let n = count
        let s = separators
        let fp = fingerprints
        let c = children
        let k = childCounts
        (s + i).deinitialize(count: 1)
        (s + i).moveInitialize(from: s + i + 1, count: n &- i &- 1)
        (fp + i).moveInitialize(from: fp + i + 1, count: n &- i &- 1)
        (c + i + 1).deinitialize(count: 1)
        (c + i + 1).moveInitialize(from: c + i + 2, count: n &- i &- 1)
        (k + i + 1).moveInitialize(from: k + i + 2, count: n &- i &- 1)
        vacate((n &- 1)..<n)
        h.pointee.count = n &- 1
        h.pointee.childCount = n
    }

    /// Replaces separator `i` (after entries moved between its two children).
    func replaceSeparator(_ i: Int, with key: CMapKey) {
        separators[i] = key
        refreshPrefix()
    }

    /// Moves everything out (the node is left empty, without children).
    func drainInner() -> (separators: [CMapKey], children: [KeyNode], counts: [Int]) {
        let n = count
        let kids = h.pointee.childCount
        let s = [CMapKey](unsafeUninitializedCapacity: n) { buffer, initialized in
            if let base = buffer.baseAddress { base.moveInitialize(from: separators, count: n) }
            initialized = n
        }
        let c = [KeyNode](unsafeUninitializedCapacity: kids) { buffer, initialized in
            if let base = buffer.baseAddress { base.moveInitialize(from: children, count: kids) }
            initialized = kids
        }
        let k = Array(UnsafeBufferPointer(start: childCounts, count: kids))
        vacate(0..<n)
        h.pointee.count = 0
        h.pointee.childCount = 0
        h.pointee.subtreeCount = 0
        return (s, c, k)
    }

    /// Fills an empty inner node.
    func fillInner(separators seps: ArraySlice<CMapKey>, children kids: ArraySlice<KeyNode>, counts: ArraySlice<Int>) {
        precondition(count == 0 && h.pointee.childCount == 0 && seps.count <= Self.innerCapacity
            && kids.count == seps.count + 1 && counts.count == kids.count, "fillInner: \(seps.count) separators, \(kids.count) children")
        let s = separators
        let c = children
        let k = childCounts
        for (j, key) in seps.enumerated() { (s + j).initialize(to: key) }
        var total = 0
        for (j, child) in kids.enumerated() { (c + j).initialize(to: child) }
        for (j, n) in counts.enumerated() {
            (k + j).initialize(to: n)
            total &+= n
        }
        h.pointee.count = seps.count
        h.pointee.childCount = kids.count
        h.pointee.subtreeCount = total
        refreshPrefix()
    }

    /// Splits an overfull inner node; returns the separator that moves up and the new
    /// right sibling. As for leaves, an overflow at the end keeps most on the left.
    func splitInner(insertedAt i: Int) -> (separator: CMapKey, right: KeyNode) {
        let n = count
        let m = i == n &- 1 ? n &- 1 &- Self.innerMin : n / 2
        let right = KeyNode.make(leaf: false)
        let rightSeparators = n &- m &- 1
        let up = (separators + m).move()
        right.separators.moveInitialize(from: separators + m + 1, count: rightSeparators)
        right.children.moveInitialize(from: children + m + 1, count: rightSeparators &+ 1)
        right.childCounts.moveInitialize(from: childCounts + m + 1, count: rightSeparators &+ 1)
        right.h.pointee.count = rightSeparators
        right.h.pointee.childCount = rightSeparators &+ 1
        vacate(m..<n)
        h.pointee.count = m
        h.pointee.childCount = m &+ 1
        var total = 0
        for j in 0...rightSeparators { total &+= right.childCounts[j] }
        right.h.pointee.subtreeCount = total
        h.pointee.subtreeCount &-= total
        right.refreshPrefix()
        refreshPrefix()
        return (up, right)
    }
}
