import Foundation
import Testing
@testable import totemkv

/// The summary arithmetic: rates, percentiles, errors by kind, ack gaps and the kill report.
struct BenchSummaryTests {
    private func plan(_ arguments: [String] = []) throws -> BenchPlan {
        try BenchCommand.parse(arguments).plan()
    }

    @Test func theAckTimelineFindsTheLongestGapAndTheGapAroundAnInstant() {
        var timeline = BenchAckTimeline(capacityMilliseconds: 10_000)
        #expect(timeline.longestGap() == nil)
        timeline.mark(5)
        #expect(timeline.longestGap() == nil)
        for ms in [6, 7, 8, 200, 201, 3_900, 3_901, 4_000] { timeline.mark(ms) }
        timeline.mark(10_000) // past the capacity: ignored
        timeline.mark(-1)
        #expect(!timeline.isMarked(10_000))
        #expect(timeline.longestGap() == .init(from: 201, to: 3_900))
        #expect(timeline.longestGap(endingAfter: 1_000) == .init(from: 201, to: 3_900))
        #expect(timeline.longestGap(endingAfter: 7) == .init(from: 201, to: 3_900)) // a later, longer gap
        #expect(timeline.longestGap(endingAfter: 3_900) == .init(from: 3_901, to: 4_000))
        #expect(timeline.longestGap(endingAfter: 3) == .init(from: 201, to: 3_900))
        #expect(timeline.longestGap(endingAfter: 4_000) == nil) // nothing after
        #expect(Array(timeline.markedMilliseconds()) == [5, 6, 7, 8, 200, 201, 3_900, 3_901, 4_000])
    }

    @Test func timelinesOfSeveralLoopsUnite() {
        var a = BenchAckTimeline(capacityMilliseconds: 1000)
        var b = BenchAckTimeline(capacityMilliseconds: 1000)
        for ms in stride(from: 0, to: 1000, by: 2) { a.mark(ms) }
        for ms in stride(from: 1, to: 500, by: 2) { b.mark(ms) }
        #expect(a.longestGap()?.milliseconds == 2)
        a.formUnion(b)
        // Continuous to 500, then every 2 ms: the earliest of the equal gaps.
        #expect(a.longestGap() == .init(from: 500, to: 502))
        #expect(Array(a.markedMilliseconds()).count == 750)
    }

    @Test func ratesAndPercentilesComeFromTheRecordedRequests() throws {
        var recorder = BenchRecorder(timelineMilliseconds: 5000)
        // 1000 acknowledged writes of 1...1000 µs, one per millisecond from 0, and 1000
        // reads (100 missing) of 2000 µs.
        for n in 1...1000 {
            recorder.record(.acknowledged, latencyMicroseconds: UInt64(n), atMillisecond: n - 1)
            recorder.record(.read(hit: n > 100), latencyMicroseconds: 2000, atMillisecond: n - 1)
        }
        let summary = BenchSummary(plan: try plan(["--op", "mixed"]), recorder: recorder, elapsedSeconds: 2, killMillisecond: nil)
        #expect(summary.acknowledgedWrites == 1000)
        #expect(summary.acknowledgedWritesPerSecond == 500)
        #expect(summary.reads == 1000)
        #expect(summary.readMisses == 100)
        #expect(summary.successfulRequestsPerSecond == 1000)
        #expect(summary.latency.count == 2000)
        // HdrHistogram with 3 significant digits: values are exact below 2048.
        #expect(summary.latency.p50Microseconds == 1000)
        #expect(summary.latency.p99Microseconds == 2000)
        #expect(summary.latency.maxMicroseconds == 2000)
        #expect(summary.latency.meanMicroseconds == (500.5 + 2000) / 2)
        #expect(summary.errorTotal == 0 && summary.errors.isEmpty)
        #expect(summary.longestAckGap == .init(from: 0, to: 1)) // continuous
        #expect(!summary.reachedTimeLimit)
    }

    @Test func percentilesOfAWideSpreadStayWithinTheHistogramsPrecision() throws {
        var recorder = BenchRecorder(timelineMilliseconds: 1000)
        // 999 fast writes (100 µs) and one slow one (50 ms): p99 is fast, p99.9 and max slow.
        for _ in 0..<999 { recorder.record(.acknowledged, latencyMicroseconds: 100, atMillisecond: 0) }
        recorder.record(.acknowledged, latencyMicroseconds: 50_000, atMillisecond: 0)
        // Latencies outside the trackable range are clamped, not dropped.
        recorder.record(.acknowledged, latencyMicroseconds: 0, atMillisecond: 0)
        recorder.record(.acknowledged, latencyMicroseconds: 10 * BenchRecorder.latencyMicrosecondsMax, atMillisecond: 0)
        let summary = BenchSummary(plan: try plan(), recorder: recorder, elapsedSeconds: 1, killMillisecond: nil)
        #expect(summary.latency.count == 1002)
        #expect(summary.latency.p50Microseconds == 100)
        #expect(summary.latency.p99Microseconds == 100)
        #expect(abs(Double(summary.latency.p999Microseconds) - 50_000) <= 50)
        #expect(abs(Double(summary.latency.maxMicroseconds) - Double(BenchRecorder.latencyMicrosecondsMax)) <= 60_000)
    }

    @Test func errorsAreCountedByKindInLabelOrderAndNeverAsSuccesses() throws {
        var recorder = BenchRecorder(timelineMilliseconds: 1000)
        recorder.record(.failed(.noQuorum), latencyMicroseconds: 50, atMillisecond: 1)
        recorder.record(.failed(.noQuorum), latencyMicroseconds: 50, atMillisecond: 2)
        recorder.record(.failed(.unknown), latencyMicroseconds: 50, atMillisecond: 3)
        recorder.record(.failed(.server("ERR")), latencyMicroseconds: 50, atMillisecond: 3)
        recorder.recordError(.connectionLost)
        recorder.recordError(.connectFailed)
        recorder.recordError(.timeout)
        let summary = BenchSummary(plan: try plan(), recorder: recorder, elapsedSeconds: 1, killMillisecond: nil)
        #expect(summary.errorTotal == 7)
        #expect(summary.errors.map(\.kind) == ["ERR", "NOQUORUM", "UNKNOWN", "connect-failed", "connection-lost", "timeout"])
        #expect(summary.errors.map(\.count) == [1, 2, 1, 1, 1, 1])
        #expect(summary.acknowledgedWrites == 0 && summary.latency.count == 0)
        #expect(summary.latency.p99Microseconds == 0)
        #expect(summary.longestAckGap == nil)
        #expect(recorder.counters.noQuorumErrors == 2 && recorder.counters.unknownErrors == 1)
        #expect(recorder.counters.connectionErrors == 3)
    }

    @Test func serverErrorCodesAreBoundedInNumber() {
        var recorder = BenchRecorder(timelineMilliseconds: 1000)
        for n in 0..<40 { recorder.recordError(.server("CODE\(n)")) }
        #expect(recorder.errorsByKind.count == BenchRecorder.serverCodesMax + 1)
        #expect(recorder.errorsByKind[.server("other")] == 40 - UInt64(BenchRecorder.serverCodesMax))
    }

    @Test func mergingLoopsAddsEverything() throws {
        var a = BenchRecorder(timelineMilliseconds: 1000)
        var b = BenchRecorder(timelineMilliseconds: 1000)
        a.record(.acknowledged, latencyMicroseconds: 10, atMillisecond: 0)
        b.record(.acknowledged, latencyMicroseconds: 30, atMillisecond: 500)
        b.recordError(.timeout)
        a.clientConnected()
        b.clientConnected()
        a.merge(b)
        #expect(a.counters.acknowledgedWrites == 2)
        #expect(a.counters.connectedClients == 2)
        #expect(a.errorsByKind == [.timeout: 1])
        #expect(a.latency.totalCount == 2 && a.latency.max == 30)
        #expect(a.timeline.longestGap() == .init(from: 0, to: 500))
    }

    @Test func theKillReportIsTheLongestGapEndingAfterTheKill() throws {
        var recorder = BenchRecorder(timelineMilliseconds: 10_000)
        // A longer gap before the kill (100 → 5000) does not count; acknowledgements go on
        // 10 ms past the kill at 6010, then stop until 8000.
        for ms in 0...100 { recorder.record(.acknowledged, latencyMicroseconds: 100, atMillisecond: ms) }
        for ms in 5_000...6_020 { recorder.record(.acknowledged, latencyMicroseconds: 100, atMillisecond: ms) }
        for ms in 8_000...8_100 { recorder.record(.acknowledged, latencyMicroseconds: 100, atMillisecond: ms) }
        let plan = try plan(["--kill-pid", "4242", "--kill-after", "6"])
        let summary = BenchSummary(plan: plan, recorder: recorder, elapsedSeconds: 9, killMillisecond: 6_010)
        #expect(summary.kill == .init(pid: 4242, atMillisecond: 6_010, gap: .init(from: 6_020, to: 8_000)))
        #expect(summary.longestAckGap == .init(from: 100, to: 5_000))
        #expect(summary.text().contains("writes unavailable for 1980 ms"))
        // No kill sent (it failed): no report.
        #expect(BenchSummary(plan: plan, recorder: recorder, elapsedSeconds: 9, killMillisecond: nil).kill == nil)
        // Nothing acknowledged after the kill: a report without a gap.
        let late = BenchSummary(plan: plan, recorder: recorder, elapsedSeconds: 9, killMillisecond: 8_500)
        #expect(late.kill?.gap == nil)
        #expect(late.text().contains("no write acknowledged after it"))
    }

    @Test func theJSONSummaryRoundTripsAndTheTextNamesTheTargetsFigures() throws {
        var recorder = BenchRecorder(timelineMilliseconds: 1000)
        recorder.record(.acknowledged, latencyMicroseconds: 1500, atMillisecond: 0)
        recorder.record(.failed(.noQuorum), latencyMicroseconds: 5, atMillisecond: 0)
        let summary = BenchSummary(plan: try plan(["-c", "3"]), recorder: recorder, elapsedSeconds: 0.5,
                                   killMillisecond: nil, reachedTimeLimit: true)
        let decoded = try JSONDecoder().decode(BenchSummary.self, from: Data(try summary.json().utf8))
        #expect(decoded == summary)
        let text = summary.text()
        #expect(text.contains("set 3 client(s), 256-byte values"))
        #expect(text.contains("acknowledged writes: 1 (2/s)"))
        #expect(text.contains("p50 1.5 ms"))
        #expect(text.contains("errors: 1 (NOQUORUM 1)"))
        #expect(text.contains("stopped at the time limit"))
    }

    @Test func theProgressLineShowsTheLastSecond() {
        var before = BenchRecorder.Counters()
        before.acknowledgedWrites = 100
        var now = before
        now.acknowledgedWrites = 1100
        now.connectedClients = 16
        #expect(BenchProgress.line(second: 3, now: now, previous: before) == "[3 s] writes/s 1000  errors 0  connected 16")
        now.errors = 5
        now.noQuorumErrors = 3
        now.connectionErrors = 2
        now.reads = 7
        #expect(BenchProgress.line(second: 4, now: now, previous: before)
            == "[4 s] writes/s 1000  reads/s 7  errors 5 (NOQUORUM 3, UNKNOWN 0, connection 2)  connected 16")
    }
}
