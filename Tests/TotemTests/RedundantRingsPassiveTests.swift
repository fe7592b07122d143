import Basics
import Testing
import Totem
import TotemConfig

@Suite struct RedundantRingsPassiveTests {
    @Test func tokensAndMcastsAlternateOverTheRingsSeparately() {
        var rrp = RRP.layer(.passive)
        let token = RRP.token(1, from: 1)
        let mcast = RRP.mcast(1, from: 1)
        let next = RRPDestination.node(NodeID(2))
        #expect(rrp.step(.outgoing(token, to: next)) == [.transmit(token, to: next, ringNumber: 0)])
        #expect(rrp.step(.outgoing(mcast, to: .broadcast)) == [.transmit(mcast, to: .broadcast, ringNumber: 0)])
        #expect(rrp.step(.outgoing(mcast, to: .broadcast)) == [.transmit(mcast, to: .broadcast, ringNumber: 1)])
        #expect(rrp.step(.outgoing(token, to: next)) == [.transmit(token, to: next, ringNumber: 1)])
        #expect(rrp.step(.outgoing(token, to: next)) == [.transmit(token, to: next, ringNumber: 0)])
        #expect(rrp.step(.outgoing(mcast, to: .broadcast)) == [.transmit(mcast, to: .broadcast, ringNumber: 0)])
    }

    @Test func commitTokensRotateWithTheTokens() {
        var rrp = RRP.layer(.passive)
        let commit = TotemPacket(sender: NodeID(1), message: .commitToken(CommitToken(
            ringID: RRP.ring, tokenSeq: 1, memberIndex: 0, members: [NodeID(1), NodeID(2)], memberInfo: [nil, nil])))
        let next = RRPDestination.node(NodeID(2))
        #expect(rrp.step(.outgoing(RRP.token(1, from: 1), to: next)) == [.transmit(RRP.token(1, from: 1), to: next, ringNumber: 0)])
        #expect(rrp.step(.outgoing(commit, to: next)) == [.transmit(commit, to: next, ringNumber: 1)])
    }

    @Test func tokensArePassedUpAtOnce() {
        var rrp = RRP.layer(.passive)
        #expect(rrp.step(.incoming(RRP.token(1), ringNumber: 1, at: RRP.at(1))) == [.deliverToSRP(RRP.token(1))])
        #expect(rrp.status.map(\.tokensReceived) == [0, 1])
    }

    @Test func ringLaggingByMoreThanTheTokenThresholdIsFaulty() throws {
        var rrp = RRP.layer(.passive, threshold: 3)
        for tokenSeq in UInt64(1)...3 {
            #expect(rrp.step(.incoming(RRP.token(tokenSeq), ringNumber: 0, at: RRP.at(tokenSeq))) == [
                .deliverToSRP(RRP.token(tokenSeq)),
            ])
        }
        // Lag 4 > 3.
        let fourth = rrp.step(.incoming(RRP.token(4), ringNumber: 0, at: RRP.at(4)))
        let recovery = try #require(RRP.generation(.autorecoveryCheck(ringNumber: 1), in: fourth))
        #expect(fourth == [
            .deliverToSRP(RRP.token(4)),
            .ringMarkedFaulty(ringNumber: 1, reason: .tokenCountLag),
            .startTimer(.autorecoveryCheck(ringNumber: 1), generation: recovery, after: 1000),
        ])
        #expect(rrp.status.map(\.isFaulty) == [false, true])
        #expect(rrp.status[1].faultReason == .tokenCountLag)
        // Every send now takes ring 0.
        let token = RRP.token(5, from: 1)
        let next = RRPDestination.node(NodeID(2))
        #expect(rrp.step(.outgoing(token, to: next)) == [.transmit(token, to: next, ringNumber: 0)])
        #expect(rrp.step(.outgoing(token, to: next)) == [.transmit(token, to: next, ringNumber: 0)])
    }

    @Test func mcastsHaveTheirOwnThreshold() {
        var rrp = RRP.layer(.passive, threshold: 3, mcastThreshold: 5)
        for seq in UInt64(1)...5 {
            #expect(rrp.step(.incoming(RRP.mcast(seq), ringNumber: 1, at: RRP.at(seq))) == [.deliverToSRP(RRP.mcast(seq))])
        }
        let sixth = rrp.step(.incoming(RRP.mcast(6), ringNumber: 1, at: RRP.at(6)))
        #expect(sixth.prefix(2) == [.deliverToSRP(RRP.mcast(6)), .ringMarkedFaulty(ringNumber: 0, reason: .mcastCountLag)])
        #expect(rrp.status.map(\.isFaulty) == [true, false])
    }

    @Test func balancedTrafficNeverFaultsARing() {
        var rrp = RRP.layer(.passive, threshold: 1, mcastThreshold: 1)
        var faults = 0
        for i in UInt64(0)..<200 {
            let packet = i % 3 == 0 ? RRP.token(i) : RRP.mcast(i)
            for action in rrp.step(.incoming(packet, ringNumber: UInt8(i % 2), at: RRP.at(i))) {
                if case .ringMarkedFaulty = action { faults += 1 }
            }
        }
        #expect(faults == 0)
    }
}

@Suite struct RedundantRingsNoneModeTests {
    @Test func passesEverythingThroughOnItsOneRing() {
        var rrp = RedundantRings(options: RRP.options(.none, rings: 1), localNode: NodeID(1))
        #expect(rrp.step(.outgoing(RRP.token(1, from: 1), to: .node(NodeID(2)))) == [
            .transmit(RRP.token(1, from: 1), to: .node(NodeID(2)), ringNumber: 0),
        ])
        #expect(rrp.step(.outgoing(RRP.mcast(1, from: 1), to: .broadcast)) == [
            .transmit(RRP.mcast(1, from: 1), to: .broadcast, ringNumber: 0),
        ])
        #expect(rrp.step(.incoming(RRP.token(2), ringNumber: 0, at: RRP.at(1))) == [.deliverToSRP(RRP.token(2))])
        #expect(rrp.step(.incoming(RRP.token(2), ringNumber: 0, at: RRP.at(2))) == [.deliverToSRP(RRP.token(2))])
        #expect(rrp.step(.incoming(RRP.mcast(3), ringNumber: 0, at: RRP.at(3))) == [.deliverToSRP(RRP.mcast(3))])
        #expect(rrp.status.count == 1)
    }

    @Test func dropsPacketsFromOtherRingsAndRingTests() {
        var rrp = RedundantRings(options: RRP.options(.none, rings: 2), localNode: NodeID(1))
        #expect(rrp.step(.incoming(RRP.mcast(3), ringNumber: 1, at: RRP.at(1))) == [])
        #expect(rrp.dropCounters.unknownRing == 1)
        #expect(rrp.step(.incoming(RRP.ringTest(.active, ring: 0, activator: 2, from: 2), ringNumber: 0,
                                   at: RRP.at(2))) == [])
        #expect(rrp.dropCounters.strayRingTest == 1)
    }
}
