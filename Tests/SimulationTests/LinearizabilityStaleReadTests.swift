import Basics
import Testing

@testable import Simulation

@Suite("Linearizability checker: stale reads are counted, never failed")
struct LinearizabilityStaleReadTests {
    @Test func aStaleReadOfAnOldValueIsCountedNotFailed() throws {
        let report = try checkLines(
            """
            0 1 lin 0 10 set "x" "1" ok
            1 1 lin 20 30 set "x" "2" ok
            2 2 stale 40 50 get "x" ok "1"
            """)
        #expect(report.isLinearizable)
        #expect(report.operationsChecked == 2)
        #expect(report.staleReads.total == 1)
        #expect(report.staleReads.stale == 1)
        #expect(report.staleReads.versionsBehindMax == 1)
    }

    @Test func aStaleReadOfTheCurrentValueIsFresh() throws {
        let report = try checkLines(
            """
            0 1 lin 0 10 set "x" "1" ok
            1 2 stale 20 30 get "x" ok "1"
            2 2 stale 5 8 get "x" ok nil
            3 2 stale 5 8 get "x" ok "1"
            """)
        #expect(report.staleReads == counts(total: 3, fresh: 3))
    }

    @Test func versionsBehindCountsTheChangesMissed() throws {
        let report = try checkLines(
            """
            0 1 lin 0 10 set "x" "1" ok
            1 1 lin 20 30 get "x" ok "1"
            2 1 lin 40 50 set "x" "2" ok
            3 1 lin 60 70 set "x" "3" ok
            4 2 stale 80 90 get "x" ok "1"
            """)
        #expect(report.staleReads == counts(total: 1, stale: 1, versionsBehind: 2))
    }

    @Test func aStaleReadOfAValueNeverWrittenIsUnexplainedButNotAFailure() throws {
        let report = try checkLines(
            """
            0 1 lin 0 10 set "x" "1" ok
            1 2 stale 20 30 get "x" ok "ghost"
            2 2 stale 20 30 get "x" ok "2"
            3 1 lin 40 50 set "x" "2" ok
            """)
        #expect(report.isLinearizable)
        // "2" is only written after the read responded: a read from the future.
        #expect(report.staleReads == counts(total: 2, unexplained: 2))
    }

    @Test func staleReadsOnAViolatingKeyAreUnclassified() throws {
        let report = try checkLines(
            """
            0 1 lin 0 10 set "x" "1" ok
            1 2 lin 20 30 get "x" ok "2"
            2 2 stale 40 50 get "x" ok "1"
            """)
        #expect(report.isViolation)
        #expect(report.staleReads == counts(total: 1, unclassified: 1))
    }

    @Test func aStaleReadIsNeverPartOfTheLinearizabilityCheck() throws {
        // The same read in linearizable mode is a violation.
        func history(_ mode: String) -> String {
            """
            0 1 lin 0 10 set "x" "1" ok
            1 1 lin 20 30 set "x" "2" ok
            2 2 \(mode) 40 50 get "x" ok "1"
            """
        }
        #expect(try checkLines(history("stale")).isLinearizable)
        #expect(try checkLines(history("lin")).isViolation)
    }

    private func counts(
        total: Int, fresh: Int = 0, stale: Int = 0, unexplained: Int = 0, unclassified: Int = 0,
        versionsBehind: Int = 0
    ) -> StaleReadCounts {
        var counts = StaleReadCounts()
        counts.total = total
        counts.fresh = fresh
        counts.stale = stale
        counts.unexplained = unexplained
        counts.unclassified = unclassified
        counts.versionsBehindMax = versionsBehind
        return counts
    }
}
