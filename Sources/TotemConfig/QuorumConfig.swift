/// `quorum { ... }`: votequorum's settings (votequorum(5); totem-notes 7), with corosync's
/// defaults and implications resolved. The flags are what votequorum would run with: a flag
/// corosync disables at start-up (two_node with auto_tie_breaker, last_man_standing with a
/// node holding more than one vote) is false here, and a warning says why.
public struct QuorumConfig: Hashable, Sendable {
    public enum TieBreakerNode: Hashable, Sendable, CustomStringConvertible {
        case lowest
        case highest
        /// The first listed node id present wins (votequorum's rule).
        case list([UInt32])

        public var description: String {
            switch self {
            case .lowest: "lowest"
            case .highest: "highest"
            case .list(let ids): ids.map(String.init).joined(separator: " ")
            }
        }
    }

    /// `corosync_votequorum`, or nil when the file configures no quorum provider.
    public var provider: String?
    /// `expected_votes` as written; nil means "the sum of the nodelist's votes"
    /// (`ClusterConfig.expectedVotes` is the effective value).
    public var expectedVotes: UInt32?
    public var twoNode: Bool
    /// `two_node` implies `wait_for_all` unless the file sets `wait_for_all` itself.
    public var waitForAll: Bool
    public var lastManStanding: Bool
    /// Milliseconds; 10000 unless set.
    public var lastManStandingWindow: UInt32
    public var autoTieBreaker: Bool
    public var autoTieBreakerNode: TieBreakerNode
    public var allowDownscale: Bool

    public init(provider: String? = nil, expectedVotes: UInt32? = nil, twoNode: Bool = false,
                waitForAll: Bool = false, lastManStanding: Bool = false,
                lastManStandingWindow: UInt32 = 10_000, autoTieBreaker: Bool = false,
                autoTieBreakerNode: TieBreakerNode = .lowest, allowDownscale: Bool = false) {
        self.provider = provider
        self.expectedVotes = expectedVotes
        self.twoNode = twoNode
        self.waitForAll = waitForAll
        self.lastManStanding = lastManStanding
        self.lastManStandingWindow = lastManStandingWindow
        self.autoTieBreaker = autoTieBreaker
        self.autoTieBreakerNode = autoTieBreakerNode
        self.allowDownscale = allowDownscale
    }

    static let providers = ["corosync_votequorum"]
    static let keys = [
        "provider", "expected_votes", "two_node", "wait_for_all", "last_man_standing",
        "last_man_standing_window", "auto_tie_breaker", "auto_tie_breaker_node", "allow_downscale",
    ]

    /// Reads the section; `nodes` is the node list, for the rules that depend on it.
    static func read(_ section: ConfigSection, nodes: [NodeConfig],
                     warnings: inout [ConfigWarning]) throws(ConfigError) -> QuorumConfig {
        for sub in section.sections {
            guard sub.name == "device" else {
                throw ConfigError("unknown section \"\(sub.name)\" in quorum; expected device", at: sub.location)
            }
            warnings.append(ConfigWarning(
                "quorum.device (qdevice) is a corosync option TotemKV does not implement; ignored",
                at: sub.location))
        }
        let items = try SectionItems(section, path: "quorum", implemented: keys,
                                     corosyncOnly: CorosyncKeys.quorum, warnings: &warnings)
        var quorum = QuorumConfig()
        if let item = items["provider"] {
            quorum.provider = try ConfigValues.choice(item, of: providers)
        }
        if let item = items["expected_votes"] {
            quorum.expectedVotes = try ConfigValues.integer(item, in: 1...UInt32.max)
        }
        func flag(_ key: String) throws(ConfigError) -> Bool? {
            guard let item = items[key] else { return nil }
            return try ConfigValues.boolean(item, style: .oneZero)
        }
        quorum.twoNode = try flag("two_node") ?? false
        quorum.waitForAll = try flag("wait_for_all") ?? quorum.twoNode
        quorum.lastManStanding = try flag("last_man_standing") ?? false
        quorum.autoTieBreaker = try flag("auto_tie_breaker") ?? false
        quorum.allowDownscale = try flag("allow_downscale") ?? false
        if let item = items["last_man_standing_window"] {
            quorum.lastManStandingWindow = try ConfigValues.integer(item, in: 1...UInt32.max)
        }
        if let item = items["auto_tie_breaker_node"] {
            quorum.autoTieBreakerNode = try readTieBreakerNode(item, nodes: nodes, warnings: &warnings)
        }
        try quorum.resolve(items: items, section: section, nodes: nodes, warnings: &warnings)
        return quorum
    }

    /// votequorum's start-up rules (`votequorum_readconfig`).
    private mutating func resolve(items: SectionItems, section: ConfigSection, nodes: [NodeConfig],
                                  warnings: inout [ConfigWarning]) throws(ConfigError) {
        let at = { (key: String) in items[key]?.keyLocation ?? section.location }
        let totalVotes = nodes.reduce(UInt64(0)) { $0 + UInt64($1.quorumVotes) }
        if provider != nil && nodes.isEmpty && expectedVotes == nil {
            throw ConfigError(
                "expected a nodelist or quorum.expected_votes: votequorum cannot count votes without one",
                at: at("provider"))
        }
        if provider == nil, let item = Self.keys.dropFirst().lazy.compactMap({ items[$0] }).first {
            warnings.append(ConfigWarning(
                "quorum.\(item.key) has no effect in corosync without provider: corosync_votequorum",
                at: item.keyLocation))
        }
        if let expected = expectedVotes, !nodes.isEmpty, UInt64(expected) < totalVotes {
            warnings.append(ConfigWarning(
                "expected_votes \(expected) is below the nodelist's \(totalVotes) votes; votequorum raises it once it sees them all, until then two partitions can both be quorate",
                at: at("expected_votes")))
        }
        if twoNode && autoTieBreaker {
            twoNode = false
            warnings.append(ConfigWarning(
                "two_node and auto_tie_breaker cannot both be on; two_node is disabled, as in corosync",
                at: at("two_node")))
        }
        if twoNode && !nodes.isEmpty && nodes.count != 2 {
            warnings.append(ConfigWarning(
                "two_node is meant for a cluster of exactly 2 nodes; this one has \(nodes.count)",
                at: at("two_node")))
        }
        if lastManStanding && nodes.contains(where: { $0.quorumVotes != 1 }) {
            lastManStanding = false
            warnings.append(ConfigWarning(
                "last_man_standing needs every node to have exactly 1 vote; disabled, as in corosync",
                at: at("last_man_standing")))
        }
        let expected = expectedVotes.map(UInt64.init) ?? totalVotes
        if autoTieBreaker && expected % 2 == 1 {
            if lastManStanding {
                throw ConfigError(
                    "auto_tie_breaker with last_man_standing needs an even number of expected votes, but there are \(expected)",
                    at: at("auto_tie_breaker"))
            }
            if !waitForAll {
                autoTieBreaker = false
                warnings.append(ConfigWarning(
                    "auto_tie_breaker with an odd number of votes (\(expected)) needs wait_for_all; disabled, as in corosync",
                    at: at("auto_tie_breaker")))
            }
        }
    }

    /// `lowest`, `highest`, or a list of node ids separated by blanks.
    private static func readTieBreakerNode(_ item: ConfigItem, nodes: [NodeConfig],
                                           warnings: inout [ConfigWarning]) throws(ConfigError) -> TieBreakerNode {
        switch item.value {
        case "lowest": return .lowest
        case "highest": return .highest
        default:
            let words = item.value.split(whereSeparator: { $0 == " " || $0 == "\t" })
            var ids: [UInt32] = []
            for word in words.prefix(NodelistSection.maxNodes + 1) {
                guard let id = ConfigValues.parseDecimal(String(word)), id >= 1, id <= UInt64(UInt32.max) else {
                    throw ConfigError(
                        "Value of key \"auto_tie_breaker_node\" is expected to be lowest, highest or a list of node ids, but \"\(item.value)\" was given",
                        at: item.valueLocation)
                }
                ids.append(UInt32(id))
            }
            guard !ids.isEmpty, ids.count <= NodelistSection.maxNodes else {
                throw ConfigError(
                    "Value of key \"auto_tie_breaker_node\" is expected to be lowest, highest or 1 to \(NodelistSection.maxNodes) node ids, but \"\(item.value)\" was given",
                    at: item.valueLocation)
            }
            if !nodes.isEmpty, let unknown = ids.first(where: { id in !nodes.contains { $0.nodeID == id } }) {
                warnings.append(ConfigWarning(
                    "auto_tie_breaker_node lists node \(unknown), which is not in the nodelist",
                    at: item.valueLocation))
            }
            return .list(ids)
        }
    }
}
