import Basics
import CMap
import NIOCore
import RingLog
import TotemConfig

/// Everything a `NodeRuntime` needs, independent of the configuration file: `NodeCommand`
/// builds it from a `ClusterConfig` (`init(cluster:node:key:)`), tests build it by hand with
/// ephemeral ports.
public struct NodeRuntimeConfiguration: Sendable {
    public var nodeID: NodeID
    public var totem: TotemOptions
    public var transport: UDPTransport.Configuration
    /// Every configured node and its votes (quorum and the allowed Totem members).
    public var voters: [(NodeID, UInt32)]
    /// This node's own directory (`<data_directory>/node-<id>`): log/, snapshots/, ringseq.
    public var dataDirectory: String
    public var fsync: Bool
    /// Where this node's peer channel listens (port 0: ephemeral).
    public var peerHost: String
    public var peerPort: Int
    /// The other nodes' peer-channel addresses (host, port), by node id.
    public var peerAddresses: [NodeID: (host: String, port: Int)]
    /// Write `status.json` into the data directory this often (nil: never). `totemkv up`
    /// reads it.
    public var statusFileInterval: Milliseconds?
    /// `runtime { watchdog: on }`: a loop stalled beyond the token timeout ends the node
    /// (`onWatchdogExpired`). See StallDetector and LoopWatchdog.
    public var watchdog = false
    /// What a watchdog expiry does with its message: by default log it to standard error and
    /// exit with `WatchdogExit.status`. Tests record it instead (the runtime then stops).
    public var onWatchdogExpired: @Sendable (String) -> Void = WatchdogExit.exitProcess
    /// When the node takes its own snapshots and compacts its log below them (`store {
    /// snapshot_entries, snapshot_bytes, snapshot_growth_percent }`); nil: only on request or from a sync source.
    public var snapshotPolicy: SnapshotPolicy?
    /// The log's segment size; compaction deletes whole segments, so tests use small ones.
    public var logSegmentBytesMax = RingLogOptions().segmentBytesMax
    /// The `quorum { }` flags and `expected_votes` (NodeRuntimeConfiguration+Quorum.swift).
    public var quorum = QuorumConfig()

    public init(nodeID: NodeID, totem: TotemOptions, transport: UDPTransport.Configuration,
                voters: [(NodeID, UInt32)], dataDirectory: String, fsync: Bool,
                peerHost: String, peerPort: Int, peerAddresses: [NodeID: (host: String, port: Int)],
                statusFileInterval: Milliseconds? = nil) {
        self.nodeID = nodeID
        self.totem = totem
        self.transport = transport
        self.voters = voters
        self.dataDirectory = dataDirectory
        self.fsync = fsync
        self.peerHost = peerHost
        self.peerPort = peerPort
        self.peerAddresses = peerAddresses
        self.statusFileInterval = statusFileInterval
    }

    /// The peer channel's port for `node`: its client (RESP) port + 10000. Client ports are
    /// distinct per node (the parser checks it), so the peer ports are too, even when every
    /// node shares one address.
    public static let peerPortOffset = 10_000

    public static func peerEndpoint(cluster: ClusterConfig, node: NodeConfig) -> (host: String, port: Int) {
        let client = cluster.clientEndpoint(for: node)
        return (node.ring0Addr, Int(client.port) + peerPortOffset)
    }

    /// From the cluster configuration: the nodelist's ring addresses on the interfaces'
    /// `mcastport`, peers on `peerEndpoint`, `<data_directory>/node-<id>`.
    public init(cluster: ClusterConfig, node: NodeConfig, key: ClusterKey?) throws {
        let members = cluster.nodes.map {
            UDPTransport.Member(nodeID: NodeID($0.nodeID), ring0Address: $0.ring0Addr, ring1Address: $0.ring1Addr)
        }
        let transport = try UDPTransport.Configuration(localNodeID: NodeID(node.nodeID), options: cluster.totem,
                                                       members: members, key: key)
        var peers: [NodeID: (host: String, port: Int)] = [:]
        for other in cluster.nodes where other.nodeID != node.nodeID {
            peers[NodeID(other.nodeID)] = Self.peerEndpoint(cluster: cluster, node: other)
        }
        let own = Self.peerEndpoint(cluster: cluster, node: node)
        self.init(nodeID: NodeID(node.nodeID), totem: cluster.totem, transport: transport,
                  voters: cluster.nodes.map { (NodeID($0.nodeID), $0.quorumVotes) },
                  dataDirectory: cluster.dataDirectory(for: node), fsync: cluster.store.fsync,
                  peerHost: own.host, peerPort: own.port, peerAddresses: peers, statusFileInterval: 500)
        watchdog = cluster.runtime.watchdog
        snapshotPolicy = SnapshotPolicy(
            everyEntries: cluster.store.snapshotEntries, everyBytes: cluster.store.snapshotBytes,
            growthPercent: cluster.store.snapshotGrowthPercent)
        self.quorum = cluster.quorum
    }
}
