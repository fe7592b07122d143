import Basics
import Testing
@testable import CMap

@Suite struct PersistentSortedMapTests {
    typealias Map = PersistentSortedMap<Int, Int>

    func elements(_ m: Map) -> [(Int, Int)] {
        var out: [(Int, Int)] = []
        m.forEach { out.append(($0, $1)); return true }
        return out
    }

    /// Random inserts and removals against a dictionary oracle, checking the B-tree
    /// invariants, order, counts and ranks along the way.
    @Test(arguments: [1, 2, 3, 4])
    func matchesADictionary(seed: UInt64) {
        var rng = SeededGenerator(seed: seed)
        var m = Map()
        var oracle: [Int: Int] = [:]
        let keySpace = seed.isMultiple(of: 2) ? 300 : 5000
        for step in 0..<20_000 {
            let k = Int.random(in: 0..<keySpace, using: &rng)
            if Int.random(in: 0..<3, using: &rng) == 0 {
                #expect(m.removeValue(forKey: k) == oracle.removeValue(forKey: k))
            } else {
                #expect(m.updateValue(step, forKey: k) == oracle.updateValue(step, forKey: k))
            }
            if step % 2000 == 0 {
                #expect(m.invariantViolation() == nil)
            }
        }
        #expect(m.invariantViolation() == nil)
        #expect(m.count == oracle.count)
        let expected = oracle.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        #expect(elements(m).map(\.0) == expected.map(\.0))
        #expect(elements(m).map(\.1) == expected.map(\.1))
        let sortedKeys = expected.map(\.0)
        for probe in stride(from: -1, through: keySpace + 1, by: 7) {
            #expect(m.rank(of: probe) == sortedKeys.count { $0 < probe })
            #expect(m[probe] == oracle[probe])
        }
        // Removing everything empties the tree.
        for k in sortedKeys.shuffled(using: &rng) { m.removeValue(forKey: k) }
        #expect(m.isEmpty && m.count == 0)
    }

    @Test func forEachFromAStartKey() {
        var m = Map()
        for k in stride(from: 0, to: 10_000, by: 2) { m.updateValue(k, forKey: k) }
        for start in [-5, 0, 1, 2, 999, 1000, 5001, 9998, 9999, 20_000] {
            for inclusive in [true, false] {
                var seen: [Int] = []
                m.forEach(from: start, inclusive: inclusive) { k, _ in
                    seen.append(k)
                    return seen.count < 50
                }
                let expected = Array(stride(from: 0, to: 10_000, by: 2).filter { inclusive ? $0 >= start : $0 > start }.prefix(50))
                #expect(seen == expected, "start \(start) inclusive \(inclusive)")
            }
        }
    }

    /// A copy is unchanged by any later write to the original, and vice versa.
    @Test func copiesAreIsolated() {
        var rng = SeededGenerator(seed: 9)
        var m = Map()
        for k in 0..<3000 { m.updateValue(k, forKey: k) }
        let frozen = m
        let frozenElements = elements(frozen)
        var copies: [(Map, [(Int, Int)])] = [(frozen, frozenElements)]
        for round in 0..<5 {
            for _ in 0..<2000 {
                let k = Int.random(in: 0..<4000, using: &rng)
                if Bool.random(using: &rng) { m.updateValue(-round, forKey: k) } else { m.removeValue(forKey: k) }
            }
            copies.append((m, elements(m)))
        }
        for (copy, expected) in copies {
            #expect(elements(copy).map(\.0) == expected.map(\.0))
            #expect(elements(copy).map(\.1) == expected.map(\.1))
            #expect(copy.invariantViolation() == nil)
        }
    }

    @Test func bulkBuildGivesAValidTree() {
        for n in [0, 1, 2, 63, 64, 65, 66, 129, 130, 1000, 4224, 4225, 4226, 20_000, 300_001] {
            let keys = Array(0..<n).map { $0 * 3 }
            let m = Map(sortedKeys: keys, values: keys.map { -$0 })
            #expect(m.invariantViolation() == nil, "n = \(n)")
            #expect(m.count == n)
            if n > 0 {
                #expect(m[keys[n / 2]] == -keys[n / 2])
                #expect(m.rank(of: keys[n - 1]) == n - 1)
            }
        }
        // A bulk-built tree keeps working under writes.
        var m = Map(sortedKeys: Array(0..<5000), values: Array(0..<5000))
        for k in stride(from: 0, to: 5000, by: 3) { m.removeValue(forKey: k) }
        for k in 5000..<6000 { m.updateValue(k, forKey: k) }
        #expect(m.invariantViolation() == nil)
        #expect(m.count == 5000 - 1667 + 1000)
    }
}

