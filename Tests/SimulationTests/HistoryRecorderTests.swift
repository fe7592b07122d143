import Basics
import Testing

@testable import Simulation

@Suite("History recorder")
struct HistoryRecorderTests {
    @Test func idsFollowInvocationOrderAndPendingOperationsEndUnknown() throws {
        var recorder = HistoryRecorder()
        let write = recorder.invoke(client: ClientID(1), .set(key: "x", value: "1"), at: .milliseconds(1))
        let read = recorder.invoke(client: ClientID(2), .get(key: "x"), readMode: .stale, at: .milliseconds(2))
        let lost = recorder.invoke(client: ClientID(3), .increment(key: "n", by: 2), at: .milliseconds(3))
        #expect([write, read, lost] == [OperationID(0), OperationID(1), OperationID(2)])
        #expect(recorder.pendingCount == 3)

        recorder.complete(read, .ok(.value(nil)), at: .milliseconds(4))
        recorder.complete(write, .ok(.done), at: .milliseconds(5))
        #expect(recorder.pendingCount == 1)

        let operations = recorder.history.operations
        #expect(operations.map(\.id) == [write, read, lost])
        #expect(operations[1].readMode == .stale)
        #expect(operations[1].respondedAt == .milliseconds(4))
        #expect(operations[2].outcome == .unknown)
        #expect(operations[2].respondedAt == nil)
    }

    @Test func aRecordedHistoryIsCheckedAndSurvivesTheTextFormat() throws {
        var recorder = HistoryRecorder()
        let a = recorder.invoke(client: ClientID(1), .set(key: "x", value: "1"), at: Instant(nanoseconds: 0))
        let b = recorder.invoke(
            client: ClientID(2), .compareAndSet(key: "x", expected: "1", new: "2"), at: Instant(nanoseconds: 5))
        recorder.complete(a, .ok(.done), at: Instant(nanoseconds: 10))
        recorder.complete(b, .ok(.swapped(true)), at: Instant(nanoseconds: 20))
        let c = recorder.invoke(client: ClientID(1), .get(key: "x"), at: Instant(nanoseconds: 30))
        recorder.complete(c, .ok(.value("2")), at: Instant(nanoseconds: 40))
        let d = recorder.invoke(client: ClientID(1), .delete(key: "x"), at: Instant(nanoseconds: 50))
        recorder.complete(d, .failed(reason: "NOQUORUM"), at: Instant(nanoseconds: 51))

        let history = recorder.history
        #expect(LinearizabilityChecker().check(history).isLinearizable)
        let reloaded = try History(parsing: history.serialized())
        #expect(reloaded == history)
        #expect(LinearizabilityChecker().check(reloaded).isLinearizable)
    }
}
