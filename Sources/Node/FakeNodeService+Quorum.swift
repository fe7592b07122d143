import Basics
import Quorum
import Replication

/// The fake's quorum service: a real `VoteQuorumState` for node 1, fed membership changes
/// and every member's NODEINFO by the test (`setQuorumMembers`), with setexpected/setvotes
/// applied at once when they pass the checks (no log, no other node).
struct FakeQuorum: Sendable {
    var state: VoteQuorumState
    var ringSeq: UInt64 = 4
    var streams: [QuorumTrackID: AsyncStream<QuorumNotification>.Continuation] = [:]
    var lastTrackID: UInt64 = 0

    init(voters: [NodeID] = [NodeID(1)], options: EffectiveQuorumOptions = EffectiveQuorumOptions()) {
        guard let configuration = try? VoterConfiguration(nodes: voters) else {
            preconditionFailure("the fake's voters \(voters) do not make a voter configuration")
        }
        state = VoteQuorumState(localNode: NodeID(1), configuration: configuration, options: options)
        _ = members([NodeID(1)])
    }

    /// A new ring with `members`, each announcing its configured votes: the quorum
    /// notifications it produced.
    mutating func members(_ members: [NodeID]) -> [QuorumNotification] {
        ringSeq += 4
        let ring = RingID(representative: members.min() ?? NodeID(1), seq: ringSeq)
        var actions = state.step(.membershipChanged(ringID: ring, members: members, at: .zero))
        for node in members.sorted() {
            let info: NodeInfo
            if node == state.localNode {
                info = state.localNodeInfo
            } else {
                let votes = state.configuration.votes(of: node)
                info = NodeInfo(nodeID: node, votes: votes, expectedVotes: state.configuration.expectedVotes, flags: [])
            }
            actions += state.step(.nodeInfoReceived(info, from: node, at: .zero))
        }
        return Self.notifications(actions)
    }

    static func notifications(_ actions: [VoteQuorumState.Action]) -> [QuorumNotification] {
        actions.compactMap { if case .notifyQuorum(let n) = $0 { n } else { nil } }
    }

    func publish(_ notifications: [QuorumNotification]) {
        for id in streams.keys.sorted() {
            for n in notifications { streams[id]?.yield(n) }
        }
    }
}

extension FakeNodeService {
    /// Replaces the quorum service: node 1 among `voters` (one vote each) with these flags.
    public func configureQuorum(voters: [NodeID], options: EffectiveQuorumOptions = EffectiveQuorumOptions()) {
        let streams = quorum.streams
        quorum = FakeQuorum(voters: voters, options: options)
        quorum.streams = streams
    }

    /// A new ring with `members` (must include node 1); trackers get the resulting pushes.
    public func setQuorumMembers(_ members: [NodeID]) {
        let produced = quorum.members(members)
        quorum.publish(produced)
    }

    func reconfigure(_ change: Reconfiguration) -> ReplicatedNode.ClientReply {
        var target = change
        let refusal: QuorumRefusal?
        switch change {
        case .expectedVotes(let n): refusal = quorum.state.validateSetExpected(n)
        case .nodeVotes(let node, let votes):
            let id = node == NodeID(0) ? quorum.state.localNode : node
            target = .nodeVotes(id, votes)
            refusal = quorum.state.validateSetVotes(id, votes: votes)
        case .cancelWaitForAll: refusal = nil
        }
        if let refusal { return .rejected(ReplicatedNode.refusalText(refusal)) }
        let actions = quorum.state.step(.reconfigurationDelivered(target, at: .zero))
        for case .reconfigurationRefused(_, let reason) in actions { return .rejected("REFUSED \(reason)") }
        lastIndex = lastIndex.next
        quorum.publish(FakeQuorum.notifications(actions))
        return .result(.ok, index: lastIndex)
    }

    public func quorumInfo(_ node: NodeID) async -> QuorumInfo? {
        let state = quorum.state
        guard let info = state.getinfo(node) else { return nil }
        return QuorumInfo(
            info: info, notification: state.quorumNotification, isStoreQuorate: state.storeIsQuorate,
            storeMajority: state.configuration.majorityVotes, storeVotesPresent: state.storeVotesPresent,
            disagreement: state.quorumDisagreement, warnings: state.options.warnings)
    }

    public func quorumTrack(current: Bool) async -> (QuorumTrackID, AsyncStream<QuorumNotification>) {
        quorum.lastTrackID &+= 1
        let id = QuorumTrackID(quorum.lastTrackID)
        let (stream, continuation) = AsyncStream<QuorumNotification>.makeStream()
        if current { continuation.yield(quorum.state.quorumNotification) }
        quorum.streams[id] = continuation
        continuation.onTermination = { _ in Task { await self.quorumUntrack(id) } }
        return (id, stream)
    }

    public func quorumUntrack(_ id: QuorumTrackID) async {
        quorum.streams.removeValue(forKey: id)?.finish()
    }

    /// Live quorum tracks (tests check that a closed connection removed its own).
    public var quorumTrackCount: Int { quorum.streams.count }
}
