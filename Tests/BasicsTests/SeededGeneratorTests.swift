import Basics
import Testing

@Suite struct SeededGeneratorTests {
    @Test func sameSeedSameStream() {
        var a = SeededGenerator(seed: 7)
        var b = SeededGenerator(seed: 7)
        for _ in 0..<100 { #expect(a.next() == b.next()) }
    }

    @Test func differentSeedsDiffer() {
        var a = SeededGenerator(seed: 7)
        var b = SeededGenerator(seed: 8)
        #expect((0..<10).map { _ in a.next() } != (0..<10).map { _ in b.next() })
    }

    @Test func chanceBounds() {
        var g = SeededGenerator(seed: 1)
        #expect(!(0..<1000).contains { _ in g.chance(0) })
        #expect((0..<1000).allSatisfy { _ in g.chance(1) })
    }
}
