/// One `nodelist { node { ... } }` entry: a member of the cluster.
public struct NodeConfig: Hashable, Sendable {
    /// `nodeid`: never 0. When the file leaves it out it is derived from an IPv4 `ring0_addr`
    /// as corosync 2.x does (the address as a big-endian u32, high bit cleared with
    /// `totem.clear_node_high_bit: yes`); `isNodeIDDerived` is then true.
    public var nodeID: UInt32
    public var name: String?
    /// The node's address on ring 0 (an IP literal or a host name, as written).
    public var ring0Addr: String
    /// The node's address on ring 1, present on every node when two rings are configured.
    public var ring1Addr: String?
    /// `quorum_votes`, 1 unless set.
    public var quorumVotes: UInt32
    /// TotemKV: the address this node's client (RESP) server binds, if not `client.bind_address`.
    public var clientAddress: String?
    /// TotemKV: this node's client port, if not derived (see `ClusterConfig.clientEndpoint(for:)`).
    public var clientPort: UInt16?
    public var isNodeIDDerived: Bool

    public init(nodeID: UInt32, name: String? = nil, ring0Addr: String, ring1Addr: String? = nil,
                quorumVotes: UInt32 = 1, clientAddress: String? = nil, clientPort: UInt16? = nil,
                isNodeIDDerived: Bool = false) {
        self.nodeID = nodeID
        self.name = name
        self.ring0Addr = ring0Addr
        self.ring1Addr = ring1Addr
        self.quorumVotes = quorumVotes
        self.clientAddress = clientAddress
        self.clientPort = clientPort
        self.isNodeIDDerived = isNodeIDDerived
    }

    /// The node's address on `ring` (0 or 1).
    public func address(ring: Int) -> String? {
        switch ring {
        case 0: ring0Addr
        case 1: ring1Addr
        default: nil
        }
    }
}

/// Reads `nodelist { node { ... } ... }` and checks what can be checked per node list:
/// node ids, names and addresses must be unique.
struct NodelistSection {
    var nodes: [NodeConfig] = []
    /// Parallel to `nodes`: where each node's section and keys are.
    var locations: [(section: ConfigLocation, keys: [String: ConfigLocation])] = []
    var location: ConfigLocation?

    /// corosync's PROCESSOR_COUNT_MAX.
    static let maxNodes = 384
    static let maxVotes: UInt32 = 1_000_000
    static let keys = ["nodeid", "name", "ring0_addr", "ring1_addr", "quorum_votes", "client_address", "client_port"]

    init() {}

    init(_ section: ConfigSection, clearNodeHighBit: Bool, warnings: inout [ConfigWarning]) throws(ConfigError) {
        location = section.location
        if let item = section.items.first {
            throw ConfigError(
                "unknown key \"\(item.key)\" in section nodelist; expected only node { } sections",
                at: item.keyLocation)
        }
        for sub in section.sections {
            guard sub.name == "node" else {
                throw ConfigError(
                    "unknown section \"\(sub.name)\" in nodelist\(Suggestion.didYouMean(sub.name, among: ["node"])); expected node",
                    at: sub.location)
            }
            guard nodes.count < Self.maxNodes else {
                throw ConfigError("more than \(Self.maxNodes) nodes; corosync's limit is \(Self.maxNodes)",
                                  at: sub.location)
            }
            let (node, keys) = try Self.readNode(sub, clearNodeHighBit: clearNodeHighBit, warnings: &warnings)
            try checkUnique(node, keys: keys, section: sub.location)
            nodes.append(node)
            locations.append((sub.location, keys))
        }
    }

    private static func readNode(_ section: ConfigSection, clearNodeHighBit: Bool,
                                 warnings: inout [ConfigWarning]) throws(ConfigError)
        -> (NodeConfig, [String: ConfigLocation])
    {
        if let sub = section.sections.first {
            throw ConfigError("unknown section \"\(sub.name)\" in nodelist.node; expected keys only",
                              at: sub.location)
        }
        for item in section.items where item.key.hasPrefix("ring") && item.key.hasSuffix("_addr")
            && item.key != "ring0_addr" && item.key != "ring1_addr"
        {
            throw ConfigError(
                "\(item.key): TotemKV supports at most 2 rings (corosync 2.x's limit); expected ring0_addr or ring1_addr",
                at: item.keyLocation)
        }
        let items = try SectionItems(section, path: "nodelist.node", implemented: keys,
                                     corosyncOnly: [:], warnings: &warnings)
        var keys: [String: ConfigLocation] = [:]
        guard let ring0 = items["ring0_addr"] else {
            throw ConfigError("expected ring0_addr in this node section", at: section.location)
        }
        var node = NodeConfig(nodeID: 0, ring0Addr: try ConfigValues.address(ring0))
        keys["ring0_addr"] = ring0.valueLocation
        if let item = items["ring1_addr"] {
            node.ring1Addr = try ConfigValues.address(item)
            keys["ring1_addr"] = item.valueLocation
        }
        if let item = items["name"] {
            node.name = try ConfigValues.nonEmpty(item, what: "a node name")
            keys["name"] = item.valueLocation
        }
        if let item = items["quorum_votes"] {
            node.quorumVotes = try ConfigValues.integer(item, in: 0...maxVotes)
            keys["quorum_votes"] = item.valueLocation
        }
        if let item = items["client_address"] {
            node.clientAddress = try ConfigValues.address(item)
            keys["client_address"] = item.valueLocation
        }
        if let item = items["client_port"] {
            node.clientPort = try ConfigValues.integer(item, in: 1...UInt16.max)
            keys["client_port"] = item.valueLocation
        }
        if let item = items["nodeid"] {
            node.nodeID = try ConfigValues.integer(item, in: 1...UInt32.max)
            keys["nodeid"] = item.valueLocation
        } else if case .v4(let address)? = IPAddress(node.ring0Addr) {
            // corosync 2.x `generate_nodeid_for_duplicate_test`: the address bytes in network order.
            node.nodeID = clearNodeHighBit ? address & 0x7FFF_FFFF : address
            node.isNodeIDDerived = true
            guard node.nodeID != 0 else {
                throw ConfigError(
                    "the node id derived from ring0_addr \(node.ring0Addr) is 0, which is reserved; expected nodeid",
                    at: section.location)
            }
            warnings.append(ConfigWarning(
                "node has no nodeid; derived \(node.nodeID) from ring0_addr \(node.ring0Addr) as corosync 2.x does",
                at: section.location))
        } else {
            throw ConfigError(
                "expected nodeid in this node section: ring0_addr \(node.ring0Addr) is not an IPv4 address to derive it from",
                at: section.location)
        }
        return (node, keys)
    }

    /// Where each node id, name and address was first used, for the uniqueness checks
    /// (looked up only; never iterated, so their order cannot reach a message).
    private var nodeIndexByID: [UInt32: Int] = [:]
    private var nodeIndexByName: [String: Int] = [:]
    private var useByAddress: [String: (node: Int, ring: Int)] = [:]

    private mutating func checkUnique(_ node: NodeConfig, keys: [String: ConfigLocation],
                                      section: ConfigLocation) throws(ConfigError) {
        let index = nodes.count
        func line(_ i: Int) -> Int { locations[i].section.line }
        if let i = nodeIndexByID[node.nodeID] {
            let how = node.isNodeIDDerived ? " (derived from \(node.ring0Addr))" : ""
            throw ConfigError(
                "node id \(node.nodeID)\(how) is already used by the node at line \(line(i))",
                at: keys["nodeid"] ?? section)
        }
        if let name = node.name, let i = nodeIndexByName[name] {
            throw ConfigError("node name \"\(name)\" is already used by the node at line \(line(i))",
                              at: keys["name"] ?? section)
        }
        for ring in 0..<2 {
            guard let address = node.address(ring: ring) else { continue }
            if let use = useByAddress[Self.addressKey(address)], use.node != index {
                throw ConfigError(
                    "address \(address) is already used by node \(nodes[use.node].nodeID) (line \(line(use.node))) as ring\(use.ring)_addr",
                    at: keys["ring\(ring)_addr"] ?? section)
            }
        }
        nodeIndexByID[node.nodeID] = index
        if let name = node.name { nodeIndexByName[name] = index }
        for ring in 0..<2 {
            guard let address = node.address(ring: ring) else { continue }
            let key = Self.addressKey(address)
            if useByAddress[key] == nil { useByAddress[key] = (index, ring) }
        }
    }

    /// One spelling per address: the canonical form of an IP literal, a host name in lower case.
    static func addressKey(_ address: String) -> String {
        IPAddress(address)?.description ?? address.lowercased()
    }

    /// Same address however it is spelt (IP literals), or the same host name ignoring case.
    static func sameAddress(_ a: String, _ b: String) -> Bool {
        addressKey(a) == addressKey(b)
    }
}
