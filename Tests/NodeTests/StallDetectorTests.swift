import Basics
import Testing
@testable import Node

/// The hang detection as a value with injected time: one `#expect` per step.
@Suite struct StallDetectorTests {
    /// token 1000 ms, token_warning 75 %: warnings past 750 ms.
    static func detector(percent: UInt32 = 75, watchdog: Bool = false) -> StallDetector {
        StallDetector(settings: .init(tokenTimeout: 1000, warningPercent: percent, isWatchdogOn: watchdog))
    }

    static func at(_ ms: UInt64) -> Instant { .milliseconds(ms) }

    @Test func thresholdIsTheTokenWarningPercentOfTheTokenTimeout() {
        #expect(Self.detector().settings.warningThreshold == 750)
        #expect(Self.detector(percent: 0).settings.warningThreshold == nil)
        // The periodic check runs often enough that an idle loop never looks stalled.
        #expect(Self.detector().settings.checkInterval == 100)
        let short = StallDetector.Settings(tokenTimeout: 300, warningPercent: 75, isWatchdogOn: false)
        #expect(short.checkInterval == 56)
    }

    @Test func aLoopGapBeyondTheThresholdIsReportedWithTheWorkThatRanBeforeIt() {
        var d = Self.detector()
        #expect(d.step(.loopRan(.stallCheck, at: Self.at(1_000))) == [])
        #expect(d.step(.loopRan(.diskOperation, at: Self.at(1_100))) == [])
        // Nothing ran for 800 ms after the disk operation started.
        let stall = Stall(kind: .loop, detectedAt: Self.at(1_900), duration: 800, running: .diskOperation)
        #expect(d.step(.loopRan(.stallCheck, at: Self.at(1_900))) == [.report(stall)])
        #expect(d.lastStall == stall)
        #expect(d.counts[.loop] == 1)
        #expect(d.longestLoopStall == 800)
    }

    @Test func gapsUpToTheThresholdAreNotStalls() {
        var d = Self.detector()
        var t: UInt64 = 0
        for _ in 0..<20 {
            t += 750
            #expect(d.step(.loopRan(.stallCheck, at: Self.at(t))) == [])
        }
        #expect(d.lastStall == nil)
    }

    @Test func warningsOffReportNothingWithoutTheWatchdog() {
        var d = Self.detector(percent: 0)
        _ = d.step(.loopRan(.totemPacket, at: Self.at(0)))
        #expect(d.step(.loopRan(.stallCheck, at: Self.at(5_000))) == [])
        #expect(d.lastStall == nil)
    }

    @Test func theWatchdogExpiresOnlyBeyondTheTokenTimeout() {
        var d = Self.detector(watchdog: true)
        _ = d.step(.loopRan(.clientRequest, at: Self.at(0)))
        let warning = Stall(kind: .loop, detectedAt: Self.at(900), duration: 900, running: .clientRequest)
        #expect(d.step(.loopRan(.stallCheck, at: Self.at(900))) == [.report(warning)])
        let expiry = Stall(kind: .loop, detectedAt: Self.at(2_100), duration: 1_200, running: .stallCheck)
        #expect(d.step(.loopRan(.stallCheck, at: Self.at(2_100))) == [.report(expiry), .exitForWatchdog(expiry)])
    }

    @Test func theWatchdogWorksWithWarningsOff() {
        var d = Self.detector(percent: 0, watchdog: true)
        _ = d.step(.loopRan(.totemTimer, at: Self.at(0)))
        #expect(d.step(.loopRan(.stallCheck, at: Self.at(900))) == [])
        let expiry = Stall(kind: .loop, detectedAt: Self.at(2_000), duration: 1_100, running: .stallCheck)
        #expect(d.step(.loopRan(.stallCheck, at: Self.at(2_000))) == [.report(expiry), .exitForWatchdog(expiry)])
    }

    @Test func aLateTokenIsReportedOnlyWhileOperational() {
        var d = Self.detector()
        // Not operational: tokens of a forming ring are not timed.
        #expect(d.step(.tokenReceived(at: Self.at(0))) == [])
        #expect(d.step(.tokenReceived(at: Self.at(2_000))) == [])
        #expect(d.step(.operationalChanged(true, at: Self.at(2_000))) == [])
        #expect(d.step(.tokenReceived(at: Self.at(2_100))) == [])
        #expect(d.step(.tokenReceived(at: Self.at(2_300))) == [])
        let late = Stall(kind: .lateToken, detectedAt: Self.at(3_200), duration: 900, running: .idle)
        #expect(d.step(.tokenReceived(at: Self.at(3_200))) == [.report(late)])
        #expect(d.counts[.lateToken] == 1)
    }

    @Test func aMembershipChangeRestartsTheTokenClock() {
        var d = Self.detector()
        _ = d.step(.operationalChanged(true, at: Self.at(0)))
        _ = d.step(.tokenReceived(at: Self.at(0)))
        _ = d.step(.operationalChanged(false, at: Self.at(500)))
        _ = d.step(.operationalChanged(true, at: Self.at(3_000)))
        // The first token of the new ring has no predecessor.
        #expect(d.step(.tokenReceived(at: Self.at(3_000))) == [])
    }

    @Test func aMissingTokenIsReportedWhileWaitingOncePerThreshold() {
        var d = Self.detector()
        _ = d.step(.operationalChanged(true, at: Self.at(0)))
        _ = d.step(.tokenReceived(at: Self.at(0)))
        #expect(d.step(.loopRan(.stallCheck, at: Self.at(700))) == [])
        let first = Stall(kind: .missingToken, detectedAt: Self.at(800), duration: 800, running: .stallCheck)
        #expect(d.step(.loopRan(.stallCheck, at: Self.at(800))) == [.report(first)])
        // Not again before another threshold has passed.
        #expect(d.step(.loopRan(.stallCheck, at: Self.at(900))) == [])
        #expect(d.step(.loopRan(.stallCheck, at: Self.at(1_500))) == [])
        let second = Stall(kind: .missingToken, detectedAt: Self.at(1_550), duration: 1_550, running: .stallCheck)
        #expect(d.step(.loopRan(.stallCheck, at: Self.at(1_550))) == [.report(second)])
        // Only the periodic check looks for a missing token, not every piece of work.
        #expect(d.step(.loopRan(.totemPacket, at: Self.at(2_300))) == [])
        // A loop stall explains the missing token: only the stall is reported.
        let stall = Stall(kind: .loop, detectedAt: Self.at(3_200), duration: 900, running: .totemPacket)
        #expect(d.step(.loopRan(.stallCheck, at: Self.at(3_200))) == [.report(stall)])
    }
}

@Suite struct LoopWatchdogCheckTests {
    static let settings = StallDetector.Settings(tokenTimeout: 1000, warningPercent: 75, isWatchdogOn: true)

    @Test func warnsOncePerStallThenExpiresBeyondTheTokenTimeout() {
        var check = LoopWatchdogCheck(settings: Self.settings)
        let ran = Instant.milliseconds(10_000)
        #expect(check.check(now: .milliseconds(10_700), loopRanAt: ran, running: .diskOperation) == .fine)
        #expect(check.check(now: .milliseconds(10_800), loopRanAt: ran, running: .diskOperation) == .stalled(800, .diskOperation))
        #expect(check.check(now: .milliseconds(10_900), loopRanAt: ran, running: .diskOperation) == .fine)
        #expect(check.check(now: .milliseconds(11_001), loopRanAt: ran, running: .diskOperation) == .expired(1_001, .diskOperation))
    }

    @Test func aLoopThatRunsAgainStartsANewStall() {
        var check = LoopWatchdogCheck(settings: Self.settings)
        #expect(check.check(now: .milliseconds(800), loopRanAt: .milliseconds(0), running: .totemPacket) == .stalled(800, .totemPacket))
        #expect(check.check(now: .milliseconds(1_000), loopRanAt: .milliseconds(950), running: .stallCheck) == .fine)
        #expect(check.check(now: .milliseconds(1_800), loopRanAt: .milliseconds(950), running: .stallCheck) == .stalled(850, .stallCheck))
    }
}
