import Basics
import Testing
@testable import CMap

/// Property tests of the store's B+ tree (KeyTree, KeyNode): random operations against a
/// sorted-array model, with snapshots (copies) taken along the way that must not change.
@Suite struct KeyTreeTests {
    /// The model: entries sorted by key.
    struct Model {
        var items: [(key: CMapKey, entry: CMapEntry)] = []

        func position(_ key: CMapKey) -> (index: Int, found: Bool) {
            var lo = 0
            var hi = items.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if items[mid].key < key { lo = mid + 1 } else { hi = mid }
            }
            return (lo, lo < items.count && items[lo].key == key)
        }

        subscript(key: CMapKey) -> CMapEntry? {
            let (i, found) = position(key)
            return found ? items[i].entry : nil
        }
    }

    /// Keys of several shapes: short, one byte, prefixes of each other, sharing a prefix
    /// longer than the 24 inline bytes, 255 bytes long and differing only near the end or
    /// right after the inline bytes (fingerprints from the key's tail).
    struct KeyMaker {
        var rng: SeededGenerator
        let space: Int

        mutating func int(_ n: Int) -> Int { Int.random(in: 0..<n, using: &rng) }

        mutating func key() -> CMapKey {
            let n = int(space)
            let long = String(repeating: "p", count: 200)
            switch int(8) {
            case 0: return CMapKey(String(UnicodeScalar(UInt8(ascii: "a") + UInt8(n % 26))))
            case 1: return CMapKey(String(repeating: "a", count: 1 + n % 40))
            case 2: return CMapKey("service.configuration.database.replica.\(n)")
            case 3: return CMapKey("service.configuration.databas\(n % 7).\(n)")
            case 4:
                let digits = String(n)
                return CMapKey(String(long.prefix(255 - digits.count)) + digits)
            case 5:
                // 24 shared bytes, then the varying part inside bytes 24..<32.
                return CMapKey("abcdefghijklmnopqrstuvwx\(n)yz" + String(repeating: "q", count: n % 50))
            default: return CMapKey("k.\(n % 97).\(n)")
            }
        }

        mutating func value() -> CMapValue {
            // Few distinct values, so stores of identical values happen often.
            // Leaves store values of at most ValueRecord.inlineBytes (104) in the leaf and
            // longer ones in an array: lengths around that bound, and every number type
            // (bit patterns: -0.0 differs from 0.0, a NaN equals itself).
            switch int(10) {
            case 0: .uint32(UInt32(int(3)))
            case 1: .string("v\(int(3))")
            case 2: .binary(Array("v\(int(3))".utf8))
            case 3: .binary(Array(repeating: UInt8(int(2)), count: ValueRecord.inlineBytes - 1 + int(3)))
            case 4: [.int8(-1), .uint8(255), .int16(-2), .uint16(7), .int64(Int64.min), .uint64(UInt64.max)][int(6)]
            case 5: [.double(0), .double(-0.0), .double(.nan), .float(-0.0), .float(.nan), .int32(-5)][int(6)]
            case 6: .string([])
            default: .string(String(repeating: "x", count: int(240)))
            }
        }
    }

    func entries(_ t: KeyTree) -> [(key: CMapKey, entry: CMapEntry)] {
        var out: [(key: CMapKey, entry: CMapEntry)] = []
        t.forEach { out.append(($0, $1)); return true }
        return out
    }

    func same(_ t: KeyTree, _ m: Model) -> Bool {
        let e = entries(t)
        return t.count == m.items.count && e.count == m.items.count
            && zip(e, m.items).allSatisfy { $0.key == $1.key && $0.entry == $1.entry }
    }

    /// Searches that must agree with the model: lookups, ranks and scans from keys present,
    /// absent, the empty key (below every key) and a 256-byte bound of 0xFF bytes (above).
    func checkSearches(_ t: KeyTree, _ m: Model, _ maker: inout KeyMaker) {
        var probes = (0..<20).map { _ in maker.key() }
        probes.append(CMapKey(unchecked: []))
        probes.append(CMapKey(unchecked: [UInt8](repeating: 0xFF, count: 256)))
        probes.append(CMapKey(unchecked: Array("service.configuration.".utf8) + [0xFF]))
        if let first = m.items.first { probes.append(first.key) }
        if let last = m.items.last { probes.append(last.key) }
        for probe in probes {
            let (i, found) = m.position(probe)
            #expect(t[probe] == m[probe], "lookup \(probe)")
            #expect(t.rank(of: probe) == i, "rank \(probe)")
            for inclusive in [true, false] {
                var seen: [CMapKey] = []
                t.forEach(from: probe, inclusive: inclusive) { k, _ in
                    seen.append(k)
                    return seen.count < 5
                }
                let start = found && !inclusive ? i + 1 : i
                let expected = m.items[start..<min(start + 5, m.items.count)].map(\.key)
                #expect(seen == expected, "scan from \(probe) inclusive \(inclusive)")
            }
        }
    }

    @Test(arguments: [1, 2, 3, 4, 5, 6])
    func matchesASortedArray(seed: UInt64) {
        var maker = KeyMaker(rng: SeededGenerator(seed: seed), space: seed.isMultiple(of: 2) ? 150 : 3000)
        var t = KeyTree()
        var m = Model()
        var snapshots: [(KeyTree, Model)] = []
        for step in 0..<12_000 {
            let key = maker.key()
            if maker.int(3) == 0 {
                let (i, found) = m.position(key)
                let removed = t.removeValue(forKey: key)
                #expect((removed != nil) == found)
                if found {
                    #expect(removed?.entry == m.items[i].entry)
                    #expect(removed?.valueHash == StateHash.ofValue(m.items[i].entry.value))
                    m.items.remove(at: i)
                }
            } else {
                let entry = CMapEntry(value: maker.value(), version: LogIndex(UInt64(step + 1)))
                let (i, found) = m.position(key)
                switch t.store(key, entry).0 {
                case .added:
                    #expect(!found)
                    m.items.insert((key, entry), at: i)
                case .replaced(let old, let oldHash):
                    #expect(found && old == m.items[i].entry && old.value != entry.value)
                    #expect(oldHash == StateHash.ofValue(old.value))
                    m.items[i].entry = entry
                case .identical:
                    #expect(found && m.items[i].entry.value == entry.value)
                }
            }
            if step % 1500 == 0 {
                snapshots.append((t, m))
                #expect(t.invariantViolation() == nil, "step \(step)")
                checkSearches(t, m, &maker)
            }
        }
        #expect(t.invariantViolation() == nil)
        #expect(same(t, m))
        checkSearches(t, m, &maker)
        // Snapshots taken mid-way are unchanged by everything written after them.
        for (snapshot, model) in snapshots {
            #expect(snapshot.invariantViolation() == nil)
            #expect(same(snapshot, model))
        }
        // Removing everything empties the tree; the snapshots still stand.
        for (key, _) in m.items.shuffled(using: &maker.rng) { _ = t.removeValue(forKey: key) }
        #expect(t.isEmpty && t.count == 0)
        #expect(snapshots.allSatisfy { same($0.0, $0.1) })
    }

    /// The value is hashed only when stored: the outcomes, the tree and the returned hash are
    /// those the model gives, when values are often re-set to what they hold (same type and
    /// bytes) or changed to one of equal length and type, the two cases the byte comparison
    /// decides.
    @Test(arguments: [7, 8])
    func storeHashesOnlyWhatItStores(seed: UInt64) {
        var maker = KeyMaker(rng: SeededGenerator(seed: seed), space: 200)
        var t = KeyTree()
        var m = Model()
        var identical = 0, replaced = 0
        for step in 0..<6_000 {
            let key = maker.key()
            let (i, found) = m.position(key)
            // Half the time, the value the key holds (in storage of its own: the comparison
            // must not rely on sharing the array).
            let value = found && maker.int(2) == 0 ? Self.copied(m.items[i].entry.value) : maker.value()
            let entry = CMapEntry(value: value, version: LogIndex(UInt64(step + 1)))
            let (outcome, hash) = t.store(key, entry)
            #expect(hash == StateHash.ofValue(entry.value))
            switch outcome {
            case .added where !found:
                m.items.insert((key, entry), at: i)
            case .replaced(let old, let oldHash) where found && m.items[i].entry.value != value:
                #expect(old == m.items[i].entry && oldHash == StateHash.ofValue(old.value))
                m.items[i].entry = entry
                replaced += 1
            case .identical where found && m.items[i].entry.value == value:
                identical += 1
            default:
                Issue.record("step \(step): \(outcome) for a key \(found ? "held" : "absent")")
            }
        }
        #expect(identical > 500 && replaced > 500)
        #expect(same(t, m))
        #expect(t.invariantViolation() == nil)
    }

    static func copied(_ v: CMapValue) -> CMapValue {
        switch v {
        case .string(let b): .string(b.map { $0 })
        case .binary(let b): .binary(b.map { $0 })
        default: v
        }
    }

    func key(_ i: Int) -> CMapKey { CMapKey("node.boundary.\(1_000_000 + i)") }

    func entry(_ i: Int) -> CMapEntry { CMapEntry(value: .uint64(UInt64(i)), version: LogIndex(UInt64(i + 1))) }

    func store(_ t: inout KeyTree, _ m: inout Model, _ i: Int) {
        let e = entry(i)
        _ = t.store(key(i), e).0
        let (p, found) = m.position(key(i))
        if found { m.items[p].entry = e } else { m.items.insert((key(i), e), at: p) }
    }

    /// Node sizes just below, at and above the limits; ascending, descending and alternating
    /// insertion orders; removals that force borrows and merges, with a snapshot at each size.
    @Test func splitsAndMergesAtNodeBoundaries() {
        let leaf = KeyNode.leafMax
        let fanOut = KeyNode.innerMax + 1
        for n in [1, leaf - 1, leaf, leaf + 1, 2 * leaf + 1, leaf * fanOut - 1, leaf * fanOut + 1] {
            for order in 0..<3 {
                var t = KeyTree()
                var m = Model()
                let indices: [Int] = switch order {
                case 0: Array(0..<n)
                case 1: Array((0..<n).reversed())
                default: (0..<n).map { $0.isMultiple(of: 2) ? $0 / 2 : n - 1 - $0 / 2 }
                }
                for i in indices { store(&t, &m, i) }
                #expect(t.invariantViolation() == nil, "n \(n) order \(order)")
                #expect(same(t, m))
                let snapshot = (t, m)
                // Remove from one end, from the middle, then everything else.
                for i in stride(from: 0, to: n, by: 2) { _ = t.removeValue(forKey: key(i)) }
                m.items.removeAll { $0.key < key(n) && Int($0.key.description.dropFirst(14))!.isMultiple(of: 2) }
                #expect(t.invariantViolation() == nil, "n \(n) order \(order) after removals")
                #expect(same(t, m))
                for i in 0..<n { _ = t.removeValue(forKey: key(i)) }
                #expect(t.isEmpty)
                #expect(same(snapshot.0, snapshot.1))
                #expect(snapshot.0.invariantViolation() == nil)
            }
        }
    }

    @Test func bulkBuildAtNodeBoundaries() {
        let leaf = KeyNode.leafMax
        let fanOut = KeyNode.innerMax + 1
        for n in [0, 1, 2, leaf, leaf + 1, leaf * fanOut, leaf * fanOut + 1, 3 * leaf * fanOut + 7] {
            let keys = (0..<n).map(key)
            let entries = (0..<n).map(entry)
            var t = KeyTree(sortedKeys: keys, entries: entries, valueHashes: entries.map { StateHash.ofValue($0.value) })
            #expect(t.invariantViolation() == nil, "n = \(n)")
            #expect(t.count == n)
            if n > 0 {
                #expect(t[keys[n / 2]] == entries[n / 2])
                #expect(t.rank(of: keys[n - 1]) == n - 1)
            }
            // A bulk-built tree keeps working under writes.
            var m = Model(items: Array(zip(keys, entries)))
            for i in stride(from: 0, to: n, by: 3) {
                let k = key(i)
                _ = t.removeValue(forKey: k)
                m.items.removeAll { $0.key == k }
            }
            for i in n..<(n + 100) { store(&t, &m, i) }
            #expect(t.invariantViolation() == nil, "n = \(n) after writes")
            #expect(same(t, m))
        }
    }

    /// A key that ends exactly where its node's fingerprint window ends is not the longer
    /// stored key that continues after it (the fingerprints are equal), nor the reverse.
    @Test func keyEndingAtTheFingerprintWindow() {
        let short = CMapKey("abcdefghijklmnopqrstuvwxyzABCDEF") // 32 bytes: prefix 24 + window 8
        let long = CMapKey("abcdefghijklmnopqrstuvwxyzABCDEFG")
        let shorter = CMapKey("abcdefghijklmnopqrstuvwxyzABCDE")
        for (stored, probe) in [(long, short), (short, long), (long, shorter), (short, shorter)] {
            var t = KeyTree()
            let e = CMapEntry(value: .uint8(1), version: LogIndex(1))
            _ = t.store(stored, e).0
            // A second key sharing the 24-byte prefix so the node's prefix is 24 bytes long.
            _ = t.store(CMapKey("abcdefghijklmnopqrstuvwxZZ"), e).0
            #expect(t[probe] == nil, "\(probe) found in a tree holding \(stored)")
            #expect(t[stored] == e)
            guard case .added = t.store(probe, e).0 else {
                Issue.record("\(probe) was not added next to \(stored)")
                continue
            }
            #expect(t.count == 3 && t.invariantViolation() == nil)
        }
    }

    /// The leaf holding `key` and every node above it.
    func path(_ t: KeyTree, _ key: CMapKey) -> [ObjectIdentifier] {
        guard var n = t.root else { return [] }
        var out = [ObjectIdentifier(n)]
        while !n.isLeaf {
            n = n.children[n.childIndex(key)]
            out.append(ObjectIdentifier(n))
        }
        return out
    }

    /// An overwrite of a tree that nothing shares changes its nodes in place (no path copy);
    /// after a copy is taken the first overwrite copies the path once, leaves the copy's
    /// nodes and values alone, and the next overwrite is in place again. Values of every
    /// representation: number, inline bytes, bytes in an array.
    @Test func overwritesInPlaceUnlessShared() {
        let n = 20_000
        var t = KeyTree()
        for i in 0..<n { _ = t.store(key(i), entry(i)).0 }
        let k = key(n / 3)
        let values: [CMapValue] = [.uint64(7), .string(String(repeating: "i", count: 100)),
                                   .binary(Array(repeating: 9, count: 300)), .int8(-3)]
        var version: UInt64 = 1_000_000
        for value in values {
            version += 1
            let before = path(t, k)
            #expect(before.count >= 3)
            _ = t.store(k, CMapEntry(value: value, version: LogIndex(version))).0
            #expect(path(t, k) == before, "unshared overwrite copied a node")
            #expect(t[k] == CMapEntry(value: value, version: LogIndex(version)))

            let snapshot = t
            let old = t[k]
            let replacement: CMapValue = .string(String(repeating: "r", count: Int(version % 200)))
            version += 1
            _ = t.store(k, CMapEntry(value: replacement, version: LogIndex(version))).0
            let copied = path(t, k)
            #expect(zip(copied, before).allSatisfy { $0 != $1 }, "a shared node was written in place")
            #expect(path(snapshot, k) == before)
            #expect(snapshot[k] == old && t[k]?.value == replacement)
            version += 1
            _ = t.store(k, CMapEntry(value: value, version: LogIndex(version))).0
            #expect(path(t, k) == copied, "overwrite after the path copy copied again")
            #expect(snapshot[k] == old && snapshot.invariantViolation() == nil && t.invariantViolation() == nil)
        }
    }

    @Test func emptyTree() {
        var t = KeyTree()
        #expect(t.count == 0 && t.isEmpty)
        #expect(t[CMapKey("a")] == nil)
        #expect(t.rank(of: CMapKey(unchecked: [])) == 0)
        #expect(t.removeValue(forKey: CMapKey("a")) == nil)
        var visited = 0
        t.forEach { _, _ in visited += 1; return true }
        t.forEach(from: CMapKey("a")) { _, _ in visited += 1; return true }
        #expect(visited == 0)
        #expect(t.invariantViolation() == nil)
    }
}
