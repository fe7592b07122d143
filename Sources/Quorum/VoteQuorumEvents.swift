import Basics

extension VoteQuorumState {
    /// What happened. Every event carries the instant it happened at; the core reads no clock.
    /// NODEINFO and reconfigurations must be fed in Totem's agreed order, the same on every
    /// node, so every node computes the same table and the same answers.
    public enum Event: Hashable, Sendable {
        /// A regular configuration was installed (corosync `votequorum_sync_init`): its ring
        /// id and members (any order; duplicates ignored). Must include the local node.
        case membershipChanged(ringID: RingID, members: [NodeID], at: Instant)
        /// A NODEINFO was delivered, multicast by `sender`.
        case nodeInfoReceived(NodeInfo, from: NodeID, at: Instant)
        /// A committed reconfiguration was delivered. It is checked again here, against the
        /// configuration in force at this point of the total order, because two requests
        /// validated against the same old configuration may each be safe but not together.
        case reconfigurationDelivered(Reconfiguration, at: Instant)
        /// The replication layer installed a configuration already committed elsewhere (from
        /// the meta file at start-up, a snapshot, or log entries copied during sync). It is
        /// taken as is: the change rule was applied when it was committed.
        case configurationRestored(VoterConfiguration, at: Instant)
        case timerFired(QuorumTimer, at: Instant)
        /// The node is shutting down cleanly (corosync `votequorum_exec_exit_fn`).
        case shutdownRequested(at: Instant)
    }

    /// What to do. Within one step, actions come in this order: timer actions, the NODEINFO
    /// to multicast, the nodelist notification, a refused reconfiguration, the expected-votes
    /// notification, the quorum notification.
    public enum Action: Hashable, Sendable {
        /// Multicast this NODEINFO through Totem (agreed order), to every member including
        /// this node, which must feed it back as `.nodeInfoReceived`.
        case multicastNodeInfo(NodeInfo)
        /// To trackers: the ring id and members of the new configuration.
        case notifyNodeList(ringID: RingID, members: [NodeID])
        /// To trackers: this node's expected votes changed.
        case notifyExpectedVotes(Votes)
        /// To trackers: the quorum state changed (or a membership sync finished).
        case notifyQuorum(QuorumNotification)
        /// A delivered reconfiguration was not applied; nothing changed.
        case reconfigurationRefused(Reconfiguration, reason: String)
        case startTimer(QuorumTimer, deadline: Instant)
        case cancelTimer(QuorumTimer)
    }
}

/// A timer the core asked for. The generation makes a late firing of a cancelled timer
/// harmless: only the current generation is acted on.
public enum QuorumTimer: Hashable, Sendable {
    case lastManStanding(generation: UInt64)
}

/// One node as trackers see it.
public struct NodeStatus: Hashable, Sendable {
    public var nodeID: NodeID
    public var state: NodeState
    public var votes: Votes
    public var expectedVotes: Votes

    public init(nodeID: NodeID, state: NodeState, votes: Votes, expectedVotes: Votes) {
        self.nodeID = nodeID
        self.state = state
        self.votes = votes
        self.expectedVotes = expectedVotes
    }
}

/// The votequorum quorum notification (and libquorum's callback), plus the store's verdict.
public struct QuorumNotification: Hashable, Sendable {
    /// What votequorum reports, flags included.
    public var isQuorate: Bool
    /// Whether the members hold a true majority of the configured votes: whether the store
    /// can commit. May be false while `isQuorate` is true (two_node, last_man_standing).
    public var isStoreQuorate: Bool
    public var ringID: RingID?
    public var quorum: Votes
    /// Members of the current ring, ascending.
    public var members: [NodeID]
    /// Every node in the table, ascending by id.
    public var nodes: [NodeStatus]

    public init(
        isQuorate: Bool, isStoreQuorate: Bool, ringID: RingID?, quorum: Votes,
        members: [NodeID], nodes: [NodeStatus]
    ) {
        self.isQuorate = isQuorate
        self.isStoreQuorate = isStoreQuorate
        self.ringID = ringID
        self.quorum = quorum
        self.members = members
        self.nodes = nodes
    }
}
