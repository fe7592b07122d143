import Basics
import Quorum
import Testing

/// setexpected / setvotes: corosync's checks, TotemKV's intersection rule, and the re-check
/// when the reconfiguration is delivered; getinfo.
@Suite("administrative checks and getinfo")
struct AdministrativeCheckTests {
    private func threeNodes() -> Cluster {
        var c = Cluster(voters: ids(1, 2, 3))
        c.form([ids(1, 2, 3)])
        return c
    }

    @Test("setexpected below total votes is refused")
    func setExpectedBelowTotal() {
        let refusal = threeNodes()[id(1)].validateSetExpected(2)
        #expect(refusal?.code == .invalidParameter)
        #expect(refusal?.reason == "expected votes 2 is below the 3 votes of the current members")
    }

    @Test("setexpected that would make a quorate cluster lose quorum is refused")
    func setExpectedLosesQuorum() {
        var c = threeNodes()
        c.form([ids(1, 2), ids(3)])
        let refusal = c[id(1)].validateSetExpected(5)  // quorum 3 > 2 votes present
        #expect(refusal?.code == .invalidParameter)
        #expect(refusal?.reason.contains("would lose quorum") == true)
        #expect(c[id(1)].validateSetExpected(3) == nil)
    }

    @Test("setexpected in an inquorate partition is accepted by votequorum but not by the store")
    func setExpectedInMinority() {
        var c = Cluster(voters: ids(1, 2, 3, 4, 5))
        c.form([ids(1, 2, 3, 4, 5)])
        c.form([ids(1, 2), ids(3, 4, 5)])
        #expect(c[id(1)].validateSetExpected(2) == nil)
        c.reconfigure(.expectedVotes(2), from: id(1))
        #expect(c[id(1)].serviceIsQuorate && c[id(1)].quorum == 2)
        #expect(c[id(1)].getinfo(id(2))?.expectedVotes == 2)
        // The store's majority is over max(expected, total configured): still 3 of 5.
        #expect(c[id(1)].configuration.expectedVotesOverride == 2)
        #expect(c[id(1)].configuration.majorityVotes == 3 && !c[id(1)].storeIsQuorate)
    }

    @Test("setexpected delivered: every member adopts it and trackers are told")
    func setExpectedDelivered() {
        var c = threeNodes()
        c.clearActions()
        c.reconfigure(.expectedVotes(4), from: id(2))
        for node in ids(1, 2, 3) {
            #expect(c[node].getinfo(id(0))?.expectedVotes == 4)
            #expect(c[node].quorum == 3 && c[node].serviceIsQuorate)
            #expect(c.actions[node]!.first == .notifyExpectedVotes(4))
            #expect(c.lastQuorumNotification(node)?.quorum == 3)
            #expect(c[node].configuration.expectedVotesOverride == 4)
        }
    }

    @Test("setvotes for an unknown node is refused with node-not-found")
    func setVotesUnknownNode() {
        #expect(threeNodes()[id(1)].validateSetVotes(id(9), votes: 1)?.code == .nodeNotFound)
    }

    @Test("setvotes that would put quorum above the votes present is refused")
    func setVotesQuorumAboveTotal() {
        var c = Cluster(voters: ids(1, 2, 3), expected: 9)
        c.form([ids(1, 2, 3)])
        // quorum stays floor(9/2)+1 = 5 while 3 nodes give 1 + 1 + 0 votes.
        #expect(c[id(1)].validateSetVotes(id(3), votes: 0)?.code == .invalidParameter)
    }

    @Test("setvotes by more than one vote is accepted by votequorum but refused by the store rule")
    func setVotesTooLargeForStore() {
        let c = threeNodes()
        let refusal = c[id(1)].validateSetVotes(id(1), votes: 3)
        #expect(refusal?.code == .unsafeForStore)
        #expect(refusal?.reason.contains("change votes by one at a time") == true)
        #expect(c[id(1)].validateSetVotes(id(1), votes: 2) == nil)
        #expect(c[id(1)].validateSetVotes(id(0), votes: 2) == nil)  // 0 means this node
    }

    @Test("an unsafe reconfiguration is refused again when delivered, and nothing changes")
    func unsafeReconfigurationRefusedOnDelivery() {
        var c = threeNodes()
        let before = c[id(1)].configuration
        c.clearActions()
        c.reconfigure(.nodeVotes(id(1), 3), from: id(1))
        for node in ids(1, 2, 3) {
            #expect(c[node].configuration == before)
            #expect(c[node].getinfo(id(1))?.votes == 1)
            guard case .reconfigurationRefused(.nodeVotes(id(1), 3), let reason)? = c.actions[node]?.first else {
                Issue.record("no refusal on node \(node): \(c.actions[node] ?? [])")
                continue
            }
            #expect(reason.contains("too large a step"))
        }
    }

    @Test("two setvotes validated against the same configuration are checked in delivery order")
    func concurrentReconfigurations() {
        var c = threeNodes()
        // Each is a one-vote step from {1,1,1}; together they would be a two-voter change,
        // but delivered one after the other each is one step from the configuration then.
        #expect(c[id(1)].validateSetVotes(id(1), votes: 2) == nil)
        #expect(c[id(2)].validateSetVotes(id(2), votes: 2) == nil)
        c.reconfigure(.nodeVotes(id(1), 2), from: id(1))
        c.reconfigure(.nodeVotes(id(2), 2), from: id(2))
        #expect(c[id(3)].configuration.totalVotes == 5 && c[id(3)].quorum == 3)
        // A request validated before the first change, now two votes away: refused.
        c.reconfigure(.nodeVotes(id(1), 0), from: id(3))
        #expect(c[id(3)].configuration.votes(of: id(1)) == 2)
    }

    @Test("setvotes delivered for a new node adds it to the voter configuration")
    func setVotesAddsVoter() {
        var c = threeNodes()
        c.reconfigure(.nodeVotes(id(4), 1), from: id(1))
        #expect(c[id(1)].configuration.voters.map(\.nodeID) == ids(1, 2, 3, 4))
        #expect(c[id(1)].configuration.majorityVotes == 3)
        #expect(c[id(1)].getinfo(id(4)) == nil)  // votequorum has not heard from it yet
    }

    @Test("getinfo: this node as 0, the fields, corosync's flag values, unknown node")
    func getinfo() {
        var c = Cluster(voters: ids(1, 2, 3, 4), votes: [2, 1, 1, 1], options: QuorumOptions(waitForAll: true, allowDownscale: true))
        c.form([ids(1, 2, 3, 4)])
        c.form([ids(1, 2, 3)])
        let state = c[id(2)]
        let me = state.getinfo(id(0))!
        #expect(me.nodeID == id(2) && me.state == .member && me.votes == 1)
        #expect(me.expectedVotes == 5 && me.highestExpected == 5 && me.totalVotes == 4 && me.quorum == 3)
        #expect(me.flags.rawValue == 2 | 4 | 32)
        #expect(me.flags.names == ["Quorate", "WaitForAll", "AllowDownscale"])
        let dead = state.getinfo(id(4))!
        #expect(dead.state == .dead && dead.votes == 1)
        #expect(state.getinfo(id(1))?.votes == 2)
        #expect(state.getinfo(id(7)) == nil)
        #expect(VoteQuorumInfoFlags([.twoNode, .lastManStanding, .autoTieBreaker]).rawValue == 1 | 8 | 16)
    }
}
