import Basics
import Testing
import TotemConfig
@testable import Totem

/// Messages queued on a token the representative holds (`TotemInstance+HeldToken.swift`).
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

    @Test func aHeldTokenAlreadyRetransmittedIsNotChanged() throws {
        var settings = TotemOptions.Settings()
        settings.token = 10_000
        settings.tokenRetransmit = 100
        settings.hold = 5_000
        var h = heldRing(settings)
        #expect(h.timers[0][.tokenHold] != nil)
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
}
