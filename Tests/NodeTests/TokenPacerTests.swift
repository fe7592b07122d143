import Basics
@testable import Node
import Testing
import Totem

@Suite("TokenPacer: holding an arriving token while the node is busy")
struct TokenPacerTests {
    static let ring = RingID(representative: NodeID(1), seq: 4)
    static let settings = TokenPacer.Settings(holdMicroseconds: 300, busyRequestsMin: 4)

    static func token(seq: UInt64 = 10, retransmit: [RetransmitRequest] = [], isRetransmitting: Bool = false) -> TotemPacket {
        TotemPacket(sender: NodeID(3), message: .token(OrderingToken(
            ringID: ring, tokenSeq: 7, seq: seq, aru: seq, aruAddress: nil, fcc: 0, backlog: 0,
            isRetransmitting: isRetransmitting, retransmitRequests: retransmit)))
    }

    static let mcast = TotemPacket(sender: NodeID(3), message: .mcast(Mcast(
        ringID: ring, originator: NodeID(3), seq: 11, body: .application([1, 2, 3]))))

    @Test func aBusyNodeWithNothingToSendHoldsTheTokenAndTheTimerReleasesIt() {
        var pacer = TokenPacer(settings: Self.settings)
        let token = Self.token()
        #expect(pacer.step(.packetArrived(token, isBusy: true, sendQueueEmpty: true))
            == [.startHoldTimer(generation: 1, microseconds: 300)])
        #expect(pacer.isHolding)
        #expect(pacer.step(.holdTimerFired(generation: 1)) == [.cancelHoldTimer, .deliver(token)])
        #expect(!pacer.isHolding)
        // A late timer of that hold does nothing.
        #expect(pacer.step(.holdTimerFired(generation: 1)) == [])
        #expect(pacer.counters == TokenPacer.Counters(held: 1, releasedByTimer: 1))
    }

    @Test func anIdleNodeANodeWithQueuedMessagesAndPacingOffForwardAtOnce() {
        let token = Self.token()
        var pacer = TokenPacer(settings: Self.settings)
        #expect(pacer.step(.packetArrived(token, isBusy: false, sendQueueEmpty: true)) == [.deliver(token)])
        #expect(pacer.step(.packetArrived(token, isBusy: true, sendQueueEmpty: false)) == [.deliver(token)])
        var off = TokenPacer(settings: .off)
        #expect(off.step(.packetArrived(token, isBusy: true, sendQueueEmpty: true)) == [.deliver(token)])
        #expect(pacer.counters.held == 0)
    }

    @Test func onlyAPlainOrderingTokenIsHeld() {
        var pacer = TokenPacer(settings: Self.settings)
        let asking = Self.token(retransmit: [RetransmitRequest(ringID: Self.ring, seq: 9)])
        #expect(pacer.step(.packetArrived(asking, isBusy: true, sendQueueEmpty: true)) == [.deliver(asking)])
        let recovering = Self.token(isRetransmitting: true)
        #expect(pacer.step(.packetArrived(recovering, isBusy: true, sendQueueEmpty: true)) == [.deliver(recovering)])
        #expect(pacer.step(.packetArrived(Self.mcast, isBusy: true, sendQueueEmpty: true)) == [.deliver(Self.mcast)])
        #expect(!pacer.isHolding)
    }

    @Test func aQueuedBroadcastReleasesTheTokenAtTheEndOfTheTurnOnce() {
        var pacer = TokenPacer(settings: Self.settings)
        let token = Self.token()
        _ = pacer.step(.packetArrived(token, isBusy: true, sendQueueEmpty: true))
        #expect(pacer.step(.broadcastQueued) == [.releaseAtTurnEnd])
        // More requests in the same turn ask nothing more.
        #expect(pacer.step(.broadcastQueued) == [])
        #expect(pacer.isHolding)
        #expect(pacer.step(.turnEnded) == [.cancelHoldTimer, .deliver(token)])
        #expect(pacer.step(.turnEnded) == [])
        #expect(pacer.step(.holdTimerFired(generation: 1)) == [])
        #expect(pacer.counters == TokenPacer.Counters(held: 1, releasedByBroadcast: 1))
        // Nothing held: a broadcast asks for no release.
        #expect(pacer.step(.broadcastQueued) == [])
    }

    @Test func anotherPacketReleasesTheHeldTokenFirstSoArrivalOrderIsKept() {
        var pacer = TokenPacer(settings: Self.settings)
        let first = Self.token(seq: 10)
        _ = pacer.step(.packetArrived(first, isBusy: true, sendQueueEmpty: true))
        #expect(pacer.step(.packetArrived(Self.mcast, isBusy: true, sendQueueEmpty: true))
            == [.cancelHoldTimer, .deliver(first), .deliver(Self.mcast)])
        // A second token (a retransmission) releases the first and may be held itself.
        _ = pacer.step(.packetArrived(first, isBusy: true, sendQueueEmpty: true))
        let second = Self.token(seq: 12)
        #expect(pacer.step(.packetArrived(second, isBusy: true, sendQueueEmpty: true))
            == [.cancelHoldTimer, .deliver(first), .startHoldTimer(generation: 3, microseconds: 300)])
        // Only the newest hold's timer counts.
        #expect(pacer.step(.holdTimerFired(generation: 2)) == [])
        #expect(pacer.step(.holdTimerFired(generation: 3)) == [.cancelHoldTimer, .deliver(second)])
        #expect(pacer.counters == TokenPacer.Counters(held: 3, releasedByPacket: 2, releasedByTimer: 1))
    }

    @Test func stoppingForgetsTheHeldToken() {
        var pacer = TokenPacer(settings: Self.settings)
        _ = pacer.step(.packetArrived(Self.token(), isBusy: true, sendQueueEmpty: true))
        #expect(pacer.step(.stopped) == [.cancelHoldTimer])
        #expect(!pacer.isHolding)
        #expect(pacer.step(.holdTimerFired(generation: 1)) == [])
        #expect(pacer.step(.stopped) == [])
    }

    @Test func theEnvironmentOverridesTheStandardSettings() {
        #expect(NodeRuntime.tokenPacerSettings(environment: [:]) == .standard)
        let tuned = NodeRuntime.tokenPacerSettings(environment: ["TOTEMKV_TOKEN_HOLD_US": "0", "TOTEMKV_TOKEN_HOLD_BUSY": "9"])
        #expect(tuned == TokenPacer.Settings(holdMicroseconds: 0, busyRequestsMin: 9))
        let junk = NodeRuntime.tokenPacerSettings(environment: ["TOTEMKV_TOKEN_HOLD_US": "-5", "TOTEMKV_TOKEN_HOLD_BUSY": "x"])
        #expect(junk == .standard)
    }

    /// `passesThrough` lets the runtime skip `step` for a packet: it must be true only when
    /// `step` would return exactly `[.deliver(packet)]` and change nothing.
    @Test func passesThroughOnlyWhenStepWouldOnlyDeliver() {
        let token = Self.token()
        for settings in [Self.settings, TokenPacer.Settings.off] {
            for isBusy in [false, true] {
                for sendQueueEmpty in [false, true] {
                    for packet in [token, Self.mcast] {
                        var pacer = TokenPacer(settings: settings)
                        let passes = pacer.passesThrough(isBusy: isBusy)
                        let before = pacer.counters
                        let actions = pacer.step(.packetArrived(packet, isBusy: isBusy, sendQueueEmpty: sendQueueEmpty))
                        if passes {
                            #expect(actions == [.deliver(packet)])
                            #expect(!pacer.isHolding)
                            #expect(pacer.counters == before)
                        }
                    }
                }
            }
        }
        // Idle or pacing off: always; busy with pacing on: never (the token might be held).
        #expect(TokenPacer(settings: Self.settings).passesThrough(isBusy: false))
        #expect(!TokenPacer(settings: Self.settings).passesThrough(isBusy: true))
        #expect(TokenPacer(settings: .off).passesThrough(isBusy: true))
        // While a token is held nothing passes: the next packet releases it first.
        var holding = TokenPacer(settings: Self.settings)
        _ = holding.step(.packetArrived(token, isBusy: true, sendQueueEmpty: true))
        #expect(holding.isHolding)
        #expect(!holding.passesThrough(isBusy: false))
        #expect(holding.step(.packetArrived(Self.mcast, isBusy: false, sendQueueEmpty: true))
            == [.cancelHoldTimer, .deliver(token), .deliver(Self.mcast)])
    }
}
