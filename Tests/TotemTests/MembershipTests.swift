import Basics
import Testing
import TotemConfig
@testable import Totem

@Suite struct MembershipTests {
    @Test func aStartingNodeFormsASingletonRingAndPersistsItsSeq() {
        var h = Harness(count: 1)
        let started = h.step(0, .started(at: h.now))
        #expect(sends(started) == [.join(Join(procSet: [NodeID(1)], failedSet: [], ringSeq: 1))])
        #expect(h.nodes[0].state == .gather)
        // Nobody answers; its own JOIN "comes back" at the join timer: consensus, COMMIT,
        // and the ring seq is persisted before the commit token goes out.
        let first = h.fire(0, .join)
        let persistAt = first.firstIndex(of: .persistRingSeq(5))
        let commitAt = first.firstIndex { if case .send(let p, .node(NodeID(1))) = $0, case .commitToken = p.message { true } else { false } }
        #expect(persistAt != nil && commitAt != nil && persistAt! < commitAt!)
        h.run(limit: 50)
        #expect(h.nodes[0].state == .operational)
        #expect(h.changes[0].map(\.kind) == [.transitional, .regular])
        #expect(h.changes[0].last?.members == [NodeID(1)])
        #expect(h.persisted[0] == 5)
    }

    @Test func theCommitTokenMakesTwoRotationsBeforeTheFirstOrderingToken() {
        var h = Harness(count: 3)
        h.formRing()
        let all = [NodeID(1), NodeID(2), NodeID(3)]
        for i in 0..<3 { #expect(h.nodes[i].state == .operational && h.nodes[i].currentMembers == all) }
        // The last commit token of the final ring: index 1, 2, 3 (rotation 1), then three
        // full ones (rotation 2), then the representative's first ORF token.
        let ring = h.nodes[0].ringID
        let commits = h.log.filter { $0.contains("commit \(ring)") }
        #expect(commits == ["1->2 commit \(ring) index 1", "2->3 commit \(ring) index 2",
                            "3->1 commit \(ring) index 3", "1->2 commit \(ring) index 3",
                            "2->3 commit \(ring) index 3", "3->1 commit \(ring) index 3"])
        let lastCommit = h.log.lastIndex(of: "3->1 commit \(ring) index 3")!
        #expect(h.log[lastCommit + 1].hasPrefix("1->2 token seq 0"))
        for i in 0..<3 { #expect(h.changes[i].suffix(2).map(\.kind) == [.transitional, .regular]) }
    }

    @Test func consensusTimeoutFailsTheSilentAndRestartsGather() {
        var h = Harness(count: 2)
        _ = h.step(0, .started(at: h.now))
        _ = h.fire(0, .join)
        h.run(limit: 50)
        #expect(h.nodes[0].state == .operational)
        // Node 2 asks to join, then goes silent.
        let join = TotemPacket(sender: NodeID(2), message: .join(Join(procSet: [NodeID(1), NodeID(2)], failedSet: [], ringSeq: 1)))
        let answer = h.step(0, .packetReceived(join, at: h.now))
        #expect(h.nodes[0].state == .gather)
        #expect(sends(answer).contains(.join(Join(procSet: [NodeID(1), NodeID(2)], failedSet: [], ringSeq: 5))))
        #expect(h.timers[0][.consensus]?.1 == Milliseconds(h.nodes[0].options.consensus))
        let afterTimeout = h.fire(0, .consensus)
        // Node 2 is now failed: GATHER again with it in the failed set; alone in
        // proc - failed, node 1 commits a singleton ring when its own JOIN comes back.
        #expect(sends(afterTimeout).contains(.join(Join(procSet: [NodeID(1), NodeID(2)], failedSet: [NodeID(2)], ringSeq: 5))))
        #expect(h.nodes[0].state == .gather)
        #expect(h.fire(0, .join).contains(.persistRingSeq(9)))
        #expect(h.nodes[0].stats.consensusTimeouts == 1)
    }

    @Test func aStaleTimerFiringIsIgnored() {
        var h = Harness(count: 2)
        _ = h.step(0, .started(at: h.now))
        let actions = h.step(0, .timerFired(.consensus, TimerGeneration(0), at: h.now))
        #expect(actions.isEmpty)
        #expect(h.nodes[0].stats.staleTimerFirings == 1)
    }

    @Test func tokenLossAfterTokenMillisecondsEntersGather() {
        var h = Harness(count: 2)
        h.formRing()
        #expect(h.nodes[1].state == .operational)
        #expect(h.timers[1][.tokenLoss]?.1 == Milliseconds(h.nodes[1].options.token))
        let actions = h.fire(1, .tokenLoss)
        #expect(h.nodes[1].state == .gather)
        #expect(h.nodes[1].stats.tokenLostOperational == 1)
        #expect(sends(actions).contains { if case .join = $0 { true } else { false } })
    }

    @Test func aLeaveIsAJoinWithTheSenderFailed() {
        var h = Harness(count: 2)
        h.formRing()
        let actions = h.step(1, .leaveRequested(at: h.now))
        #expect(sends(actions) == [.join(Join(procSet: [NodeID(1)], failedSet: [NodeID(2)], ringSeq: h.nodes[1].ringID.seq, isLeave: true))])
        #expect(h.nodes[1].state == .left)
        h.run(limit: 10)
        #expect(h.nodes[0].state == .gather)
    }
}

@Suite struct MergeTests {
    @Test func anIdleRepresentativeAnnouncesItsRingAndSeparateRingsMerge() {
        var h = Harness(count: 2)
        // Formed apart: everything between the two nodes is lost.
        h.drop = { to, packet in Int(packet.sender.rawValue) - 1 != to }
        for i in 0..<2 { _ = h.step(i, .started(at: h.now)) }
        h.run(limit: 100)
        for i in 0..<2 { _ = h.fire(i, .join) }
        h.run(limit: 1_000)
        #expect(h.nodes[0].currentMembers == [NodeID(1)] && h.nodes[1].currentMembers == [NodeID(2)])
        // Both rings are idle: the merge timer runs at each representative.
        #expect(h.timers[0][.merge]?.1 == Milliseconds(h.nodes[0].options.merge))
        h.drop = nil
        let announce = h.fire(0, .merge)
        #expect(sends(announce) == [.mergeDetect(MergeDetect(ringID: h.nodes[0].ringID))])
        h.run(limit: 1_000)
        // Node 2 gathered and its JOIN moved node 1 to GATHER; node 1 now waits for node
        // 2's next JOIN (its join timer) to agree.
        #expect(h.nodes[0].state == .gather && h.nodes[1].state == .gather)
        _ = h.fire(1, .join)
        h.run(limit: 1_000)
        for i in 0..<2 {
            #expect(h.nodes[i].state == .operational)
            #expect(h.nodes[i].currentMembers == [NodeID(1), NodeID(2)])
            let last = h.changes[i].suffix(2)
            #expect(last.map(\.kind) == [.transitional, .regular])
            #expect(last.first?.members == [NodeID(UInt32(i + 1))])
            #expect(last.last?.joined == [NodeID(UInt32(2 - i))])
        }
    }
}
