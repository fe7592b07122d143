import Basics

/// The votes of the configured voters (nodelist `quorum_votes`). A majority is
/// `floor(total / 2) + 1` votes (DESIGN.md section 4).
public struct Voters: Hashable, Sendable {
    /// Sorted by node id, so no hash order reaches a decision.
    public private(set) var votes: [(node: NodeID, votes: UInt32)]
    public let totalVotes: UInt64
    /// `quorum.expected_votes` (or a committed `setexpected`): a majority is then taken of
    /// max(total, override), never of less than the total (docs/quorum.md).
    public internal(set) var expectedVotesOverride: UInt64?

    public init(_ votes: [(NodeID, UInt32)]) {
        self.votes = votes.map { (node: $0.0, votes: $0.1) }.sorted { $0.node < $1.node }
        totalVotes = votes.reduce(0) { $0 + UInt64($1.1) }
        precondition(Set(self.votes.map(\.node)).count == self.votes.count, "duplicate voter in \(votes)")
    }

    public var majorityVotes: UInt64 { max(totalVotes, expectedVotesOverride ?? 0) / 2 + 1 }

    public func votes(of node: NodeID) -> UInt32 {
        votes.first { $0.node == node }?.votes ?? 0
    }

    public func isMajority<S: Sequence>(_ nodes: S) -> Bool where S.Element == NodeID {
        var seen = Set<NodeID>()
        var sum: UInt64 = 0
        for n in nodes where seen.insert(n).inserted { sum += UInt64(votes(of: n)) }
        return sum >= majorityVotes
    }

    public static func == (a: Voters, b: Voters) -> Bool {
        a.votes.map(\.node) == b.votes.map(\.node) && a.votes.map(\.votes) == b.votes.map(\.votes)
            && a.expectedVotesOverride == b.expectedVotesOverride
    }
    public func hash(into h: inout Hasher) {
        for v in votes { h.combine(v.node); h.combine(v.votes) }
        h.combine(expectedVotesOverride)
    }
}

public struct ReplicaConfiguration: Sendable {
    public var nodeID: NodeID
    public var voters: Voters
    /// Period of the tick that resends acks and fetches and expires requests.
    public var tickInterval: Milliseconds = 50
    /// A write or read not answered within this time gets `.unknownOutcome` / `.readNotConfirmed`.
    public var requestTimeout: Milliseconds = 5000
    /// Entries per fetch answer.
    public var fetchBatchEntries: UInt64 = 256
    /// Live entries a syncing member buffers while it copies; beyond, it fetches them too.
    public var liveBufferEntriesMax: Int = 10_000
    /// Writes packed into one Totem message.
    public var writesPerMessageMax: Int = 64

    /// A deliberately broken rule, for tests that show the simulator's checks catch it.
    public var testingCanary: Replica.TestingCanary?

    public init(nodeID: NodeID, voters: Voters) {
        self.nodeID = nodeID
        self.voters = voters
    }
}

/// What the shell recovered from disk at start: the meta file and the log.
public struct RecoveredState: Sendable {
    public var normalEpoch: Epoch
    /// From the meta file: never above the true commit index.
    public var commitIndex: LogIndex
    /// The state machine already reflects everything through this index (a snapshot).
    public var appliedIndex: LogIndex
    public var appliedEpoch: Epoch
    /// Log entries above `appliedIndex`, contiguous.
    public var entries: [Entry]
    /// Changes with every start, so request ids of an earlier run never match a new request.
    public var incarnation: UInt32

    public init(normalEpoch: Epoch = .zero, commitIndex: LogIndex = .zero, appliedIndex: LogIndex = .zero,
                appliedEpoch: Epoch = .zero, entries: [Entry] = [], incarnation: UInt32) {
        self.normalEpoch = normalEpoch
        self.commitIndex = commitIndex
        self.appliedIndex = appliedIndex
        self.appliedEpoch = appliedEpoch
        self.entries = entries
        self.incarnation = incarnation
    }
}
