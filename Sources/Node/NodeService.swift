import Basics
import CMap
import Quorum
import Replication
import Totem

/// The boundary between the node runtime (which owns the protocol cores, the transport and
/// the disk) and the client-facing servers (RESP over TCP, the CLI). The runtime implements
/// it; the servers depend only on it, so they can be tested against an in-memory fake.
public protocol NodeService: Sendable {
    /// Runs a client request: a write (replicated, answered once committed and applied) or
    /// a read in the given mode. Never throws: failures are `ClientReply.failure`.
    func execute(_ request: ReplicatedNode.ClientRequest) async -> ReplicatedNode.ClientReply
    /// A snapshot of the node's state for INFO, RING.STATUS, LOG.INFO, QUORUM.INFO, METRICS.
    func status() async -> NodeStatus
    /// Starts tracking; events arrive in commit order. The stream ends (with a final
    /// `.dropped` event when the subscriber was too slow) when the track is removed.
    func track(_ filter: CMapTrackFilter) async -> (TrackID, AsyncStream<CMapTrackEvent>)
    func untrack(_ id: TrackID) async
    /// Takes a snapshot now; returns the index it covers.
    func snapshot() async throws -> LogIndex
    /// votequorum's getinfo for `node` (0: this node) and the store's verdict; nil for a
    /// node the quorum service never heard of (CMD: QUORUM.INFO, CommandQuorum.swift).
    func quorumInfo(_ node: NodeID) async -> QuorumInfo?
    /// Starts quorum tracking: the current state at once when `current` (corosync's
    /// CS_TRACK_CHANGES; CS_TRACK_CHANGES_ONLY without it), then every change, in the order
    /// the node produced them. The stream ends when the track is removed or the node stops.
    func quorumTrack(current: Bool) async -> (QuorumTrackID, AsyncStream<QuorumNotification>)
    func quorumUntrack(_ id: QuorumTrackID) async

    // Closed process groups (docs/cpg.md); a member is (this node, `connection`). No quorum needed.
    /// Joins `group`. The stream carries the member's notifications in the group's total
    /// order, in batches (what one step delivered), starting with its own join, and ends
    /// after its own leave (`isFinal`), or early when the member fell too far behind or the
    /// node stopped.
    func processGroupJoin(_ group: ProcessGroupName, connection: ConnectionID) async
        -> Result<AsyncStream<[ProcessGroupDelivery]>, ProcessGroupRefusal>
    func processGroupLeave(_ group: ProcessGroupName, connection: ConnectionID) async -> ProcessGroupReply
    /// Sends to every member of `group`, the sender included; fire-and-forget once accepted.
    func processGroupMcast(_ group: ProcessGroupName, connection: ConnectionID, payload: [UInt8]) async -> ProcessGroupReply
    /// The group's members as this node sees them, sorted by (node, connection).
    func processGroupMembers(_ group: ProcessGroupName) async -> [ProcessGroupMember]
    /// The connection closed: it leaves every group with reason process down.
    func processGroupConnectionClosed(_ connection: ConnectionID) async
}

/// What a node reports about itself.
public struct NodeStatus: Sendable {
    public struct RingInterface: Sendable {
        public var ringNumber: UInt8
        public var isFaulty: Bool
        public var detail: String
        public init(ringNumber: UInt8, isFaulty: Bool, detail: String) {
            self.ringNumber = ringNumber
            self.isFaulty = isFaulty
            self.detail = detail
        }
    }

    public var nodeID: NodeID
    public var ringID: RingID
    public var members: [NodeID]
    /// Totem's state (operational, gather, commit, recovery).
    public var totemState: String
    /// The replica's phase: inactive, syncing or active.
    public var phase: Replica.Phase
    public var epoch: Epoch
    public var normalEpoch: Epoch
    public var firstIndex: LogIndex
    public var lastIndex: LogIndex
    public var durableIndex: LogIndex
    public var commitIndex: LogIndex
    public var appliedIndex: LogIndex
    public var snapshotIndex: LogIndex
    public var keyCount: Int
    /// A majority of the configured votes is in the current configuration.
    public var isQuorate: Bool
    public var totalVotes: UInt64
    public var majorityVotes: UInt64
    public var rings: [RingInterface]
    public var isFsyncOn: Bool
    /// Free-form counters (name, value) for METRICS and INFO stats, sorted by name.
    public var counters: [(String, UInt64)]
    /// The last stall the node noticed (a loop that did not run, a late token), if any.
    public var lastStall: StallStatus?

    public init(nodeID: NodeID, ringID: RingID, members: [NodeID], totemState: String, phase: Replica.Phase,
                epoch: Epoch, normalEpoch: Epoch, firstIndex: LogIndex, lastIndex: LogIndex, durableIndex: LogIndex,
                commitIndex: LogIndex, appliedIndex: LogIndex, snapshotIndex: LogIndex, keyCount: Int,
                isQuorate: Bool, totalVotes: UInt64, majorityVotes: UInt64, rings: [RingInterface],
                isFsyncOn: Bool, counters: [(String, UInt64)], lastStall: StallStatus? = nil) {
        self.nodeID = nodeID
        self.ringID = ringID
        self.members = members
        self.totemState = totemState
        self.phase = phase
        self.epoch = epoch
        self.normalEpoch = normalEpoch
        self.firstIndex = firstIndex
        self.lastIndex = lastIndex
        self.durableIndex = durableIndex
        self.commitIndex = commitIndex
        self.appliedIndex = appliedIndex
        self.snapshotIndex = snapshotIndex
        self.keyCount = keyCount
        self.isQuorate = isQuorate
        self.totalVotes = totalVotes
        self.majorityVotes = majorityVotes
        self.rings = rings
        self.isFsyncOn = isFsyncOn
        self.counters = counters
        self.lastStall = lastStall
    }
}
