import Basics
import Testing
import Totem
import TotemConfig

@Suite struct RedundantRingsRecoveryTests {
    /// Node `node` of the ring {1, 2, 3} in passive mode, with ring 1 marked faulty by a lag of
    /// tokens; returns the generation of its autorecovery timer.
    static func faultyNode(_ node: UInt32) throws -> (RedundantRings, UInt64) {
        var rrp = RRP.layer(.passive, node: node, threshold: 1)
        _ = rrp.step(.incoming(RRP.token(1), ringNumber: 0, at: RRP.at(1)))
        let fault = rrp.step(.incoming(RRP.token(2), ringNumber: 0, at: RRP.at(2)))
        let generation = try #require(RRP.generation(.autorecoveryCheck(ringNumber: 1), in: fault))
        return (rrp, generation)
    }

    @Test func ringTestRoundTripReenablesTheRing() throws {
        var (node1, check) = try Self.faultyNode(1)
        var node2 = RRP.layer(.passive, node: 2)
        var node3 = RRP.layer(.passive, node: 3)
        let nodeTwo = RRPDestination.node(NodeID(2))

        // The check timer sends RING_TEST_ACTIVE along ring 1 to the successor, and re-arms.
        let fired = node1.step(.timerFired(.autorecoveryCheck(ringNumber: 1), generation: check, at: RRP.at(1002)))
        let recheck = try #require(RRP.generation(.autorecoveryCheck(ringNumber: 1), in: fired))
        #expect(fired == [
            .transmit(RRP.ringTest(.active, activator: 1, from: 1), to: nodeTwo, ringNumber: 1),
            .startTimer(.autorecoveryCheck(ringNumber: 1), generation: recheck, after: 1000),
        ])
        // Each node forwards it to its successor on the same ring.
        #expect(node2.step(.incoming(RRP.ringTest(.active, activator: 1, from: 1), ringNumber: 1, at: RRP.at(1003))) == [
            .transmit(RRP.ringTest(.active, activator: 1, from: 2), to: .node(NodeID(3)), ringNumber: 1),
        ])
        #expect(node3.step(.incoming(RRP.ringTest(.active, activator: 1, from: 2), ringNumber: 1, at: RRP.at(1004))) == [
            .transmit(RRP.ringTest(.active, activator: 1, from: 3), to: .node(NodeID(1)), ringNumber: 1),
        ])
        // Back at the originator: the ring works all the way round; send RING_TEST_ACTIVATE.
        #expect(node1.step(.incoming(RRP.ringTest(.active, activator: 1, from: 3), ringNumber: 1, at: RRP.at(1005))) == [
            .transmit(RRP.ringTest(.activate, activator: 1, from: 1), to: nodeTwo, ringNumber: 1),
        ])
        #expect(node2.step(.incoming(RRP.ringTest(.activate, activator: 1, from: 1), ringNumber: 1, at: RRP.at(1006))) == [
            .transmit(RRP.ringTest(.activate, activator: 1, from: 2), to: .node(NodeID(3)), ringNumber: 1),
        ])
        #expect(node3.step(.incoming(RRP.ringTest(.activate, activator: 1, from: 2), ringNumber: 1, at: RRP.at(1007))) == [
            .transmit(RRP.ringTest(.activate, activator: 1, from: 3), to: .node(NodeID(1)), ringNumber: 1),
        ])
        // The activate message comes home: the originator re-enables the ring and stops.
        #expect(node1.step(.incoming(RRP.ringTest(.activate, activator: 1, from: 3), ringNumber: 1, at: RRP.at(1008))) == [
            .cancelTimer(.autorecoveryCheck(ringNumber: 1)), .ringRecovered(ringNumber: 1),
        ])
        #expect(node1.status.map(\.isFaulty) == [false, false])
        #expect(node1.status.map(\.tokensReceived) == [0, 0])
        // The re-armed check fires late: ignored.
        #expect(node1.step(.timerFired(.autorecoveryCheck(ringNumber: 1), generation: recheck, at: RRP.at(2002))) == [])
    }

    @Test func faultyNodeOnTheWayIsReenabledByTheActivateMessage() throws {
        var (node2, _) = try Self.faultyNode(2)
        #expect(node2.step(.incoming(RRP.ringTest(.activate, activator: 1, from: 1), ringNumber: 1, at: RRP.at(5))) == [
            .cancelTimer(.autorecoveryCheck(ringNumber: 1)),
            .ringRecovered(ringNumber: 1),
            .transmit(RRP.ringTest(.activate, activator: 1, from: 2), to: .node(NodeID(3)), ringNumber: 1),
        ])
        #expect(node2.status.map(\.isFaulty) == [false, false])
    }

    @Test func checkTimerKeepsTestingWhileTheRingStaysFaulty() throws {
        var (node1, check) = try Self.faultyNode(1)
        for round in UInt64(1)...3 {
            let fired = node1.step(.timerFired(.autorecoveryCheck(ringNumber: 1), generation: check,
                                               at: RRP.at(round * 1000)))
            check = try #require(RRP.generation(.autorecoveryCheck(ringNumber: 1), in: fired))
            #expect(fired.first == .transmit(RRP.ringTest(.active, activator: 1, from: 1), to: .node(NodeID(2)),
                                             ringNumber: 1))
        }
        #expect(node1.status.map(\.isFaulty) == [false, true])
    }

    @Test func strayRingTestsAreDropped() {
        var node2 = RRP.layer(.passive, node: 2)
        // On another ring than the one it tests.
        #expect(node2.step(.incoming(RRP.ringTest(.active, ring: 1, activator: 1, from: 1), ringNumber: 0,
                                     at: RRP.at(1))) == [])
        // From an activator outside the ring: it would circle for ever.
        #expect(node2.step(.incoming(RRP.ringTest(.active, ring: 1, activator: 9, from: 1), ringNumber: 1,
                                     at: RRP.at(2))) == [])
        #expect(node2.dropCounters.strayRingTest == 2)
    }

    @Test func manualReenableClearsEveryFaultyRing() throws {
        var (node1, check) = try Self.faultyNode(1)
        #expect(node1.step(.reenableRequested) == [
            .cancelTimer(.autorecoveryCheck(ringNumber: 1)), .ringRecovered(ringNumber: 1),
        ])
        #expect(node1.status.map(\.isFaulty) == [false, false])
        #expect(node1.step(.timerFired(.autorecoveryCheck(ringNumber: 1), generation: check, at: RRP.at(1001))) == [])
        // Nothing faulty any more: a second request changes nothing.
        #expect(node1.step(.reenableRequested) == [])
    }

    @Test func activeModeFaultResetsTheProblemCounterOnRecovery() throws {
        var rrp = RRP.layer(.active, threshold: 1)
        let held = rrp.step(.incoming(RRP.token(1), ringNumber: 0, at: RRP.at(1)))
        let expiry = try #require(RRP.generation(.tokenExpired, in: held))
        _ = rrp.step(.timerFired(.tokenExpired, generation: expiry, at: RRP.at(48)))
        #expect(rrp.status.map(\.problemCount) == [0, 1])
        #expect(rrp.step(.incoming(RRP.ringTest(.activate, activator: 2, from: 3), ringNumber: 1, at: RRP.at(50))) == [
            .cancelTimer(.autorecoveryCheck(ringNumber: 1)),
            .ringRecovered(ringNumber: 1),
            .transmit(RRP.ringTest(.activate, activator: 2, from: 1), to: .node(NodeID(2)), ringNumber: 1),
        ])
        #expect(rrp.status.map(\.problemCount) == [0, 0])
        // Both rings carry tokens again: the next token waits for both.
        let next = rrp.step(.incoming(RRP.token(2), ringNumber: 0, at: RRP.at(60)))
        #expect(RRP.generation(.tokenExpired, in: next) != nil)
    }
}
