import Basics
import Testing
@testable import Simulation

@Suite struct IndexTableTests {
    /// Against a dictionary: sets in order, with gaps, below the lowest index, overwrites
    /// and removals give the same lookups and the same sorted contents.
    @Test func behavesAsADictionary() {
        var rng = SeededGenerator(seed: 11)
        var table = IndexTable<UInt64>()
        var reference: [LogIndex: UInt64] = [:]
        for step in 0..<5_000 {
            let index: LogIndex
            switch rng.next() % 4 {
            case 0: index = LogIndex(UInt64(step / 2 + 1))            // mostly increasing
            case 1: index = LogIndex(rng.next() % 3_000)              // anywhere, gaps included
            case 2: index = LogIndex(rng.next() % 20)                 // low, often below the first set
            default: index = LogIndex(UInt64(step) + rng.next() % 50)
            }
            let value: UInt64? = rng.next() % 6 == 0 ? nil : rng.next()
            table[index] = value
            reference[index] = value
            let probe = LogIndex(rng.next() % 3_100)
            #expect(table[probe] == reference[probe])
        }
        #expect(table.count == reference.count)
        let sorted = reference.sorted { $0.key < $1.key }
        #expect(table.sorted.map(\.index) == sorted.map(\.key))
        #expect(table.sorted.map(\.value) == sorted.map(\.value))
    }
}
