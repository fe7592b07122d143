import Basics
import Testing
import Totem
import TotemConfig

/// Shared builders for the RRP tests.
enum RRP {
    static let ring = RingID(representative: NodeID(1), seq: 4)

    static func options(_ mode: TotemOptions.RRPMode, rings: Int = 2, threshold: UInt32 = 3,
                        mcastThreshold: UInt32? = nil) -> TotemOptions {
        var settings = TotemOptions.Settings()
        settings.rrpMode = mode
        settings.interfaces = (0..<rings).map { TotemOptions.Interface(ringNumber: UInt8($0)) }
        settings.rrpProblemCountThreshold = threshold
        settings.rrpProblemCountMcastThreshold = mcastThreshold
        return TotemOptions(settings, nodeCount: 3)
    }

    static func layer(_ mode: TotemOptions.RRPMode, node: UInt32 = 1, threshold: UInt32 = 3,
                      mcastThreshold: UInt32? = nil) -> RedundantRings {
        var rrp = RedundantRings(options: options(mode, threshold: threshold, mcastThreshold: mcastThreshold),
                                 localNode: NodeID(node))
        _ = rrp.step(.membersChanged([NodeID(3), NodeID(1), NodeID(2)]))
        return rrp
    }

    static func token(_ tokenSeq: UInt64, ring: RingID = ring, from sender: UInt32 = 3) -> TotemPacket {
        TotemPacket(sender: NodeID(sender), message: .token(OrderingToken(
            ringID: ring, tokenSeq: tokenSeq, seq: 10, aru: 10, aruAddress: nil, fcc: 0, backlog: 0,
            isRetransmitting: false, retransmitRequests: [])))
    }

    static func mcast(_ seq: UInt64, from sender: UInt32 = 2) -> TotemPacket {
        TotemPacket(sender: NodeID(sender), message: .mcast(Mcast(
            ringID: ring, originator: NodeID(sender), seq: seq, body: .application([1, 2, 3]))))
    }

    static func ringTest(_ kind: RingTest.Kind, ring: UInt8 = 1, activator: UInt32, from sender: UInt32) -> TotemPacket {
        TotemPacket(sender: NodeID(sender), message: .ringTest(RingTest(
            kind: kind, ringNumber: ring, activator: NodeID(activator))))
    }

    static func at(_ ms: UInt64) -> Instant { .milliseconds(ms) }

    /// The generation of the `.startTimer` for `timer` among `actions`.
    static func generation(_ timer: RRPTimer, in actions: [RRPAction]) -> UInt64? {
        for case .startTimer(let started, let generation, _) in actions where started == timer {
            return generation
        }
        return nil
    }
}

@Suite struct RedundantRingsActiveTests {
    @Test func sendsEveryPacketOnEveryRing() {
        var rrp = RRP.layer(.active)
        #expect(rrp.step(.outgoing(RRP.mcast(1, from: 1), to: .broadcast)) == [
            .transmit(RRP.mcast(1, from: 1), to: .broadcast, ringNumber: 0),
            .transmit(RRP.mcast(1, from: 1), to: .broadcast, ringNumber: 1),
        ])
        #expect(rrp.step(.outgoing(RRP.token(5, from: 1), to: .node(NodeID(2)))) == [
            .transmit(RRP.token(5, from: 1), to: .node(NodeID(2)), ringNumber: 0),
            .transmit(RRP.token(5, from: 1), to: .node(NodeID(2)), ringNumber: 1),
        ])
    }

    @Test func passesMcastsUpAsTheyArrive() {
        var rrp = RRP.layer(.active)
        #expect(rrp.step(.incoming(RRP.mcast(7), ringNumber: 0, at: RRP.at(1))) == [.deliverToSRP(RRP.mcast(7))])
        #expect(rrp.step(.incoming(RRP.mcast(7), ringNumber: 1, at: RRP.at(2))) == [.deliverToSRP(RRP.mcast(7))])
    }

    @Test func holdsTokenUntilBothRingsDeliverIt() throws {
        var rrp = RRP.layer(.active)
        let first = rrp.step(.incoming(RRP.token(1), ringNumber: 0, at: RRP.at(10)))
        let generation = try #require(RRP.generation(.tokenExpired, in: first))
        #expect(first == [.startTimer(.tokenExpired, generation: generation, after: 47)])
        #expect(rrp.step(.incoming(RRP.token(1), ringNumber: 1, at: RRP.at(11))) == [
            .cancelTimer(.tokenExpired), .deliverToSRP(RRP.token(1)),
        ])
        // A third copy (an SRP retransmission of the same token) is not delivered again.
        #expect(rrp.step(.incoming(RRP.token(1), ringNumber: 0, at: RRP.at(12))) == [])
        #expect(rrp.dropCounters.duplicateToken == 1)
        // The timer of the delivered token fires late: nothing happens.
        #expect(rrp.step(.timerFired(.tokenExpired, generation: generation, at: RRP.at(57))) == [])
        #expect(rrp.status.map(\.problemCount) == [0, 0])
    }

    @Test func expiryCountsAProblemForTheMissingRingAndDeliversAnyway() throws {
        var rrp = RRP.layer(.active)
        let first = rrp.step(.incoming(RRP.token(1), ringNumber: 1, at: RRP.at(10)))
        let expiry = try #require(RRP.generation(.tokenExpired, in: first))
        let fired = rrp.step(.timerFired(.tokenExpired, generation: expiry, at: RRP.at(57)))
        let decrementer = try #require(RRP.generation(.problemCountDecrement, in: fired))
        #expect(fired == [
            .startTimer(.problemCountDecrement, generation: decrementer, after: 2000),
            .deliverToSRP(RRP.token(1)),
        ])
        #expect(rrp.status.map(\.problemCount) == [1, 0])
        // The slow copy arrives after the expiry: already delivered, dropped.
        #expect(rrp.step(.incoming(RRP.token(1), ringNumber: 0, at: RRP.at(60))) == [])
        // The decrementer brings the counter back to 0 and stops.
        #expect(rrp.step(.timerFired(.problemCountDecrement, generation: decrementer, at: RRP.at(2057))) == [])
        #expect(rrp.status.map(\.problemCount) == [0, 0])
    }

    @Test func decrementerRepeatsWhileACounterIsPositive() throws {
        var rrp = RRP.layer(.active)
        var decrementer: UInt64?
        for tokenSeq in UInt64(1)...2 {
            let held = rrp.step(.incoming(RRP.token(tokenSeq), ringNumber: 0, at: RRP.at(tokenSeq * 100)))
            let expiry = try #require(RRP.generation(.tokenExpired, in: held))
            let fired = rrp.step(.timerFired(.tokenExpired, generation: expiry, at: RRP.at(tokenSeq * 100 + 47)))
            decrementer = decrementer ?? RRP.generation(.problemCountDecrement, in: fired)
        }
        #expect(rrp.status.map(\.problemCount) == [0, 2])
        let first = try #require(decrementer)
        let again = rrp.step(.timerFired(.problemCountDecrement, generation: first, at: RRP.at(2100)))
        let second = try #require(RRP.generation(.problemCountDecrement, in: again))
        #expect(again == [.startTimer(.problemCountDecrement, generation: second, after: 2000)])
        #expect(rrp.status.map(\.problemCount) == [0, 1])
    }

    @Test func thresholdMarksTheRingFaulty() throws {
        var rrp = RRP.layer(.active, threshold: 3)
        var lastExpiry: [RRPAction] = []
        for tokenSeq in UInt64(1)...3 {
            let held = rrp.step(.incoming(RRP.token(tokenSeq), ringNumber: 0, at: RRP.at(tokenSeq * 100)))
            let expiry = try #require(RRP.generation(.tokenExpired, in: held))
            lastExpiry = rrp.step(.timerFired(.tokenExpired, generation: expiry, at: RRP.at(tokenSeq * 100 + 47)))
        }
        let recovery = try #require(RRP.generation(.autorecoveryCheck(ringNumber: 1), in: lastExpiry))
        #expect(lastExpiry == [
            .ringMarkedFaulty(ringNumber: 1, reason: .problemCountThreshold),
            .startTimer(.autorecoveryCheck(ringNumber: 1), generation: recovery, after: 1000),
            .deliverToSRP(RRP.token(3)),
        ])
        #expect(rrp.status.map(\.isFaulty) == [false, true])
        // The faulty ring is no longer used for sending...
        #expect(rrp.step(.outgoing(RRP.mcast(1, from: 1), to: .broadcast)) == [
            .transmit(RRP.mcast(1, from: 1), to: .broadcast, ringNumber: 0),
        ])
        // ...nor waited for: the next token is delivered at once.
        #expect(rrp.step(.incoming(RRP.token(4), ringNumber: 0, at: RRP.at(500))) == [.deliverToSRP(RRP.token(4))])
    }

    @Test func allRingsFaultyStillSendsOnRingZero() throws {
        var rrp = RRP.layer(.active, threshold: 1)
        // Ring 1 misses token 1, then ring 0 misses token 2 (which only the faulty ring carries).
        for (tokenSeq, arrivalRing) in [(UInt64(1), UInt8(0)), (2, 1)] {
            let held = rrp.step(.incoming(RRP.token(tokenSeq), ringNumber: arrivalRing, at: RRP.at(tokenSeq * 100)))
            let expiry = try #require(RRP.generation(.tokenExpired, in: held))
            _ = rrp.step(.timerFired(.tokenExpired, generation: expiry, at: RRP.at(tokenSeq * 100 + 47)))
        }
        #expect(rrp.status.map(\.isFaulty) == [true, true])
        #expect(rrp.step(.outgoing(RRP.token(3, from: 1), to: .node(NodeID(2)))) == [
            .transmit(RRP.token(3, from: 1), to: .node(NodeID(2)), ringNumber: 0),
        ])
        #expect(rrp.step(.outgoing(RRP.mcast(1, from: 1), to: .broadcast)) == [
            .transmit(RRP.mcast(1, from: 1), to: .broadcast, ringNumber: 0),
        ])
    }

    @Test func firstTokenOfANewRingIsNewEvenThoughItsTokenSeqRestarts() throws {
        var rrp = RRP.layer(.active)
        _ = rrp.step(.incoming(RRP.token(50), ringNumber: 0, at: RRP.at(1)))
        #expect(rrp.step(.incoming(RRP.token(50), ringNumber: 1, at: RRP.at(2))) == [
            .cancelTimer(.tokenExpired), .deliverToSRP(RRP.token(50)),
        ])
        let newRing = RingID(representative: NodeID(1), seq: 8)
        let held = rrp.step(.incoming(RRP.token(0, ring: newRing), ringNumber: 0, at: RRP.at(3)))
        let expiry = try #require(RRP.generation(.tokenExpired, in: held))
        #expect(held == [.startTimer(.tokenExpired, generation: expiry, after: 47)])
        // A straggler from the old ring is older than the held token: dropped.
        #expect(rrp.step(.incoming(RRP.token(49), ringNumber: 1, at: RRP.at(4))) == [])
    }

    @Test func redundantCommitTokenCopiesAreDeliveredOnce() {
        var rrp = RRP.layer(.active)
        let commit = TotemPacket(sender: NodeID(3), message: .commitToken(CommitToken(
            ringID: RRP.ring, tokenSeq: 1, memberIndex: 1, members: [NodeID(1), NodeID(3)],
            memberInfo: [nil, nil])))
        #expect(rrp.step(.incoming(commit, ringNumber: 0, at: RRP.at(1))) == [.deliverToSRP(commit)])
        #expect(rrp.step(.incoming(commit, ringNumber: 1, at: RRP.at(2))) == [])
    }
}
