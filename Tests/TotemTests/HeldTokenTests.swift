import Basics
import Testing
import TotemConfig
@testable import Totem

/// Where an idle ring's token waits, and messages queued on it (`TotemInstance+HeldToken.swift`).
@Suite struct HeldTokenTests {
    func payload(_ tag: UInt8, bytes: Int = 20) -> [UInt8] { [UInt8](repeating: tag, count: bytes) }

    func tokens(_ actions: [TotemAction]) -> [OrderingToken] {
        sends(actions).compactMap { if case .token(let t) = $0 { t } else { nil } }
    }

    func mcasts(_ actions: [TotemAction]) -> [Mcast] {
        sends(actions).compactMap { if case .mcast(let m) = $0 { m } else { nil } }
    }

    /// A ring of three, idle until node 1 (the representative) holds the token.
    func heldRing(_ settings: TotemOptions.Settings = TotemOptions.Settings()) -> Harness {
        var h = Harness(count: 3, settings: settings)
        h.formRing()
        h.run(limit: 2_000)
        return h
    }

    @Test func aMessageQueuedOnTheHolderLeavesOnTheHeldToken() throws {
        var h = heldRing()
        #expect(h.inFlight.isEmpty && h.timers[0][.tokenHold] != nil)
        let heldSeq = try #require(h.nodes[0].savedToken.flatMap { p -> UInt64? in
            if case .token(let t) = p.message { t.seq } else { nil }
        })
        let actions = h.step(0, .submitted(payload(7), at: h.now))
        // The message is stamped on the held token and sent before it, in the same step.
        let sent = mcasts(actions)
        let token = try #require(tokens(actions).first)
        #expect(sent.map(\.seq) == [heldSeq + 1])
        #expect(token.seq == heldSeq + 1 && token.aru == heldSeq + 1 && token.aruAddress == nil)
        #expect(token.fcc == 1)
        // A submission's step never delivers (the layers above submit from inside their own
        // steps): the node's own copy is delivered on the 0 ms timer.
        #expect(!actions.contains { if case .deliver = $0 { true } else { false } })
        #expect(h.timers[0][.deliverOwn]?.1 == Milliseconds(0))
        #expect(h.nodes[0].stats.heldTokenBroadcasts == 1)
        _ = h.fire(0, .deliverOwn)
        #expect(h.deliveries[0].map(\.payload) == [payload(7)])
        h.run(limit: 20)
        #expect(h.deliveries[1] == h.deliveries[0] && h.deliveries[2] == h.deliveries[0])
    }

    @Test func aHoldCancelReleasesTheHeldTokenWithTheMessagesQueuedThere() throws {
        var h = heldRing()
        // Node 1 has a message queued while it holds the token (its own submit releases at
        // once in a real run; here the submit finds the hold already cancelled), then node
        // 2's hold cancel arrives.
        h.nodes[0].isTokenHeld = false
        _ = h.step(0, .submitted(payload(1), at: h.now))
        #expect(h.inFlight.isEmpty, "not held any more in the core's view: nothing sent yet")
        _ = h.step(1, .submitted(payload(2), at: h.now))
        h.run(limit: 30)
        // Node 1's message went out on the released token, before node 2's (which waited
        // for the token's visit to node 2).
        #expect(h.deliveries[0].map(\.payload) == [payload(1), payload(2)])
        #expect(h.deliveries[1] == h.deliveries[0] && h.deliveries[2] == h.deliveries[0])
        #expect(h.nodes[0].stats.heldTokenBroadcasts == 1)
    }

    /// `hold` above `token_retransmit`: the token-retransmit timer resends a held copy.
    func heldRingHoldingLongerThanRetransmit() -> Harness {
        var settings = TotemOptions.Settings()
        settings.token = 10_000
        settings.tokenRetransmit = 100
        settings.hold = 5_000
        let h = heldRing(settings)
        #expect(h.timers[0][.tokenHold] != nil)
        return h
    }

    @Test func aHeldTokenAlreadyRetransmittedIsNotChanged() throws {
        var h = heldRingHoldingLongerThanRetransmit()
        // The retransmit timer resends the saved token while it is still held.
        let resent = tokens(h.fire(0, .tokenRetransmit))
        #expect(resent.count == 1)
        let actions = h.step(0, .submitted(payload(5), at: h.now))
        // A token that is on the wire must not exist in two versions: it goes unchanged and
        // the message waits for the next visit.
        #expect(mcasts(actions).isEmpty)
        #expect(tokens(actions) == resent)
        #expect(h.nodes[0].stats.heldTokenBroadcasts == 0)
        h.run(limit: 20)
        #expect(h.deliveries[0].map(\.payload) == [payload(5)])
        #expect(h.deliveries[1] == h.deliveries[0] && h.deliveries[2] == h.deliveries[0])
    }

    @Test func maxMessagesBoundsTheVisitWithTheHeldTokensShare() throws {
        var settings = TotemOptions.Settings()
        settings.maxMessages = 3
        var h = heldRing(settings)
        h.nodes[0].isTokenHeld = false
        for i in 0..<5 { _ = h.step(0, .submitted(payload(UInt8(i), bytes: 1_000), at: h.now)) }
        let actions = h.fire(0, .tokenHold)
        #expect(mcasts(actions).count == 3)
        h.run(limit: 50)
        #expect(h.deliveries[0].map(\.payload) == (0..<5).map { payload(UInt8($0), bytes: 1_000) })
        #expect(h.deliveries[1] == h.deliveries[0] && h.deliveries[2] == h.deliveries[0])
    }

    /// Node 2 sends on a ring held by node 1; once the ring is idle again, node 2 holds.
    func ringHeldAfterNode2Sent(_ payloads: [UInt8]) -> Harness {
        var h = heldRing()
        for tag in payloads { _ = h.step(1, .submitted(payload(tag), at: h.now)) }
        h.run(limit: 2_000)
        return h
    }

    @Test func theIdleTokenWaitsAtTheNodeThatBroadcastLast() throws {
        var h = ringHeldAfterNode2Sent([1])
        #expect(h.inFlight.isEmpty)
        #expect(h.timers[1][.tokenHold] != nil && h.timers[0][.tokenHold] == nil && h.timers[2][.tokenHold] == nil)
        #expect(h.nodes.allSatisfy { $0.newestMessageOriginator == NodeID(2) })
        // Node 2's next message leaves on the token it holds: no hold cancel, no rotation.
        let cancelsBefore = h.nodes[1].stats.tokenHoldCancelsSent
        #expect(cancelsBefore == 1, "the first message asked node 1 for the token")
        let actions = h.step(1, .submitted(payload(2), at: h.now))
        #expect(!sends(actions).contains { if case .tokenHoldCancel = $0 { true } else { false } })
        #expect(mcasts(actions).count == 1 && tokens(actions).count == 1)
        #expect(h.nodes[1].stats.heldTokenBroadcasts == 1 && h.nodes[1].stats.tokenHoldCancelsSent == cancelsBefore)
        _ = h.fire(1, .deliverOwn)
        h.run(limit: 20)
        #expect(h.deliveries[0].map(\.payload) == [payload(1), payload(2)])
        #expect(h.deliveries[1] == h.deliveries[0] && h.deliveries[2] == h.deliveries[0])
    }

    @Test func anotherNodeStillAsksTheHolderWithAHoldCancel() throws {
        var h = ringHeldAfterNode2Sent([1])
        // Node 1, the representative, is not the holder now: it asks for the token.
        let actions = h.step(0, .submitted(payload(3), at: h.now))
        #expect(sends(actions) == [.tokenHoldCancel(TokenHoldCancel(ringID: h.nodes[0].ringID))])
        h.run(limit: 2_000)
        #expect(h.deliveries[0].map(\.payload) == [payload(1), payload(3)])
        #expect(h.deliveries[1] == h.deliveries[0] && h.deliveries[2] == h.deliveries[0])
        // And the token now waits at node 1 again.
        #expect(h.timers[0][.tokenHold] != nil && h.timers[1][.tokenHold] == nil)
    }

    @Test func theHoldTimerReleasesTheTokenForOneRotation() throws {
        var h = ringHeldAfterNode2Sent([1])
        let visitsBefore = h.visits.count
        let released = tokens(h.fire(1, .tokenHold))
        #expect(released.count == 1)
        // The ring is still idle: one rotation (nodes 3, 1, 2), and node 2 holds again, as
        // corosync's hold timer keeps the idle count.
        h.run(limit: 2_000)
        #expect(h.inFlight.isEmpty && h.timers[1][.tokenHold] != nil)
        #expect(h.visits.count - visitsBefore == 3)
        #expect(h.nodes[1].stats.tokensHeld == 2)
    }

    @Test func theSenderAsksForTheTokenWhenTheRepresentativeHoldsInItsPlace() throws {
        var h = heldRing()
        _ = h.step(1, .submitted(payload(1), at: h.now))
        h.run(limit: 30)
        #expect(h.deliveries.allSatisfy { $0.map(\.payload) == [payload(1)] })
        // Node 1 forgets who sent last (as a member that never recorded the message): when
        // the ring goes idle it takes itself for the holder and keeps the token, one visit
        // before node 2's count would let node 2 hold.
        h.nodes[0].newestMessageOriginator = nil
        h.nodes[0].newestMessageSeq = 0
        h.run(limit: 2_000)
        #expect(h.inFlight.isEmpty && h.timers[0][.tokenHold] != nil && h.timers[1][.tokenHold] == nil)
        // Node 2's next message does not wait for node 1's hold timer: node 2 asks for the
        // token, node 1 releases it, and the message is delivered everywhere with no timer.
        let actions = h.step(1, .submitted(payload(2), at: h.now))
        #expect(sends(actions) == [.tokenHoldCancel(TokenHoldCancel(ringID: h.nodes[1].ringID))])
        h.run(limit: 50)
        #expect(h.deliveries[0].map(\.payload) == [payload(1), payload(2)])
        #expect(h.deliveries[1] == h.deliveries[0] && h.deliveries[2] == h.deliveries[0])
    }

    @Test func aMemberThatMissedTheNewestMessageNeverHoldsInItsPlace() throws {
        var h = ringHeldAfterNode2Sent([1])
        // Node 3 forgets who sent last (as if it never had the message): it names the
        // representative, not itself, so node 2 alone keeps holding.
        h.nodes[2].newestMessageOriginator = nil
        h.nodes[2].newestMessageSeq = 0
        #expect(!h.nodes[2].holdsIdleToken(seq: h.nodes[1].newestMessageSeq))
        #expect(h.nodes[0].holdsIdleToken(seq: 0) && !h.nodes[1].holdsIdleToken(seq: 0))
        #expect(h.nodes[1].holdsIdleToken(seq: h.nodes[1].newestMessageSeq))
    }

    @Test func aVisitThatForwardsEndsAnOldHoldWhoseCopyCameBack() throws {
        // The held copy is resent and comes back round.
        var h = heldRingHoldingLongerThanRetransmit()
        _ = h.fire(0, .tokenRetransmit)
        // A message queued at node 1 without releasing (the hold already taken for
        // cancelled) leaves on the copy's next visit to node 1, which therefore forwards.
        h.nodes[0].isTokenHeld = false
        _ = h.step(0, .submitted(payload(4), at: h.now))
        h.run(limit: 4)
        #expect(h.nodes[0].stats.mcastsSent == 1)
        // That visit did not hold: the old hold timer is gone, and a later submission at
        // node 1 is not taken for a release of a token it does not have.
        #expect(h.timers[0][.tokenHold] == nil)
        #expect(!h.nodes[0].isHoldingToken)
        h.run(limit: 50)
        #expect(h.deliveries.allSatisfy { $0.map(\.payload) == [payload(4)] })
    }
}
