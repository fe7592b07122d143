import Basics
import Quorum
import Testing

/// votequorum's rules and flags, one named scenario each (corosync `votequorum.5`,
/// totem-notes section 7), run on a small cluster of real `VoteQuorumState`s.
@Suite("votequorum scenarios")
struct VoteQuorumScenarioTests {
    @Test("plain majority: two of three stay quorate, one alone does not, and the store agrees")
    func plainMajority() {
        var c = Cluster(voters: ids(1, 2, 3))
        c.form([ids(1, 2, 3)])
        #expect(c[id(1)].serviceIsQuorate && c[id(1)].quorum == 2 && c[id(1)].storeIsQuorate)
        c.form([ids(1, 2), ids(3)])
        #expect(c[id(1)].serviceIsQuorate && c[id(2)].storeIsQuorate)
        #expect(!c[id(3)].serviceIsQuorate && !c[id(3)].storeIsQuorate)
        #expect(c[id(1)].quorumDisagreement == nil && c[id(3)].quorumDisagreement == nil)
    }

    @Test("expected votes are raised to the total of votes seen, with a notification")
    func expectedVotesRaisedToTotal() {
        var c = Cluster(voters: ids(1, 2, 3), expected: 2)
        #expect(c[id(1)].getinfo(id(1))?.expectedVotes == 2)
        c.form([ids(1, 2, 3)])
        let info = c[id(1)].getinfo(id(1))!
        #expect(info.expectedVotes == 3 && info.quorum == 2 && info.totalVotes == 3)
        #expect(c.actions[id(1)]!.contains(.notifyExpectedVotes(3)))
    }

    @Test("quorum never decreases by itself when nodes leave")
    func quorumDoesNotDecrease() {
        var c = Cluster(voters: ids(1, 2, 3, 4, 5), expected: 3)
        c.form([ids(1, 2, 3, 4, 5)])
        #expect(c[id(1)].quorum == 3 && c[id(1)].getinfo(id(0))?.expectedVotes == 5)
        c.form([ids(1, 2, 3), ids(4, 5)])
        #expect(c[id(1)].quorum == 3 && c[id(1)].serviceIsQuorate)
        #expect(c[id(4)].quorum == 3 && !c[id(4)].serviceIsQuorate)
    }

    @Test("two_node: one survivor stays quorate after the other leaves, but the store does not commit")
    func twoNodeSurvivor() {
        var c = Cluster(voters: ids(1, 2), options: QuorumOptions(twoNode: true))
        c.form([ids(1, 2)])
        #expect(c[id(1)].serviceIsQuorate && c[id(1)].storeIsQuorate)
        c.form([ids(1)])
        #expect(c[id(1)].serviceIsQuorate && c[id(1)].quorum == 1)
        #expect(!c[id(1)].storeIsQuorate)
        #expect(c[id(1)].quorumDisagreement?.contains("two_node") == true)
        #expect(c[id(1)].getinfo(id(1))!.flags == [.twoNode, .quorate, .waitForAll])
        let pushed = c.lastQuorumNotification(id(1))!
        #expect(pushed.isQuorate && !pushed.isStoreQuorate && pushed.members == ids(1))
    }

    @Test("wait_for_all: a restarted node alone is not quorate (two_node implies wait_for_all)")
    func waitForAllRestartedAlone() {
        var c = Cluster(voters: ids(1, 2), options: QuorumOptions(twoNode: true))
        c.form([ids(1, 2)])
        c.form([ids(1)])
        c.start(id(1))
        c.form([ids(1)])
        #expect(!c[id(1)].serviceIsQuorate && c[id(1)].isWaitingForAll)
        #expect(c[id(1)].quorum == 1)  // two_node's quorum, yet still waiting for all
        c.form([ids(1, 2)])
        #expect(c[id(1)].serviceIsQuorate && !c[id(1)].isWaitingForAll)
    }

    @Test("two_node with wait_for_all explicitly off: a node alone at start-up is quorate")
    func twoNodeWithoutWaitForAll() {
        var c = Cluster(voters: ids(1, 2), options: QuorumOptions(twoNode: true, waitForAll: false))
        c.form([ids(1)])
        #expect(c[id(1)].serviceIsQuorate && !c[id(1)].storeIsQuorate)
        #expect(c[id(1)].getinfo(id(0))!.flags == [.twoNode, .quorate])
    }

    @Test("two_node: more than two members are not quorate with quorum 1")
    func twoNodeWithThreeMembers() {
        var c = Cluster(voters: ids(1, 2, 3), options: QuorumOptions(twoNode: true, waitForAll: false))
        c.form([ids(1, 2, 3)])
        #expect(c[id(1)].quorum == 2)  // the ordinary majority once there are three members
    }

    @Test("wait_for_all: two of three starting together are not quorate until the third is seen")
    func waitForAllStartUp() {
        var c = Cluster(voters: ids(1, 2, 3), options: QuorumOptions(waitForAll: true))
        c.form([ids(1, 2)])
        #expect(!c[id(1)].serviceIsQuorate && c[id(1)].storeIsQuorate)
        #expect(c[id(1)].quorumDisagreement?.contains("wait_for_all") == true)
        c.form([ids(1, 2, 3)])
        #expect(c[id(1)].serviceIsQuorate)
        c.form([ids(1, 2), ids(3)])
        #expect(c[id(1)].serviceIsQuorate && !c[id(3)].serviceIsQuorate)
    }

    @Test("wait_for_all: a restarted node joining a quorate partition that is not waiting is released")
    func waitForAllReleasedByQuoratePeer() {
        var c = Cluster(voters: ids(1, 2, 3, 4, 5), options: QuorumOptions(waitForAll: true))
        c.form([ids(1, 2, 3, 4, 5)])
        c.form([ids(1, 2, 3)])
        #expect(c[id(1)].serviceIsQuorate)
        c.start(id(4))
        #expect(c[id(4)].isWaitingForAll)
        c.form([ids(1, 2, 3, 4)])
        #expect(c[id(4)].serviceIsQuorate && !c[id(4)].isWaitingForAll)
    }

    @Test("wait_for_all: a delivered cancel releases the wait")
    func cancelWaitForAll() {
        var c = Cluster(voters: ids(1, 2, 3), options: QuorumOptions(waitForAll: true))
        c.form([ids(1, 2)])
        #expect(!c[id(1)].serviceIsQuorate)
        c.reconfigure(.cancelWaitForAll, from: id(1))
        #expect(c[id(1)].serviceIsQuorate && c[id(2)].serviceIsQuorate)
        #expect(c.lastQuorumNotification(id(2))?.isQuorate == true)
    }

    @Test("last_man_standing: after the window expected votes drop to the members present")
    func lastManStanding() {
        let options = QuorumOptions(lastManStanding: true, lastManStandingWindow: 10_000)
        var c = Cluster(voters: ids(1, 2, 3, 4, 5), options: options)
        c.form([ids(1, 2, 3, 4, 5)])
        c.form([ids(1, 2, 3)])
        #expect(c[id(1)].quorum == 3 && c[id(1)].getinfo(id(0))?.expectedVotes == 5)
        c.advance(by: 9_999)
        #expect(c[id(1)].quorum == 3)
        c.advance(by: 1)
        #expect(c[id(1)].quorum == 2 && c[id(1)].getinfo(id(0))?.expectedVotes == 3)
        #expect(c.actions[id(1)]!.contains(.notifyExpectedVotes(3)))
        c.form([ids(1, 2)])
        #expect(c[id(1)].serviceIsQuorate)
        #expect(!c[id(1)].storeIsQuorate)  // 2 of 5 configured votes: the store does not commit
        #expect(c[id(1)].quorumDisagreement?.contains("last_man_standing") == true)
    }

    @Test("last_man_standing: a timer from an older membership is ignored")
    func lastManStandingStaleTimer() {
        var c = Cluster(voters: ids(1, 2, 3, 4, 5), options: QuorumOptions(lastManStanding: true))
        c.form([ids(1, 2, 3, 4, 5)])
        c.form([ids(1, 2, 3, 4)])
        let first = c.actions[id(1)]!.compactMap { if case .startTimer(let t, _) = $0 { t } else { nil } }
        c.form([ids(1, 2, 3)])  // restarts the window
        #expect(c.actions[id(1)]!.contains(.cancelTimer(first[0])))
        let before = c[id(1)].quorum
        _ = c.apply(.timerFired(first[0], at: c.now), to: id(1))
        #expect(c[id(1)].quorum == before)
    }

    @Test("last_man_standing is disabled when a node has more than one vote")
    func lastManStandingNeedsOneVoteEach() throws {
        let configuration = try VoterConfiguration(voters: [.init(id(1), votes: 2), .init(id(2)), .init(id(3))])
        let resolved = try QuorumOptions(lastManStanding: true).resolved(for: configuration)
        #expect(!resolved.lastManStanding && resolved.warnings.count == 1)
        // And at run time, when such a NODEINFO arrives (corosync's own check).
        var state = VoteQuorumState(
            localNode: id(2), configuration: try VoterConfiguration(nodes: ids(1, 2, 3)),
            options: EffectiveQuorumOptions(lastManStanding: true))
        _ = state.step(.membershipChanged(ringID: RingID(representative: id(1), seq: 4), members: ids(1, 2), at: .zero))
        _ = state.step(.nodeInfoReceived(NodeInfo(nodeID: id(1), votes: 2, expectedVotes: 3, flags: []), from: id(1), at: .zero))
        #expect(!state.isLastManStandingEnabled)
        #expect(!state.getinfo(id(0))!.flags.contains(.lastManStanding))
    }

    @Test("auto_tie_breaker lowest: the half with the lowest id stays quorate")
    func autoTieBreakerLowest() {
        var c = Cluster(voters: ids(1, 2, 3, 4), options: QuorumOptions(autoTieBreaker: true))
        c.form([ids(1, 2, 3, 4)])
        c.form([ids(1, 2), ids(3, 4)])
        #expect(c[id(1)].serviceIsQuorate && c[id(2)].serviceIsQuorate)
        #expect(!c[id(3)].serviceIsQuorate && !c[id(4)].serviceIsQuorate)
        #expect(!c[id(1)].storeIsQuorate && !c[id(3)].storeIsQuorate)  // 2 of 4 is no majority
        #expect(c[id(1)].getinfo(id(0))!.flags == [.quorate, .autoTieBreaker])
    }

    @Test("auto_tie_breaker highest: the half with the highest id stays quorate")
    func autoTieBreakerHighest() {
        var c = Cluster(voters: ids(1, 2, 3, 4), options: QuorumOptions(autoTieBreaker: true, autoTieBreakerNode: .highest))
        c.form([ids(1, 2, 3, 4)])
        c.form([ids(1, 2), ids(3, 4)])
        #expect(!c[id(1)].serviceIsQuorate && c[id(4)].serviceIsQuorate)
    }

    @Test("auto_tie_breaker list: the first listed node decides, an earlier one seen before vetoes")
    func autoTieBreakerList() {
        var c = Cluster(voters: ids(1, 2, 3, 4), options: QuorumOptions(autoTieBreaker: true, autoTieBreakerNode: .list(ids(3, 1))))
        c.form([ids(1, 2, 3, 4)])
        c.form([ids(1, 2), ids(3, 4)])
        #expect(c[id(3)].serviceIsQuorate)
        #expect(!c[id(1)].serviceIsQuorate)  // 3 was in the previous ring: it may be on the other side
    }

    @Test("auto_tie_breaker: a half that was never quorate cannot win")
    func autoTieBreakerNeedsHistory() {
        var c = Cluster(voters: ids(1, 2, 3, 4), options: QuorumOptions(autoTieBreaker: true))
        c.form([ids(1, 2), ids(3, 4)])
        #expect(!c[id(1)].serviceIsQuorate && !c[id(3)].serviceIsQuorate)
    }

    @Test("auto_tie_breaker and two_node: two_node is disabled; odd cluster needs wait_for_all")
    func autoTieBreakerStartupRules() throws {
        let two = try VoterConfiguration(nodes: ids(1, 2))
        let resolved = try QuorumOptions(twoNode: true, autoTieBreaker: true).resolved(for: two)
        #expect(!resolved.twoNode && resolved.tieBreaker == .lowest && resolved.waitForAll)
        let odd = try VoterConfiguration(nodes: ids(1, 2, 3))
        let dropped = try QuorumOptions(autoTieBreaker: true).resolved(for: odd)
        #expect(dropped.tieBreaker == nil && dropped.warnings.count == 1)
        let kept = try QuorumOptions(waitForAll: true, autoTieBreaker: true).resolved(for: odd)
        #expect(kept.tieBreaker == .lowest)
        #expect(throws: QuorumOptionsError.autoTieBreakerAndLastManStandingOnOddCluster) {
            try QuorumOptions(lastManStanding: true, autoTieBreaker: true).resolved(for: odd)
        }
    }

    @Test("allow_downscale: nodes leaving cleanly lower expected votes, never below the configured")
    func allowDownscale() {
        var c = Cluster(voters: ids(1, 2, 3, 4, 5), expected: 3, options: QuorumOptions(allowDownscale: true))
        c.form([ids(1, 2, 3, 4, 5)])
        #expect(c[id(1)].getinfo(id(0))?.expectedVotes == 5 && c[id(1)].quorum == 3)
        c.shutDown(id(5))
        #expect(c[id(1)].getinfo(id(5))?.state == .leaving)
        #expect(c[id(1)].getinfo(id(0))?.expectedVotes == 4)
        c.form([ids(1, 2, 3, 4)])
        c.shutDown(id(4))
        c.form([ids(1, 2, 3)])
        #expect(c[id(1)].getinfo(id(0))?.expectedVotes == 3 && c[id(1)].quorum == 2)
        c.shutDown(id(3))
        c.form([ids(1, 2)])
        #expect(c[id(1)].quorum == 2 && c[id(1)].serviceIsQuorate)  // quorum from the floor of 3
        #expect(!c[id(1)].storeIsQuorate)
    }

    @Test("without allow_downscale a shutdown sends nothing")
    func shutdownWithoutDownscale() {
        var c = Cluster(voters: ids(1, 2, 3))
        c.form([ids(1, 2, 3)])
        #expect(c.apply(.shutdownRequested(at: c.now), to: id(3)).isEmpty)
    }

    @Test("an inquorate node adopts the expected votes of a quorate node it hears from")
    func inquorateAdoptsExpected() {
        var c = Cluster(voters: ids(1, 2, 3, 4, 5), options: QuorumOptions(lastManStanding: true))
        c.form([ids(1, 2, 3, 4, 5)])
        c.form([ids(1, 2, 3), ids(4), ids(5)])
        c.advance(by: 10_000)  // survivors lower expected votes to 3
        c.form([ids(1, 2, 3, 4)])
        #expect(c[id(4)].serviceIsQuorate)
        #expect(c[id(4)].getinfo(id(0))?.expectedVotes == c[id(1)].getinfo(id(0))?.expectedVotes)
    }
}
