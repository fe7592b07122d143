/// Removal with the usual B-tree rebalancing (borrow from a sibling, else merge), copying
/// every node on the path that a snapshot still shares.
extension PersistentSortedMap {
    /// Removes the key; returns its value, or nil when it was absent (then nothing, not even
    /// a shared path, is copied).
    @discardableResult
    public mutating func removeValue(forKey key: Key) -> Value? {
        guard root != nil, self[key] != nil else { return nil }
        if !isKnownUniquelyReferenced(&root!) { root = root!.copy() }
        let old = Self.remove(from: root!, key)
        if root!.keys.isEmpty {
            root = root!.isLeaf ? nil : root!.children[0]
        }
        return old
    }

    @inline(__always)
    private static func makeUniqueChild(_ n: Node, _ i: Int) {
        if !isKnownUniquelyReferenced(&n.children[i]) { n.children[i] = n.children[i].copy() }
    }

    /// `n` is uniquely referenced and its subtree holds `key`.
    private static func remove(from n: Node, _ key: Key) -> Value {
        let (i, found) = n.search(key)
        n.count &-= 1
        if n.isLeaf {
            precondition(found, "PersistentSortedMap: key vanished during removal")
            n.keys.remove(at: i)
            return n.values.remove(at: i)
        }
        makeUniqueChild(n, i)
        let old: Value
        if found {
            // Replace by the predecessor, the largest entry of the left subtree.
            old = n.values[i]
            let (k, v) = removeMax(from: n.children[i])
            n.keys[i] = k
            n.values[i] = v
        } else {
            old = remove(from: n.children[i], key)
        }
        fixUnderflow(n, i)
        return old
    }

    private static func removeMax(from n: Node) -> (Key, Value) {
        n.count &-= 1
        if n.isLeaf { return (n.keys.removeLast(), n.values.removeLast()) }
        let last = n.children.count - 1
        makeUniqueChild(n, last)
        let result = removeMax(from: n.children[last])
        fixUnderflow(n, last)
        return result
    }

    /// Child `i` of `n` (unique) may have dropped below `minKeys`: borrow or merge.
    private static func fixUnderflow(_ n: Node, _ i: Int) {
        let child = n.children[i]
        guard child.keys.count < minKeys else { return }
        if i > 0 && n.children[i - 1].keys.count > minKeys {
            makeUniqueChild(n, i - 1)
            let left = n.children[i - 1]
            child.keys.insert(n.keys[i - 1], at: 0)
            child.values.insert(n.values[i - 1], at: 0)
            n.keys[i - 1] = left.keys.removeLast()
            n.values[i - 1] = left.values.removeLast()
            var moved = 1
            if !left.isLeaf {
                let grandchild = left.children.removeLast()
                moved &+= grandchild.count
                child.children.insert(grandchild, at: 0)
            }
            left.count &-= moved
            child.count &+= moved
        } else if i + 1 < n.children.count && n.children[i + 1].keys.count > minKeys {
            makeUniqueChild(n, i + 1)
            let right = n.children[i + 1]
            child.keys.append(n.keys[i])
            child.values.append(n.values[i])
            n.keys[i] = right.keys.removeFirst()
            n.values[i] = right.values.removeFirst()
            var moved = 1
            if !right.isLeaf {
                let grandchild = right.children.removeFirst()
                moved &+= grandchild.count
                child.children.append(grandchild)
            }
            right.count &-= moved
            child.count &+= moved
        } else {
            // Merge with a sibling: both are at most minKeys, so the result fits.
            let l = i > 0 ? i - 1 : i
            makeUniqueChild(n, l)
            let left = n.children[l]
            let right = n.children[l + 1]
            left.keys.append(n.keys[l])
            left.values.append(n.values[l])
            left.keys.append(contentsOf: right.keys)
            left.values.append(contentsOf: right.values)
            left.children.append(contentsOf: right.children)
            left.count &+= 1 &+ right.count
            n.keys.remove(at: l)
            n.values.remove(at: l)
            n.children.remove(at: l + 1)
        }
    }
}

/// Building from sorted input (snapshot loading) and checking the invariants (tests).
extension PersistentSortedMap {
    /// A map of `keys[i] → values[i]`. The keys must be strictly increasing (the caller
    /// checks; snapshot decoding rejects a file whose keys are not). O(n), nodes evenly filled.
    public init(sortedKeys keys: [Key], values: [Value]) {
        precondition(keys.count == values.count, "sortedKeys: \(keys.count) keys, \(values.count) values")
        self.init()
        guard !keys.isEmpty else { return }
        var height = 0
        while Self.capacity(height: height) < keys.count { height += 1 }
        root = Self.build(keys, values, keys.startIndex, keys.count, height)
    }

    /// Entries in a full tree of the given height (a leaf has height 0), saturating.
    private static func capacity(height: Int) -> Int {
        var cap = maxKeys
        for _ in 0..<height {
            let (m, o1) = (cap &+ 1).multipliedReportingOverflow(by: maxKeys + 1)
            if o1 { return Int.max }
            cap = m &- 1
        }
        return cap
    }

    private static func build(_ keys: [Key], _ values: [Value], _ lo: Int, _ n: Int, _ height: Int) -> Node {
        if height == 0 {
            return Node(keys: Array(keys[lo..<(lo + n)]), values: Array(values[lo..<(lo + n)]), children: [], count: n)
        }
        let childCapacity = capacity(height: height - 1)
        let c = max(2, (n + 1 + childCapacity) / (childCapacity + 1))
        let inChildren = n - (c - 1)
        let base = inChildren / c
        let extra = inChildren % c
        let node = Node(keys: [], values: [], children: [], count: n)
        node.keys.reserveCapacity(c - 1)
        var position = lo
        for j in 0..<c {
            let size = base + (j < extra ? 1 : 0)
            node.children.append(build(keys, values, position, size, height - 1))
            position += size
            if j < c - 1 {
                node.keys.append(keys[position])
                node.values.append(values[position])
                position += 1
            }
        }
        return node
    }

    /// A description of the first broken invariant, or nil: keys strictly increasing,
    /// counts right, every leaf at the same depth, non-root nodes between minKeys and maxKeys.
    func invariantViolation() -> String? {
        guard let root else { return nil }
        var leafDepth: Int? = nil
        var previous: Key? = nil
        func check(_ n: Node, depth: Int, isRoot: Bool) -> String? {
            if n.keys.count != n.values.count { return "keys and values differ in number" }
            if n.keys.isEmpty || n.keys.count > Self.maxKeys { return "node with \(n.keys.count) keys" }
            if !isRoot && n.keys.count < Self.minKeys { return "underfull node with \(n.keys.count) keys" }
            var total = n.keys.count
            if n.isLeaf {
                if let d = leafDepth, d != depth { return "leaves at depths \(d) and \(depth)" }
                leafDepth = depth
                for k in n.keys {
                    if let p = previous, !(p < k) { return "keys out of order" }
                    previous = k
                }
            } else {
                if n.children.count != n.keys.count + 1 { return "inner node with wrong child count" }
                for i in 0...n.keys.count {
                    if let problem = check(n.children[i], depth: depth + 1, isRoot: false) { return problem }
                    total += n.children[i].count
                    if i < n.keys.count {
                        if let p = previous, !(p < n.keys[i]) { return "keys out of order" }
                        previous = n.keys[i]
                    }
                }
            }
            return total == n.count ? nil : "subtree count \(n.count), actual \(total)"
        }
        return check(root, depth: 0, isRoot: true)
    }
}
