import CMap
import Testing

@Suite struct SnapshotPolicyTests {
    @Test func growthRuleWaitsForTheLogToReachTheLastSnapshotsSize() {
        var p = SnapshotPolicy(everyEntries: 2, everyBytes: 0, growthPercent: 100)
        // Before any snapshot the count rule alone decides.
        #expect([p.recordApplied(bytes: 10), p.recordApplied(bytes: 10)] == [false, true])
        p.snapshotTaken()
        p.snapshotWritten(bytes: 100)
        // Two entries are due by count, but 20 bytes is less than 100 % of 100.
        let due = (0..<10).map { _ in p.recordApplied(bytes: 10) }
        #expect(due == [false, false, false, false, false, false, false, false, false, true])
        #expect(p.bytesSinceSnapshot == 100)
    }

    @Test func growthPercentScalesAndZeroTurnsTheRuleOff() {
        var half = SnapshotPolicy(everyEntries: 1, everyBytes: 0, growthPercent: 50)
        half.snapshotWritten(bytes: 100)
        #expect([half.recordApplied(bytes: 49), half.recordApplied(bytes: 1)] == [false, true])
        var off = SnapshotPolicy(everyEntries: 1, everyBytes: 0, growthPercent: 0)
        off.snapshotWritten(bytes: 1 << 40)
        let dueAtOnce = off.recordApplied(bytes: 1)
        #expect(dueAtOnce)
    }

    @Test func growthRuleDoesNotOverflowOnHugeSizes() {
        var p = SnapshotPolicy(everyEntries: 1, everyBytes: 0, growthPercent: 10_000)
        p.snapshotWritten(bytes: Int.max)
        // 100 x (2^64 - 2) bytes applied against 10,000 % of 2^63 - 1: not due, and no trap
        // in the products, which exceed 64 bits.
        #expect([p.recordApplied(bytes: Int.max), p.recordApplied(bytes: Int.max)] == [false, false])
        var small = SnapshotPolicy(everyEntries: 1, everyBytes: 0, growthPercent: 10_000)
        small.snapshotWritten(bytes: 1)
        #expect([small.recordApplied(bytes: 99), small.recordApplied(bytes: 1)] == [false, true])
    }
}
