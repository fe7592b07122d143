import Basics

/// `votequorum_getinfo` flags, with corosync's values (qdevice bits are not supported).
public struct VoteQuorumInfoFlags: OptionSet, Hashable, Sendable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let twoNode = VoteQuorumInfoFlags(rawValue: 1)
    public static let quorate = VoteQuorumInfoFlags(rawValue: 2)
    public static let waitForAll = VoteQuorumInfoFlags(rawValue: 4)
    public static let lastManStanding = VoteQuorumInfoFlags(rawValue: 8)
    public static let autoTieBreaker = VoteQuorumInfoFlags(rawValue: 16)
    public static let allowDownscale = VoteQuorumInfoFlags(rawValue: 32)

    /// The names `corosync-quorumtool -s` prints, in bit order.
    public var names: [String] {
        let all: [(VoteQuorumInfoFlags, String)] = [
            (.twoNode, "2Node"), (.quorate, "Quorate"), (.waitForAll, "WaitForAll"),
            (.lastManStanding, "LastManStanding"), (.autoTieBreaker, "AutoTieBreaker"),
            (.allowDownscale, "AllowDownscale"),
        ]
        return all.filter { contains($0.0) }.map(\.1)
    }
}

/// `votequorum_getinfo(nodeid)`: one node's entry plus the cluster-wide figures.
public struct VoteQuorumInfo: Hashable, Sendable {
    public var nodeID: NodeID
    public var state: NodeState
    public var votes: Votes
    public var expectedVotes: Votes
    /// Highest expected votes among members.
    public var highestExpected: Votes
    /// Σ votes of members.
    public var totalVotes: Votes
    public var quorum: Votes
    public var flags: VoteQuorumInfoFlags

    public init(
        nodeID: NodeID, state: NodeState, votes: Votes, expectedVotes: Votes,
        highestExpected: Votes, totalVotes: Votes, quorum: Votes, flags: VoteQuorumInfoFlags
    ) {
        self.nodeID = nodeID
        self.state = state
        self.votes = votes
        self.expectedVotes = expectedVotes
        self.highestExpected = highestExpected
        self.totalVotes = totalVotes
        self.quorum = quorum
        self.flags = flags
    }
}

/// A refused `setexpected` / `setvotes`, with corosync's error and the reason.
public struct QuorumRefusal: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Code: Hashable, Sendable {
        /// CS_ERR_INVALID_PARAM
        case invalidParameter
        /// CS_ERR_NAME_NOT_FOUND
        case nodeNotFound
        /// TotemKV's rule 8: old and new majorities might not intersect (CS_ERR_INVALID_PARAM
        /// to a corosync client).
        case unsafeForStore
    }

    public var code: Code
    public var reason: String

    public init(_ code: Code, _ reason: String) {
        self.code = code
        self.reason = reason
    }

    public var description: String { reason }
}
