/// A whole TotemKV configuration, read from a corosync.conf-style file and validated:
/// every value effective (defaults applied, derivations done), every rule checked. The node,
/// the simulator and `totemkv config check` all start from this.
///
/// Build one with `ClusterConfig.parse(_:fileName:)` or `ClusterConfig.load(path:)`; a file
/// that cannot be used throws a `ConfigError` naming the file, line and column.
public struct ClusterConfig: Hashable, Sendable {
    /// The name errors and warnings use for the file.
    public var fileName: String
    /// The effective totem options for this node list: `TotemOptions(totemSettings, nodeCount:
    /// nodes.count)`.
    public var totem: TotemOptions
    /// The totem options as the file sets them (explicit 0s that mean "default" removed,
    /// `secauth` expanded to a cipher and a hash, interfaces completed from the node list).
    /// Recompute for another cluster size with `TotemOptions(totemSettings, nodeCount:)`.
    public var totemSettings: TotemOptions.Settings
    /// The members, in file order (corosync's `nodelist.node.N` position). Empty when the file
    /// has no nodelist (a warning says so).
    public var nodes: [NodeConfig]
    public var quorum: QuorumConfig
    public var logging: LoggingConfig
    public var store: StoreConfig
    public var client: ClientConfig
    /// `runtime { ... }`: how the node process watches itself (the watchdog).
    public var runtime = RuntimeConfig()
    /// Everything accepted but worth telling the user, in file order.
    public var warnings: [ConfigWarning]

    /// A configuration built in code (tests, the simulator). Nothing is validated here: only
    /// `parse` and `load` check the rules.
    public init(fileName: String, totemSettings: TotemOptions.Settings = TotemOptions.Settings(),
                nodes: [NodeConfig] = [], quorum: QuorumConfig = QuorumConfig(),
                logging: LoggingConfig = LoggingConfig(), store: StoreConfig = StoreConfig(),
                client: ClientConfig = ClientConfig(), warnings: [ConfigWarning] = []) {
        self.fileName = fileName
        self.totemSettings = totemSettings
        self.totem = TotemOptions(totemSettings, nodeCount: nodes.count)
        self.nodes = nodes
        self.quorum = quorum
        self.logging = logging
        self.store = store
        self.client = client
        self.warnings = warnings
    }

    /// The sum of the nodes' `quorum_votes`.
    public var totalVotes: UInt32 {
        // At most 384 nodes of at most 1_000_000 votes each (enforced by the parser).
        nodes.reduce(0) { $0 &+ $1.quorumVotes }
    }

    /// The effective expected votes: `quorum.expected_votes` when set, else the total of the
    /// node list's votes (votequorum's rule).
    public var expectedVotes: UInt32 {
        quorum.expectedVotes ?? totalVotes
    }

    /// The number of rings (`totem.interfaces.count`): 1, or 2 with redundant rings.
    public var ringCount: Int { totem.interfaces.count }

    public func node(id: UInt32) -> NodeConfig? {
        nodes.first { $0.nodeID == id }
    }

    /// Where `node`'s client (RESP) server listens: its `client_address`, else
    /// `client.bind_address`; its `client_port`, else `client.port` plus the node's position
    /// in the node list (0-based). The parser checks that no two nodes get the same endpoint.
    public func clientEndpoint(for node: NodeConfig) -> (address: String, port: UInt16) {
        let address = node.clientAddress ?? client.bindAddress
        if let port = node.clientPort { return (address, port) }
        let position = nodes.firstIndex { $0.nodeID == node.nodeID } ?? 0
        let port = Int(client.port) + position
        // Validated by the parser; clamped rather than trapping for a hand-built config.
        return (address, UInt16(clamping: port))
    }

    /// `node`'s own data directory: `store.data_directory/node-<nodeid>`, so that several
    /// nodes on one host never share files.
    public func dataDirectory(for node: NodeConfig) -> String {
        let base = store.dataDirectory.hasSuffix("/") ? String(store.dataDirectory.dropLast()) : store.dataDirectory
        return "\(base)/node-\(node.nodeID)"
    }
}
