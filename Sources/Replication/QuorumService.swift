import Basics
import CMap
import Quorum

/// The quorum and votequorum services of one node (DESIGN.md section 7), as `ReplicatedNode`
/// runs them: a `VoteQuorumState` fed, in Totem's agreed order, the regular configurations
/// and every member's NODEINFO, and, in log order, the committed reconfigurations.
///
/// What it reports is votequorum's answer, flags included; what the store commits with is
/// the replica's voters, a true majority that no flag relaxes (`isStoreQuorate` on each
/// notification, `quorumDisagreement` for QUORUM.INFO).
public struct QuorumService: Sendable {
    /// nil when the configured voters hold no vote at all (then there is no quorum to speak of).
    public internal(set) var state: VoteQuorumState?
    /// The voters the node was configured with, in force until a reconfiguration is applied:
    /// a snapshot without a recorded configuration goes back to them.
    public let configuredVoters: Voters
    /// A NODEINFO Totem refused (its queue was full), sent again at the next step.
    var nodeInfoToResend: NodeInfo?
    /// NODEINFO messages of another ring than the current one: dropped.
    public internal(set) var staleNodeInfoCount: UInt64 = 0

    init(nodeID: NodeID, voters: Voters, options: EffectiveQuorumOptions) {
        configuredVoters = voters
        state = voters.voterConfiguration.map {
            VoteQuorumState(localNode: nodeID, configuration: $0, options: options)
        }
    }

    /// What `QUORUM.INFO` and `corosync-quorumtool -s` show for `node` (0: this node).
    public func info(_ node: NodeID) -> QuorumInfo? {
        guard let state, let info = state.getinfo(node) else { return nil }
        return QuorumInfo(
            info: info, notification: state.quorumNotification, isStoreQuorate: state.storeIsQuorate,
            storeMajority: state.configuration.majorityVotes, storeVotesPresent: state.storeVotesPresent,
            disagreement: state.quorumDisagreement, warnings: state.options.warnings)
    }
}

/// One node's quorum answer: votequorum's getinfo and notification, and the store's verdict.
public struct QuorumInfo: Hashable, Sendable {
    public var info: VoteQuorumInfo
    public var notification: QuorumNotification
    /// Whether the members hold a true majority of the configured votes (writes accepted).
    public var isStoreQuorate: Bool
    public var storeMajority: Votes
    public var storeVotesPresent: Votes
    /// Why votequorum and the store disagree, nil when they agree.
    public var disagreement: String?
    /// Flags dropped at start-up, as corosync logs them.
    public var warnings: [String]

    public init(info: VoteQuorumInfo, notification: QuorumNotification, isStoreQuorate: Bool,
                storeMajority: Votes, storeVotesPresent: Votes, disagreement: String?, warnings: [String]) {
        self.info = info
        self.notification = notification
        self.isStoreQuorate = isStoreQuorate
        self.storeMajority = storeMajority
        self.storeVotesPresent = storeVotesPresent
        self.disagreement = disagreement
        self.warnings = warnings
    }
}
