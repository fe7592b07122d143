import Testing
@testable import Node

/// The trace's stamp parser reads bench payloads only, but any payload reaches it when
/// tracing is on: it must never trap.
@Suite struct CPGTraceTests {
    @Test func readsTheBenchStamp() {
        #expect(CPGTrace.stamp(Array("t12345xxxx".utf8)) == 12345)
        #expect(CPGTrace.stamp(Array("t45800317601337".utf8)) == 45_800_317_601_337)
    }

    @Test func anythingElseIsZero() {
        #expect(CPGTrace.stamp([UInt8]()) == 0)
        #expect(CPGTrace.stamp(Array("t".utf8)) == 0)
        #expect(CPGTrace.stamp(Array("hello".utf8)) == 0)
        #expect(CPGTrace.stamp(Array("12345".utf8)) == 0)
    }

    @Test func longDigitRunsStopAtTwentyWithoutTrapping() {
        let digits = Array(("t" + String(repeating: "9", count: 40)).utf8)
        // 20 nines wrap around UInt64 (&* and &+): a value, not a crash.
        var expected: UInt64 = 0
        for _ in 0..<20 { expected = expected &* 10 &+ 9 }
        #expect(CPGTrace.stamp(digits) == expected)
    }
}
