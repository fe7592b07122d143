import Basics
import Testing
import TotemConfig
@testable import Totem

@Suite struct RecoveryTests {
    /// Node 3 never got node 1's messages; node 1 then fails. In RECOVERY node 2 rebroadcasts
    /// them encapsulated, so nodes 2 and 3 deliver the same old-ring messages before the
    /// transitional configuration {2, 3} (extended virtual synchrony).
    @Test func oldRingMessagesAreRecoveredBeforeTheTransitionalConfiguration() {
        var h = Harness(count: 3)
        h.formRing()
        let oldRing = h.nodes[1].ringID
        func isApplicationFromNode1(_ packet: TotemPacket) -> Bool {
            if case .mcast(let m) = packet.message, m.originator == NodeID(1), case .application = m.body { return true }
            return false
        }
        h.drop = { to, packet in to == 2 && isApplicationFromNode1(packet) }
        for tag: UInt8 in 1...3 { _ = h.step(0, .submitted([tag, tag], at: h.now)) }
        h.run(limit: 12)
        #expect(h.deliveries[1].count == 3 && h.deliveries[2].isEmpty)
        // Node 1 fails: nothing to or from it any more.
        h.drop = { to, packet in to == 0 || packet.sender == NodeID(1) || (to == 2 && isApplicationFromNode1(packet)) }
        _ = h.fire(1, .tokenLoss)
        _ = h.fire(2, .tokenLoss)
        h.run(limit: 100)
        _ = h.fire(1, .consensus)
        _ = h.fire(2, .consensus)
        h.run(limit: 500)
        for i in 1...2 {
            #expect(h.nodes[i].state == .operational)
            #expect(h.nodes[i].currentMembers == [NodeID(2), NodeID(3)])
            #expect(h.changes[i].suffix(2).map(\.kind) == [.transitional, .regular])
            #expect(h.changes[i].suffix(2).first?.members == [NodeID(2), NodeID(3)])
            #expect(h.changes[i].suffix(2).first?.left == [NodeID(1)])
        }
        // The idle ring's token was held at node 1: the first payload left on it at once
        // (`broadcastOnHeldToken`), the other two were packed into one Mcast on the next visit.
        #expect(h.nodes[1].stats.oldRingMessagesQueued == 2)
        #expect(h.deliveries[2] == h.deliveries[1])
        #expect(h.deliveries[2].map(\.payload) == [[1, 1], [2, 2], [3, 3]])
        #expect(h.deliveries[2].allSatisfy { $0.ringID == oldRing && $0.originator == NodeID(1) })
    }
}
