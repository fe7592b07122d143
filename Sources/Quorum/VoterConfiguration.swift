import Basics

/// The configured voters: every node's votes (`nodelist.node.N.quorum_votes`) and the optional
/// `quorum.expected_votes` override. This is the store's commit rule (DESIGN.md section 4,
/// rules 1, 5 and 8): an entry commits only when members holding `majorityVotes` have it.
///
/// It travels in the meta file, in snapshots and in reconfiguration log entries, so it has a
/// compact binary form (`VoterConfiguration+Codec.swift`), and it changes only by steps that
/// keep every old majority intersecting every new one (`VoterConfiguration+Change.swift`).
///
/// Invariants (checked by every initializer, so a decoded value satisfies them too):
/// voters strictly ascending by node id, no node id 0, at most `VoteQuorum.nodesMax` voters,
/// at least one vote in total, total and override at most `UInt32.max`, override ≥ 1.
public struct VoterConfiguration: Hashable, Sendable, CustomStringConvertible {
    public struct Voter: Hashable, Sendable {
        public var nodeID: NodeID
        public var votes: Votes
        public init(_ nodeID: NodeID, votes: Votes = 1) {
            self.nodeID = nodeID
            self.votes = votes
        }
    }

    /// Strictly ascending by node id: no Dictionary order can leak from here.
    public private(set) var voters: [Voter]
    /// `quorum.expected_votes` when configured (or set by `setexpected`), else nil.
    public private(set) var expectedVotesOverride: Votes?
    /// Σ votes of the voters.
    public private(set) var totalVotes: Votes

    /// - Parameter voters: in any order; sorted here.
    public init(voters: [Voter], expectedVotes: Votes? = nil) throws(VoterConfigurationError) {
        guard voters.count <= VoteQuorum.nodesMax else {
            throw .tooManyVoters(voters.count)
        }
        let sorted = voters.sorted { $0.nodeID < $1.nodeID }
        var total: UInt64 = 0
        for (i, voter) in sorted.enumerated() {
            guard voter.nodeID != NodeID(0) else { throw .reservedNodeID }
            if i > 0, sorted[i - 1].nodeID == voter.nodeID { throw .duplicateNode(voter.nodeID) }
            total += UInt64(voter.votes.rawValue)
        }
        guard total <= UInt64(UInt32.max) else { throw .totalVotesTooLarge(total) }
        guard total > 0 else { throw .noVotes }
        if let expectedVotes, expectedVotes == .zero { throw .expectedVotesZero }
        self.voters = sorted
        self.expectedVotesOverride = expectedVotes
        self.totalVotes = Votes(UInt32(total))
    }

    /// Every node with one vote, the common nodelist.
    public init(nodes: [NodeID], expectedVotes: Votes? = nil) throws(VoterConfigurationError) {
        try self.init(voters: nodes.map { Voter($0) }, expectedVotes: expectedVotes)
    }

    /// votequorum's expected votes: `quorum.expected_votes` if configured, else Σ node votes.
    public var expectedVotes: Votes { expectedVotesOverride ?? totalVotes }

    /// Votes a set of members needs to commit: a strict majority of
    /// max(expected votes, total votes).
    ///
    /// Why the max: an override *above* the total (nodes still to be added) makes the store as
    /// strict as votequorum; an override *below* the total must be ignored, or two disjoint
    /// sets (say 2 + 2 of 5 voters with expected_votes 3) could both commit.
    public var majorityVotes: Votes { max(expectedVotes, totalVotes).majority }

    /// The configured votes of `node`; 0 for a node that is not a voter.
    public func votes(of node: NodeID) -> Votes {
        index(of: node).map { voters[$0].votes } ?? .zero
    }

    public func contains(_ node: NodeID) -> Bool { index(of: node) != nil }

    /// Σ configured votes of `members`, each node counted once whatever the list holds.
    public func votes(among members: [NodeID]) -> Votes {
        var seen = members.sorted()
        seen.removeDuplicatesFromSorted()
        var sum = Votes.zero
        for node in seen { sum += votes(of: node) }
        return sum
    }

    /// The store's rule: do `members` hold a strict majority of the configured votes?
    public func isMajority(of members: [NodeID]) -> Bool {
        votes(among: members) >= majorityVotes
    }

    /// The same configuration with `node`'s votes set to `votes` (a new voter if it was not
    /// one). A voter set to 0 votes stays listed: its id is remembered, as corosync does.
    public func settingVotes(_ votes: Votes, for node: NodeID) throws(VoterConfigurationError)
        -> VoterConfiguration
    {
        var list = voters
        if let i = index(of: node) {
            list[i].votes = votes
        } else {
            list.append(Voter(node, votes: votes))
        }
        return try VoterConfiguration(voters: list, expectedVotes: expectedVotesOverride)
    }

    /// The same voters with a new expected-votes override (nil: back to Σ node votes).
    public func settingExpectedVotes(_ expected: Votes?) throws(VoterConfigurationError)
        -> VoterConfiguration
    {
        try VoterConfiguration(voters: voters, expectedVotes: expected)
    }

    public var description: String {
        let list = voters.map { "\($0.nodeID):\($0.votes)" }.joined(separator: " ")
        let expected = expectedVotesOverride.map { " expected=\($0)" } ?? ""
        return "voters[\(list)]\(expected) majority=\(majorityVotes)"
    }

    private func index(of node: NodeID) -> Int? {
        var low = 0
        var high = voters.count
        while low < high {
            let mid = (low + high) / 2
            if voters[mid].nodeID < node { low = mid + 1 } else { high = mid }
        }
        return low < voters.count && voters[low].nodeID == node ? low : nil
    }
}

/// Why a voter configuration was refused, or why its bytes could not be decoded.
public enum VoterConfigurationError: Error, Hashable, Sendable, CustomStringConvertible {
    case noVotes
    case reservedNodeID
    case duplicateNode(NodeID)
    case tooManyVoters(Int)
    case totalVotesTooLarge(UInt64)
    case expectedVotesZero
    // Decoding.
    case truncated(neededBytes: Int, availableBytes: Int)
    case unsupportedVersion(UInt8)
    case unknownFlags(UInt8)
    case trailingBytes(Int)
    case votersOutOfOrder(NodeID)

    public var description: String {
        switch self {
        case .noVotes: "the voter configuration has no votes at all"
        case .reservedNodeID: "node id 0 is reserved and cannot be a voter"
        case .duplicateNode(let node): "node \(node) is listed twice"
        case .tooManyVoters(let n): "\(n) voters, more than the limit of \(VoteQuorum.nodesMax)"
        case .totalVotesTooLarge(let n): "total votes \(n) exceed \(UInt32.max)"
        case .expectedVotesZero: "expected votes must be at least 1"
        case .truncated(let needed, let available):
            "voter configuration truncated: needs \(needed) bytes, has \(available)"
        case .unsupportedVersion(let v): "voter configuration format version \(v) is not supported"
        case .unknownFlags(let f): "voter configuration has unknown flag bits 0x\(String(f, radix: 16))"
        case .trailingBytes(let n): "voter configuration followed by \(n) unexpected bytes"
        case .votersOutOfOrder(let node): "voter \(node) is out of order (ids must ascend)"
        }
    }
}

extension Array where Element: Equatable {
    /// Removes adjacent duplicates; on a sorted array, all duplicates.
    mutating func removeDuplicatesFromSorted() {
        var write = 0
        for read in indices where read == 0 || self[read] != self[write - 1] {
            self[write] = self[read]
            write += 1
        }
        removeLast(count - write)
    }
}
