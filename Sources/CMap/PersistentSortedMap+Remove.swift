/// Removal with the usual B-tree rebalancing (borrow from a sibling, else merge), copying
/// every node on the path that a snapshot still shares.
extension PersistentSortedMap {
    /// Removes the key; returns its value, or nil when it was absent (then nothing, not even
    /// a shared path, is copied).
    @discardableResult
    public mutating func removeValue(forKey key: Key) -> Value? {
        guard root != nil, self[key] != nil else { return nil }
        return removePresentValue(forKey: key)
    }

    /// Removes a key the caller knows is present (one descent instead of a lookup and a
    /// removal); returns its value. An absent key is a programmer error (a trap).
    @discardableResult
    mutating func removePresentValue(forKey key: Key) -> Value {
        guard root != nil else { preconditionFailure("PersistentSortedMap.removePresentValue: the map is empty") }
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
