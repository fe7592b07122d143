import Basics

/// The `quorum { }` flags as written in corosync.conf. `resolved(for:)` turns them into the
/// flags votequorum actually runs with, applying corosync's startup rules
/// (`votequorum_readconfig`).
public struct QuorumOptions: Hashable, Sendable {
    public var twoNode = false
    /// nil: not set explicitly, so it follows `twoNode` (corosync's `wait_for_all_autoset`).
    public var waitForAll: Bool?
    public var lastManStanding = false
    public var lastManStandingWindow: Milliseconds = VoteQuorum.lastManStandingWindowDefault
    public var autoTieBreaker = false
    /// `auto_tie_breaker_node`; `lowest` when not given.
    public var autoTieBreakerNode: TieBreakerRule = .lowest
    public var allowDownscale = false

    public init(
        twoNode: Bool = false, waitForAll: Bool? = nil, lastManStanding: Bool = false,
        lastManStandingWindow: Milliseconds = VoteQuorum.lastManStandingWindowDefault,
        autoTieBreaker: Bool = false, autoTieBreakerNode: TieBreakerRule = .lowest,
        allowDownscale: Bool = false
    ) {
        self.twoNode = twoNode
        self.waitForAll = waitForAll
        self.lastManStanding = lastManStanding
        self.lastManStandingWindow = lastManStandingWindow
        self.autoTieBreaker = autoTieBreaker
        self.autoTieBreakerNode = autoTieBreakerNode
        self.allowDownscale = allowDownscale
    }

    /// The flags votequorum runs with, or the startup error corosync gives.
    ///
    /// In corosync's order: wait_for_all follows two_node unless set; two_node is dropped when
    /// auto_tie_breaker is on (they disagree on who breaks a tie: a fence race or a node id);
    /// on an odd total of node votes auto_tie_breaker needs wait_for_all (an isolated half + 1
    /// without the tie-breaker must not become quorate after a reboot), so it is dropped, or
    /// start-up fails if last_man_standing is also on; last_man_standing needs one vote per
    /// node and is dropped otherwise (corosync drops it when it sees such a NODEINFO; checking
    /// the configuration too says so earlier).
    public func resolved(for configuration: VoterConfiguration) throws(QuorumOptionsError)
        -> EffectiveQuorumOptions
    {
        var warnings: [String] = []
        let waitForAll = self.waitForAll ?? twoNode
        var twoNode = self.twoNode
        var tieBreaker: TieBreakerRule? = autoTieBreaker ? autoTieBreakerNode : nil
        var lastManStanding = self.lastManStanding
        if twoNode && tieBreaker != nil {
            warnings.append(
                "two_node and auto_tie_breaker are both specified but are not compatible; "
                    + "two_node has been disabled")
            twoNode = false
        }
        if tieBreaker != nil && configuration.totalVotes.rawValue % 2 == 1 && !waitForAll {
            if lastManStanding {
                throw .autoTieBreakerAndLastManStandingOnOddCluster
            }
            warnings.append(
                "auto_tie_breaker is set and the cluster has an odd number of votes; "
                    + "wait_for_all is required but missing, so auto_tie_breaker has been disabled")
            tieBreaker = nil
        }
        if lastManStanding, let heavy = configuration.voters.first(where: { $0.votes > 1 }) {
            warnings.append(
                "last_man_standing needs every node to have 1 vote (node \(heavy.nodeID) has "
                    + "\(heavy.votes)); last_man_standing has been disabled")
            lastManStanding = false
        }
        return EffectiveQuorumOptions(
            twoNode: twoNode, waitForAll: waitForAll, lastManStanding: lastManStanding,
            lastManStandingWindow: lastManStandingWindow, tieBreaker: tieBreaker,
            allowDownscale: allowDownscale, warnings: warnings)
    }
}

/// `auto_tie_breaker_node: lowest | highest | <node id list>`.
public enum TieBreakerRule: Hashable, Sendable, CustomStringConvertible {
    case lowest
    case highest
    /// The first listed node present wins, provided no earlier-listed node was in the previous
    /// membership (it might be in the other half).
    case list([NodeID])

    /// Parses corosync's string; nil when it is none of the three forms (corosync then warns
    /// and disables auto_tie_breaker).
    public init?(parsing text: String) {
        let trimmed = text.split(whereSeparator: { $0 == " " || $0 == "\t" })
        if trimmed.count == 1, trimmed[0] == "lowest" { self = .lowest; return }
        if trimmed.count == 1, trimmed[0] == "highest" { self = .highest; return }
        guard !trimmed.isEmpty, trimmed.count <= VoteQuorum.nodesMax else { return nil }
        var ids: [NodeID] = []
        for word in trimmed {
            guard let id = UInt32(word), id != 0 else { return nil }
            ids.append(NodeID(id))
        }
        self = .list(ids)
    }

    public var description: String {
        switch self {
        case .lowest: "lowest"
        case .highest: "highest"
        case .list(let ids): ids.map(\.description).joined(separator: " ")
        }
    }
}

/// The flags votequorum runs with after corosync's startup rules, and what was changed.
public struct EffectiveQuorumOptions: Hashable, Sendable {
    public var twoNode: Bool
    public var waitForAll: Bool
    public var lastManStanding: Bool
    public var lastManStandingWindow: Milliseconds
    /// nil: auto_tie_breaker off.
    public var tieBreaker: TieBreakerRule?
    public var allowDownscale: Bool
    /// Flags dropped or adjusted at start-up, worded as corosync logs them.
    public var warnings: [String]

    /// Flags taken as given, no startup rules applied (tests, and callers that resolved them).
    public init(
        twoNode: Bool = false, waitForAll: Bool = false, lastManStanding: Bool = false,
        lastManStandingWindow: Milliseconds = VoteQuorum.lastManStandingWindowDefault,
        tieBreaker: TieBreakerRule? = nil, allowDownscale: Bool = false, warnings: [String] = []
    ) {
        self.twoNode = twoNode
        self.waitForAll = waitForAll
        self.lastManStanding = lastManStanding
        self.lastManStandingWindow = lastManStandingWindow
        self.tieBreaker = tieBreaker
        self.allowDownscale = allowDownscale
        self.warnings = warnings
    }
}

public enum QuorumOptionsError: Error, Hashable, Sendable, CustomStringConvertible {
    case autoTieBreakerAndLastManStandingOnOddCluster

    public var description: String {
        switch self {
        case .autoTieBreakerAndLastManStandingOnOddCluster:
            "configuration error: auto_tie_breaker & last_man_standing not available in odd sized cluster"
        }
    }
}
