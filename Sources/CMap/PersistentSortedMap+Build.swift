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
