/// An ordered map with O(1) copies: a B-tree whose nodes are shared between copies and
/// copied on the first write through a shared path (path copying). Copying the map is one
/// reference count increment, so a snapshot captures the whole store in O(1) and encodes it
/// on another thread while writes go on (DESIGN.md section 6).
///
/// Classic B-tree (entries in inner nodes too), fat nodes of up to `maxKeys` entries so a
/// lookup touches about four nodes per million keys. Each node also keeps the number of
/// entries in its subtree, so the rank of a key, and therefore the number of keys with a
/// prefix, is found in O(log n).
public struct PersistentSortedMap<Key: Comparable, Value> {
    static var maxKeys: Int { 64 }
    static var minKeys: Int { maxKeys / 2 }

    var root: Node?

    public init() {}

    public var count: Int { root?.count ?? 0 }
    public var isEmpty: Bool { root == nil }

    /// The tree's nodes. A node is mutated only while the map that mutates it holds the only
    /// reference to it (`isKnownUniquelyReferenced`); a node reachable from two copies is
    /// never written, it is copied first. That is why sharing nodes across threads is safe.
    ///
    /// Its fields opt out of the runtime exclusivity checks: every access is a short read or
    /// an in-place edit by the single owner above, never overlapping another, and the checks
    /// (a thread-local access set per `n.keys.insert`) cost more than the edits themselves
    /// in the duplicate table, which changes on every write.
    final class Node: @unchecked Sendable {
        @exclusivity(unchecked) var keys: [Key]
        @exclusivity(unchecked) var values: [Value]
        /// Empty for a leaf; otherwise exactly `keys.count + 1` children.
        @exclusivity(unchecked) var children: [Node]
        /// Entries in this subtree.
        @exclusivity(unchecked) var count: Int

        init(keys: [Key], values: [Value], children: [Node], count: Int) {
            self.keys = keys
            self.values = values
            self.children = children
            self.count = count
        }

        var isLeaf: Bool { children.isEmpty }

        func copy() -> Node {
            Node(keys: keys, values: values, children: children, count: count)
        }

        /// The first position whose key is >= `key`, and whether it is equal.
        @inline(__always)
        func search(_ key: Key) -> (index: Int, found: Bool) {
            // One access to the class's array for the whole search: indexing `self.keys`
            // in the loop paid an exclusivity check and a retain per probe.
            keys.withUnsafeBufferPointer { keys in
                var lo = 0
                var hi = keys.count
                while lo < hi {
                    let mid = (lo &+ hi) >> 1
                    if keys[mid] < key { lo = mid &+ 1 } else { hi = mid }
                }
                return (lo, lo < keys.count && !(key < keys[lo]))
            }
        }

        func recount() {
            var total = keys.count
            for child in children { total &+= child.count }
            count = total
        }
    }

    // MARK: Reading

    public subscript(key: Key) -> Value? {
        var node = root
        while let n = node {
            let (i, found) = n.search(key)
            if found { return n.values[i] }
            if n.isLeaf { return nil }
            node = n.children[i]
        }
        return nil
    }

    /// The number of keys strictly smaller than `key`.
    public func rank(of key: Key) -> Int {
        var total = 0
        var node = root
        while let n = node {
            let (i, found) = n.search(key)
            total &+= i
            if !n.isLeaf {
                for c in 0..<i { total &+= n.children[c].count }
            }
            if found || n.isLeaf {
                if found && !n.isLeaf { total &+= n.children[i].count }
                return total
            }
            node = n.children[i]
        }
        return total
    }

    /// The smallest entry, if any.
    public var first: (key: Key, value: Value)? {
        guard var n = root else { return nil }
        while !n.isLeaf { n = n.children[0] }
        return (n.keys[0], n.values[0])
    }

    /// Calls `body` on entries with key >= `start` (or > `start` when `inclusive` is false),
    /// in key order, until it returns false. O(log n + k) for k visited entries.
    public func forEach(from start: Key, inclusive: Bool = true, _ body: (Key, Value) -> Bool) {
        guard let root else { return }
        _ = Self.visit(root, from: start, inclusive: inclusive, body)
    }

    /// Every entry in key order, until `body` returns false.
    public func forEach(_ body: (Key, Value) -> Bool) {
        guard let root else { return }
        _ = Self.visitAll(root, body)
    }

    private static func visit(
        _ n: Node, from start: Key, inclusive: Bool, _ body: (Key, Value) -> Bool
    ) -> Bool {
        var (i, found) = n.search(start)
        if n.isLeaf {
            if found && !inclusive { i += 1 }
            while i < n.keys.count {
                if !body(n.keys[i], n.values[i]) { return false }
                i += 1
            }
            return true
        }
        if found {
            // Everything in children[i] is smaller than the start key.
            if inclusive, !body(n.keys[i], n.values[i]) { return false }
            if !visitAll(n.children[i + 1], body) { return false }
            i += 1
        } else if !visit(n.children[i], from: start, inclusive: inclusive, body) {
            return false
        }
        while i < n.keys.count {
            if !body(n.keys[i], n.values[i]) { return false }
            if !visitAll(n.children[i + 1], body) { return false }
            i += 1
        }
        return true
    }

    private static func visitAll(_ n: Node, _ body: (Key, Value) -> Bool) -> Bool {
        if n.isLeaf {
            for i in 0..<n.keys.count where !body(n.keys[i], n.values[i]) { return false }
            return true
        }
        for i in 0..<n.keys.count {
            if !visitAll(n.children[i], body) { return false }
            if !body(n.keys[i], n.values[i]) { return false }
        }
        return visitAll(n.children[n.keys.count], body)
    }

    // MARK: Inserting

    /// Inserts or replaces; returns the previous value.
    @discardableResult
    public mutating func updateValue(_ value: Value, forKey key: Key) -> Value? {
        updateValue(value, forKey: key, keepingIf: nil)
    }

    /// Inserts or replaces, except that an existing value for which `keep` returns true is
    /// left in place; returns the previous value either way. One descent of the tree (a
    /// lookup followed by an update would walk it twice).
    @discardableResult
    public mutating func updateValue(_ value: Value, forKey key: Key, keepingIf keep: ((Value) -> Bool)?) -> Value? {
        guard root != nil else {
            root = Node(keys: [key], values: [value], children: [], count: 1)
            return nil
        }
        if !isKnownUniquelyReferenced(&root!) { root = root!.copy() }
        let (old, split) = Self.insert(into: root!, key, value, keep: keep)
        if let split {
            let left = root!
            root = Node(
                keys: [split.key], values: [split.value], children: [left, split.right],
                count: left.count &+ 1 &+ split.right.count)
        }
        return old
    }

    private struct Split {
        var key: Key
        var value: Value
        var right: Node
    }

    /// `n` is uniquely referenced by the caller.
    private static func insert(into n: Node, _ key: Key, _ value: Value, keep: ((Value) -> Bool)?) -> (Value?, Split?) {
        let (i, found) = n.search(key)
        if found {
            let old = n.values[i]
            if let keep, keep(old) { return (old, nil) }
            n.values[i] = value
            return (old, nil)
        }
        if n.isLeaf {
            n.keys.insert(key, at: i)
            n.values.insert(value, at: i)
        } else {
            if !isKnownUniquelyReferenced(&n.children[i]) { n.children[i] = n.children[i].copy() }
            let (old, split) = insert(into: n.children[i], key, value, keep: keep)
            if old != nil { return (old, nil) }
            if let split {
                n.keys.insert(split.key, at: i)
                n.values.insert(split.value, at: i)
                n.children.insert(split.right, at: i + 1)
            }
        }
        n.count &+= 1
        return (nil, n.keys.count > maxKeys ? split(n) : nil)
    }

    /// Splits an overfull node around its median; `n` keeps the left half.
    private static func split(_ n: Node) -> Split {
        let mid = n.keys.count / 2
        let right = Node(
            keys: Array(n.keys[(mid + 1)...]), values: Array(n.values[(mid + 1)...]),
            children: n.isLeaf ? [] : Array(n.children[(mid + 1)...]), count: 0)
        let split = Split(key: n.keys[mid], value: n.values[mid], right: right)
        n.keys.removeSubrange(mid...)
        n.values.removeSubrange(mid...)
        if !n.isLeaf { n.children.removeSubrange((mid + 1)...) }
        right.recount()
        n.recount()
        return split
    }
}

extension PersistentSortedMap: Sendable where Key: Sendable, Value: Sendable {}
