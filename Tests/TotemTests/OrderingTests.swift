import Basics
import Testing
import TotemConfig
@testable import Totem

@Suite struct OrderingTests {
    func payload(_ tag: UInt8, bytes: Int = 20) -> [UInt8] { [UInt8](repeating: tag, count: bytes) }

    @Test func anIdleRingIsHeldByTheRepresentativeAndReleasedBySubmit() {
        var h = Harness(count: 1)
        h.formRing()
        h.run(limit: 1_000)
        // The token stops after seqno_unchanged_const idle visits: the representative holds it.
        #expect(h.inFlight.isEmpty)
        #expect(h.nodes[0].stats.tokensHeld == 1)
        #expect(h.nodes[0].stats.tokensReceived == UInt64(h.nodes[0].options.seqnoUnchangedConst) + 2)
        #expect(h.timers[0][.tokenHold]?.1 == Milliseconds(h.nodes[0].options.hold))
        // A submission releases it at once; the payload is ordered and delivered.
        let actions = h.step(0, .submitted(payload(7), at: h.now))
        #expect(sends(actions).contains { if case .token = $0 { true } else { false } })
        h.run(limit: 5)
        #expect(h.deliveries[0].map(\.payload) == [payload(7)])
    }

    @Test func aSubmissionAtAnotherMemberCancelsTheHold() {
        var h = Harness(count: 2)
        h.formRing()
        h.run(limit: 1_000)
        #expect(h.inFlight.isEmpty && h.timers[0][.tokenHold] != nil)
        let actions = h.step(1, .submitted(payload(3), at: h.now))
        #expect(sends(actions) == [.tokenHoldCancel(TokenHoldCancel(ringID: h.nodes[1].ringID))])
        h.run(limit: 10)
        #expect(h.deliveries[0].map(\.payload) == [payload(3)])
        #expect(h.deliveries[1] == h.deliveries[0])
    }

    @Test func aBusyRingIsNeverHeld() {
        var h = Harness(count: 1)
        h.formRing()
        let heldBefore = h.nodes[0].stats.tokensHeld
        for i in 0..<100 {
            _ = h.step(0, .submitted(payload(UInt8(i % 250)), at: h.now))
            h.run(limit: 1)
        }
        #expect(h.nodes[0].stats.tokensHeld == heldBefore)
        #expect(h.deliveries[0].count == 100)
    }

    @Test func maxMessagesCapsAVisitAndWindowSizeCapsARotation() {
        var settings = TotemOptions.Settings()
        settings.windowSize = 20
        settings.maxMessages = 12
        var h = Harness(count: 2, settings: settings)
        h.formRing()
        // 1000-byte payloads: one frame each.
        for i in 0..<150 {
            _ = h.step(i % 2, .submitted(payload(UInt8(i % 250), bytes: 1_000), at: h.now))
        }
        h.visits = []
        h.run(limit: 2_000)
        #expect(h.visits.allSatisfy { $0.mcasts <= 12 })
        #expect(h.visits.contains { $0.mcasts == 12 })
        for k in 1..<h.visits.count {
            #expect(h.visits[k - 1].mcasts + h.visits[k].mcasts <= 20, "rotation ending at visit \(k)")
        }
        #expect(h.deliveries[0].count == 150 && h.deliveries[1].count == 150)
        #expect(h.deliveries[0] == h.deliveries[1])
    }

    @Test func aLostMcastIsRetransmittedThroughTheRetransmitList() {
        var h = Harness(count: 2)
        h.formRing()
        var dropped = false
        h.drop = { to, packet in
            if !dropped, to == 1, case .mcast = packet.message { dropped = true; return true }
            return false
        }
        _ = h.step(0, .submitted(payload(1), at: h.now))
        _ = h.step(0, .submitted(payload(2, bytes: 1_400), at: h.now))
        h.run(limit: 200)
        #expect(dropped)
        #expect(h.nodes[1].stats.retransmitRequestsAdded == 1)
        #expect(h.nodes[0].stats.mcastsRetransmitted == 1)
        #expect(h.deliveries[1].map(\.payload) == [payload(1), payload(2, bytes: 1_400)])
        #expect(h.deliveries[0] == h.deliveries[1])
    }

    @Test func aNodeThatNeverReceivesExpelsItselfAfterFailRecvConst() {
        var settings = TotemOptions.Settings()
        settings.failRecvConst = 10
        var h = Harness(count: 2, settings: settings)
        h.formRing()
        h.drop = { to, packet in
            if to == 1, case .mcast(let m) = packet.message, m.originator == NodeID(1) { return true }
            return false
        }
        _ = h.step(0, .submitted(payload(9), at: h.now))
        h.run(limit: 200)
        #expect(h.nodes[1].stats.failedToReceive == 1)
        #expect(h.nodes[1].state != .operational || h.nodes[1].currentMembers == [NodeID(2)])
        #expect(h.deliveries[1].isEmpty)
    }

    @Test func agreedOrderIsTheSameEverywhere() {
        var h = Harness(count: 3)
        h.formRing()
        for i in 0..<60 { _ = h.step(i % 3, .submitted(payload(UInt8(i)), at: h.now)) }
        h.run(limit: 2_000)
        #expect(h.deliveries[0].count == 60)
        #expect(h.deliveries[0] == h.deliveries[1] && h.deliveries[1] == h.deliveries[2])
    }
}
