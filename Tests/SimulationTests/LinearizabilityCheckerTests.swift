import Basics
import Testing

@testable import Simulation

/// Checks a history written in the text format (each test reads as the history it is about).
/// Lines are `id client mode invoked responded operation... outcome...`.
func checkLines(_ lines: String, budget: LinearizabilityBudget = LinearizabilityBudget()) throws
    -> LinearizabilityReport
{
    try checkHistoryFile("totemkv-history 1\n" + lines, budget: budget)
}

@Suite("Linearizability checker: classic histories")
struct LinearizabilityCheckerTests {
    @Test func emptyHistoryIsLinearizable() throws {
        let report = LinearizabilityChecker().check(History())
        #expect(report.isLinearizable)
        #expect(report.keysChecked == 0)
    }

    @Test func sequentialWritesAndReadsAreLinearizable() throws {
        let report = try checkLines(
            """
            0 1 lin 0 10 set "x" "1" ok
            1 1 lin 20 30 get "x" ok "1"
            2 2 lin 40 50 set "x" "2" ok
            3 1 lin 60 70 get "x" ok "2"
            4 2 lin 80 90 del "x" ok
            5 1 lin 100 110 get "x" ok nil
            """)
        #expect(report.isLinearizable)
        #expect(report.operationsChecked == 6)
    }

    @Test func readOfAValueNeverWrittenIsAViolation() throws {
        let report = try checkLines(
            """
            0 1 lin 0 10 set "x" "1" ok
            1 2 lin 20 30 get "x" ok "ghost"
            """)
        guard case .violation(let violation) = report.verdict else {
            Issue.record("expected a violation, got \(report)")
            return
        }
        #expect(violation.key == "x")
        #expect(violation.kind == .readOfUnwrittenValue)
        #expect(violation.failingOperation.id == OperationID(1))
    }

    @Test func readOfAnOldValueAfterACompletedWriteIsAViolation() throws {
        let report = try checkLines(
            """
            0 1 lin 0 10 set "x" "1" ok
            1 1 lin 20 30 set "x" "2" ok
            2 2 lin 40 50 get "x" ok "1"
            """)
        #expect(report.isViolation)
    }

    @Test(arguments: ["\"1\"", "\"2\""])
    func concurrentWritesMayBeSeenInEitherOrder(_ seen: String) throws {
        let report = try checkLines(
            """
            0 1 lin 0 100 set "x" "1" ok
            1 2 lin 0 100 set "x" "2" ok
            2 3 lin 110 120 get "x" ok \(seen)
            3 3 lin 130 140 get "x" ok \(seen)
            """)
        #expect(report.isLinearizable)
    }

    @Test func readsMustAgreeOnTheOrderOfConcurrentWrites() throws {
        // Both writes completed before either read: the order cannot flip between the reads.
        let report = try checkLines(
            """
            0 1 lin 0 100 set "x" "1" ok
            1 2 lin 0 100 set "x" "2" ok
            2 3 lin 110 120 get "x" ok "2"
            3 4 lin 130 140 get "x" ok "1"
            """)
        #expect(report.isViolation)
    }

    @Test(arguments: ["nil", "\"1\""])
    func aReadConcurrentWithAWriteMaySeeOldOrNew(_ seen: String) throws {
        let report = try checkLines(
            """
            0 1 lin 10 50 set "x" "1" ok
            1 2 lin 20 30 get "x" ok \(seen)
            """)
        #expect(report.isLinearizable)
    }

    @Test func aResponseAndAnInvocationAtTheSameInstantAreConcurrent() throws {
        // Documented tie rule: equal times never produce a violation.
        let report = try checkLines(
            """
            0 1 lin 0 10 set "x" "1" ok
            1 2 lin 10 20 get "x" ok nil
            """)
        #expect(report.isLinearizable)
    }

    @Test func deleteThenReadingTheOldValueIsAViolation() throws {
        let report = try checkLines(
            """
            0 1 lin 0 10 set "x" "1" ok
            1 1 lin 20 30 del "x" ok
            2 2 lin 40 50 get "x" ok "1"
            """)
        #expect(report.isViolation)
    }

    @Test func incrementsCountFromAbsentAndFromAnIntegerString() throws {
        let report = try checkLines(
            """
            0 1 lin 0 10 incr "n" 1 ok 1
            1 1 lin 20 30 incr "n" 1 ok 2
            2 2 lin 40 50 get "n" ok "2"
            3 2 lin 60 70 set "m" "5" ok
            4 1 lin 80 90 incr "m" -7 ok -2
            5 1 lin 100 110 set "t" "five" ok
            6 2 lin 120 130 incr "t" 1 ok not-integer
            7 2 lin 140 150 get "t" ok "five"
            8 1 lin 160 170 set "w" "9223372036854775807" ok
            9 1 lin 180 190 incr "w" 1 ok -9223372036854775808
            """)
        #expect(report.isLinearizable, "\(report)")
    }

    @Test func concurrentIncrementsMayFinishInEitherOrder() throws {
        let report = try checkLines(
            """
            0 1 lin 0 100 incr "n" 1 ok 2
            1 2 lin 0 100 incr "n" 1 ok 1
            """)
        #expect(report.isLinearizable)
    }

    @Test func twoIncrementsReturningTheSameValueIsAViolation() throws {
        let report = try checkLines(
            """
            0 1 lin 0 100 incr "n" 1 ok 1
            1 2 lin 0 100 incr "n" 1 ok 1
            """)
        #expect(report.isViolation)
    }

    @Test func anIncrementOnANonCanonicalIntegerIsNotAnInteger() throws {
        let report = try checkLines(
            """
            0 1 lin 0 10 set "n" "007" ok
            1 1 lin 20 30 incr "n" 1 ok 8
            """)
        #expect(report.isViolation)
    }

    @Test func compareAndSetSucceedsOnlyOnTheExpectedValue() throws {
        let report = try checkLines(
            """
            0 1 lin 0 10 cas "x" nil "a" ok true
            1 2 lin 20 30 cas "x" nil "b" ok false
            2 2 lin 40 50 cas "x" "a" "c" ok true
            3 1 lin 60 70 get "x" ok "c"
            """)
        #expect(report.isLinearizable)
    }

    @Test func twoConcurrentCompareAndSetsCannotBothWinFromAbsent() throws {
        let report = try checkLines(
            """
            0 1 lin 0 100 cas "x" nil "a" ok true
            1 2 lin 0 100 cas "x" nil "b" ok true
            """)
        #expect(report.isViolation)
    }

    @Test func aFailedCompareAndSetChangesNothing() throws {
        let report = try checkLines(
            """
            0 1 lin 0 10 set "x" "a" ok
            1 2 lin 20 30 cas "x" "z" "b" ok false
            2 1 lin 40 50 get "x" ok "b"
            """)
        #expect(report.isViolation)
    }

    @Test func anUnknownWriteLaterObservedIsLinearizable() throws {
        let report = try checkLines(
            """
            0 1 lin 0 - set "x" "1" unknown
            1 2 lin 100 110 get "x" ok "1"
            """)
        #expect(report.isLinearizable)
        #expect(report.unknownOutcomeOperations == 1)
    }

    @Test func anUnknownWriteNeverObservedIsLinearizable() throws {
        let report = try checkLines(
            """
            0 1 lin 0 50 set "x" "1" unknown
            1 2 lin 100 110 get "x" ok nil
            2 2 lin 120 130 get "x" ok nil
            """)
        #expect(report.isLinearizable)
    }

    @Test func anUnknownWriteCannotTakeEffectBeforeItsInvocation() throws {
        let report = try checkLines(
            """
            0 2 lin 0 10 get "x" ok "1"
            1 1 lin 20 - set "x" "1" unknown
            """)
        #expect(report.isViolation)
    }

    @Test func anUnknownWriteOnceObservedStaysVisible() throws {
        // It may or may not happen, but not happen and then un-happen.
        let report = try checkLines(
            """
            0 1 lin 0 - set "x" "1" unknown
            1 2 lin 100 110 get "x" ok "1"
            2 2 lin 120 130 get "x" ok nil
            """)
        #expect(report.isViolation)
    }

    @Test(arguments: [("6", true), ("1", true), ("7", false)])
    func anUnknownIncrementHappensOnceOrNotAtAll(_ seen: String, _ isLinearizable: Bool) throws {
        let report = try checkLines(
            """
            0 1 lin 0 - incr "n" 5 unknown
            1 2 lin 100 110 incr "n" 1 ok \(seen)
            """)
        #expect(report.isLinearizable == isLinearizable)
    }

    @Test func anUnknownCompareAndSetAppliesItsRuleWhenItHappens() throws {
        let report = try checkLines(
            """
            0 1 lin 0 10 set "x" "a" ok
            1 2 lin 20 - cas "x" "a" "b" unknown
            2 1 lin 30 40 set "x" "c" ok
            3 2 lin 50 60 get "x" ok "b"
            """)
        // The CAS could only swap while x was "a", i.e. before the write of "c" completed.
        #expect(report.isViolation)
    }

    @Test func aFailedWriteThatIsObservedIsAViolation() throws {
        let report = try checkLines(
            """
            0 1 lin 0 10 set "x" "1" failed "NOQUORUM"
            1 2 lin 20 30 get "x" ok "1"
            """)
        #expect(report.isViolation)
        #expect(report.failedOperationsRemoved == 1)
    }

    @Test func aFailedWriteNotObservedIsLinearizable() throws {
        let report = try checkLines(
            """
            0 1 lin 0 10 set "x" "1" failed "NOQUORUM"
            1 2 lin 20 30 get "x" ok nil
            """)
        #expect(report.isLinearizable)
    }

    @Test func readsWithAnUnknownOutcomeAreIgnored() throws {
        let report = try checkLines(
            """
            0 1 lin 0 - get "x" unknown
            1 2 lin 20 30 get "x" ok nil
            """)
        #expect(report.isLinearizable)
        #expect(report.operationsChecked == 1)
    }

    @Test func eachKeyIsCheckedAloneAndTheViolatingKeyIsNamed() throws {
        let report = try checkLines(
            """
            0 1 lin 0 10 set "a" "1" ok
            1 1 lin 20 30 set "b" "1" ok
            2 2 lin 40 50 get "a" ok "1"
            3 2 lin 60 70 get "b" ok "2"
            4 1 lin 80 90 set "c" "1" ok
            """)
        #expect(report.keysChecked == 3)
        #expect(report.violations.map(\.key) == ["b"])
        #expect(report.description.contains("NOT linearizable"))
    }

    @Test func theViolationExcerptIsMadeOfHistoryLines() throws {
        let report = try checkLines(
            """
            0 1 lin 0 10 set "x" "1" ok
            1 2 lin 5 40 set "x" "2" ok
            2 3 lin 20 30 get "x" ok "3"
            3 1 lin 50 60 get "x" ok "2"
            4 1 lin 70 80 set "x" "3" ok
            """)
        guard case .violation(let violation) = report.verdict else {
            Issue.record("expected a violation, got \(report)")
            return
        }
        // Deepest point: both writes placed ("2" last), then the read of "3" (written only
        // later) responds.
        #expect(violation.kind == .noLinearization)
        #expect(violation.failingOperation.id == OperationID(2))
        #expect(violation.prefixTail.map(\.id) == [OperationID(0), OperationID(1)])
        #expect(violation.valueAfterPrefix == "2")
        #expect(violation.concurrentOperations.isEmpty)
        let text = violation.description
        #expect(text.contains(#"2 3 lin 20 30 get "x" ok "3""#))
        #expect(text.contains(#"1 2 lin 5 40 set "x" "2" ok"#))
    }

    @Test func theExcerptListsTheCandidatesThatWereTried() throws {
        let report = try checkLines(
            """
            0 1 lin 0 10 set "x" "1" ok
            1 2 lin 20 30 get "x" ok "9"
            2 3 lin 25 100 get "x" ok "8"
            3 1 lin 200 210 set "x" "9" ok
            4 1 lin 220 230 set "x" "8" ok
            """)
        guard case .violation(let violation) = report.verdict else {
            Issue.record("expected a violation, got \(report)")
            return
        }
        #expect(violation.prefixTail.map(\.id) == [OperationID(0)])
        #expect(violation.failingOperation.id == OperationID(1))
        #expect(violation.concurrentOperations.map(\.id) == [OperationID(2)])
    }

    @Test func aSearchOverBudgetEndsAsUnknown() throws {
        // Ten concurrent increments whose results force a long search; a budget of a few
        // steps cannot decide it.
        var lines = ""
        for client in 0..<10 { lines += "\(client) \(client) lin 0 100 incr \"n\" 1 ok \(10 - client)\n" }
        lines += "10 10 lin 200 210 get \"n\" ok \"10\"\n"
        let tight = try checkLines(lines, budget: LinearizabilityBudget(stepsMax: 5))
        guard case .unknown(let reason) = tight.verdict else {
            Issue.record("expected unknown, got \(tight)")
            return
        }
        #expect(reason.contains("5 steps"))
        #expect(try checkLines(lines).isLinearizable)
    }

    @Test func aReadOfAnUnwrittenValueIsAViolationEvenWithNoBudget() throws {
        var lines = ""
        for client in 0..<10 { lines += "\(client) \(client) lin 0 100 incr \"n\" 1 ok \(10 - client)\n" }
        lines += "10 10 lin 200 210 get \"n\" ok \"ten\"\n"
        let report = try checkLines(lines, budget: LinearizabilityBudget(stepsMax: 5))
        guard case .violation(let violation) = report.verdict else {
            Issue.record("expected a violation, got \(report)")
            return
        }
        #expect(violation.kind == .readOfUnwrittenValue)
        #expect(violation.failingOperation.id == OperationID(10))
        #expect(report.undecidedKeys.isEmpty)
        // An integer could come from the increments: then the verdict stays unknown.
        let integer = try checkLines(
            lines.replacing("\"ten\"", with: "\"11\""), budget: LinearizabilityBudget(stepsMax: 5))
        #expect(integer.undecidedKeys.map(\.key) == ["n"])
    }
}
