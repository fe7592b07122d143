import Basics
import Quorum
import Testing

/// One node's exact actions, step by step: the sync sequence and the order of actions.
@Suite("votequorum transcripts")
struct VoteQuorumTranscriptTests {
    @Test("a three-node sync seen from node 2: multicast, nodelist, then one quorum push when the last NODEINFO arrives")
    func syncTranscript() throws {
        let config = try VoterConfiguration(nodes: ids(1, 2, 3))
        var s = VoteQuorumState(localNode: id(2), configuration: config, options: EffectiveQuorumOptions())
        let ring = RingID(representative: id(1), seq: 8)
        let t = Instant.milliseconds(5)
        let mine = NodeInfo(nodeID: id(2), votes: 1, expectedVotes: 3, flags: [])
        #expect(s.step(.membershipChanged(ringID: ring, members: ids(3, 1, 2), at: t))
            == [.multicastNodeInfo(mine), .notifyNodeList(ringID: ring, members: ids(1, 2, 3))])
        #expect(s.isSyncInProgress)
        #expect(s.step(.nodeInfoReceived(NodeInfo(nodeID: id(1), votes: 1, expectedVotes: 3, flags: []), from: id(1), at: t)) == [])
        #expect(s.step(.nodeInfoReceived(mine, from: id(2), at: t)) == [])
        #expect(s.serviceIsQuorate)  // decided already, pushed at the end of the sync
        let last = s.step(.nodeInfoReceived(NodeInfo(nodeID: id(3), votes: 1, expectedVotes: 3, flags: []), from: id(3), at: t))
        let nodes = ids(1, 2, 3).map { NodeStatus(nodeID: $0, state: .member, votes: 1, expectedVotes: 3) }
        #expect(last == [.notifyQuorum(QuorumNotification(
            isQuorate: true, isStoreQuorate: true, ringID: ring, quorum: 2, members: ids(1, 2, 3), nodes: nodes))])
        #expect(!s.isSyncInProgress)
        // Outside a sync, a change of votes is pushed even though quorate does not flip.
        let after = s.step(.reconfigurationDelivered(.nodeVotes(id(3), 2), at: t))
        #expect(after.count == 2)
        #expect(after.first == .notifyExpectedVotes(4))
        guard case .notifyQuorum(let pushed)? = after.last else {
            Issue.record("no quorum push: \(after)")
            return
        }
        #expect(pushed.isQuorate && pushed.quorum == 3 && pushed.nodes[2].votes == 2)
        // Nothing changed, nothing pushed.
        #expect(s.step(.reconfigurationDelivered(.nodeVotes(id(3), 2), at: t)) == [])
    }

    @Test("NODEINFO from a non-member or about another node is ignored and counted")
    func ignoredNodeInfo() throws {
        let config = try VoterConfiguration(nodes: ids(1, 2, 3))
        var s = VoteQuorumState(localNode: id(1), configuration: config, options: EffectiveQuorumOptions())
        _ = s.step(.membershipChanged(ringID: RingID(representative: id(1), seq: 4), members: ids(1, 2), at: .zero))
        let stranger = NodeInfo(nodeID: id(3), votes: 9, expectedVotes: 9, flags: [.quorate])
        #expect(s.step(.nodeInfoReceived(stranger, from: id(3), at: .zero)) == [])
        #expect(s.step(.nodeInfoReceived(stranger, from: id(2), at: .zero)) == [])
        #expect(s.ignoredNodeInfoCount == 2 && s.getinfo(id(3)) == nil)
    }

    @Test("hostile vote counts saturate instead of trapping")
    func hostileVotes() throws {
        let config = try VoterConfiguration(nodes: ids(1, 2, 3, 4, 5))
        var s = VoteQuorumState(localNode: id(1), configuration: config, options: EffectiveQuorumOptions())
        _ = s.step(.membershipChanged(ringID: RingID(representative: id(1), seq: 4), members: ids(1, 2), at: .zero))
        _ = s.step(.nodeInfoReceived(NodeInfo(nodeID: id(2), votes: Votes(.max), expectedVotes: Votes(.max), flags: []), from: id(2), at: .zero))
        _ = s.step(.nodeInfoReceived(s.localNodeInfo, from: id(1), at: .zero))
        #expect(s.getinfo(id(0))?.totalVotes == Votes(.max))
        #expect(s.serviceIsQuorate && !s.storeIsQuorate)  // the store counts configured votes, not announced ones
    }
}
