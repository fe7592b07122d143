import Basics
import CMap
import Foundation
import Logging
import NIOCore
import NIOPosix
import Replication
import TotemConfig
@testable import Node

/// Three (or more) real `NodeRuntime`s in this process on 127.0.0.1, ephemeral UDP and peer
/// ports, one temporary data directory each. Every wait is bounded (`waitUntil`).
final class RuntimeTestCluster: @unchecked Sendable {
    let group: MultiThreadedEventLoopGroup
    let directory: String
    let ids: [NodeID]
    let rings: [UInt8]
    let options: TotemOptions
    var runtimes: [NodeRuntime?]

    init(nodeCount: Int = 3, rings: [UInt8] = [0], rrpMode: TotemOptions.RRPMode = .none) throws {
        group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        directory = NSTemporaryDirectory() + "totemkv-runtime-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        ids = (1...nodeCount).map { NodeID(UInt32($0)) }
        self.rings = rings
        var settings = TotemOptions.Settings()
        // Short timeouts keep membership changes quick on loopback.
        settings.token = 300
        settings.tokenCoefficient = 0
        settings.interfaces = rings.map { TotemOptions.Interface(ringNumber: $0, mcastPort: 0) }
        settings.rrpMode = rrpMode
        settings.rrpProblemCountThreshold = 3
        settings.rrpProblemCountMcastThreshold = 10
        options = TotemOptions(settings, nodeCount: nodeCount)
        runtimes = Array(repeating: nil, count: nodeCount)
    }

    func configuration(_ position: Int) -> NodeRuntimeConfiguration {
        let id = ids[position]
        let member = UDPTransport.Member(nodeID: id, ring0: .init(host: "127.0.0.1", port: 0),
                                         ring1: rings.count > 1 ? .init(host: "127.0.0.1", port: 0) : nil)
        let transport = UDPTransport.Configuration(localNodeID: id, interfaces: options.interfaces, members: [member])
        return NodeRuntimeConfiguration(
            nodeID: id, totem: options, transport: transport, voters: ids.map { ($0, 1) },
            dataDirectory: directory + "/node-\(id.rawValue)", fsync: true,
            peerHost: "127.0.0.1", peerPort: 0, peerAddresses: [:])
    }

    /// Opens every runtime that is not running, tells everyone the current addresses, then
    /// starts the new ones.
    func start(_ positions: [Int]) async throws {
        try await open(positions)
        try await distributeAddresses()
        for position in positions { try await runtimes[position]?.start() }
    }

    /// Opens (recovers) the runtimes at `positions` that are not open yet, without starting them.
    func open(_ positions: [Int]) async throws {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        for position in positions where runtimes[position] == nil {
            runtimes[position] = try await NodeRuntime.open(configuration(position), on: group.next(), logger: logger)
        }
    }

    func distributeAddresses() async throws {
        var members: [UDPTransport.Member] = []
        var peers: [NodeID: (host: String, port: Int)] = [:]
        for (position, runtime) in runtimes.enumerated() {
            guard let runtime else { continue }
            let ports = runtime.totemAddresses.map { UInt16($0.port ?? 0) }
            members.append(UDPTransport.Member(nodeID: ids[position], ring0: .init(host: "127.0.0.1", port: ports[0]),
                                               ring1: ports.count > 1 ? .init(host: "127.0.0.1", port: ports[1]) : nil))
            peers[ids[position]] = ("127.0.0.1", runtime.peerAddress?.port ?? 0)
        }
        for runtime in runtimes.compactMap({ $0 }) {
            try await runtime.updatePeers(members: members, peerAddresses: peers)
        }
    }

    func kill(_ position: Int) async {
        await runtimes[position]?.kill()
        runtimes[position] = nil
    }

    func shutdown() async {
        for runtime in runtimes.compactMap({ $0 }) { await runtime.stop() }
        runtimes = runtimes.map { _ in nil }
        try? await group.shutdownGracefully()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Polls `condition` every 50 ms, at most `attempts` times; false when it never held.
    func waitUntil(attempts: Int = 400, _ condition: () async -> Bool) async -> Bool {
        for _ in 0..<attempts {
            if await condition() { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return false
    }

    /// Every running runtime is in one quorate, synced configuration of `count` members.
    func waitForRing(of count: Int) async -> Bool {
        await waitUntil {
            for runtime in self.runtimes.compactMap({ $0 }) {
                let s = await runtime.status()
                if !s.isQuorate || s.members.count != count || s.phase != .active { return false }
            }
            return true
        }
    }

    /// Writes through `position`, retrying (bounded) while a membership change refuses it.
    func write(_ key: String, _ value: String, at position: Int, clientSeq: UInt64 = 0) async -> ReplicatedNode.ClientReply? {
        var last: ReplicatedNode.ClientReply?
        _ = await waitUntil(attempts: 100) {
            guard let runtime = self.runtimes[position] else { return false }
            last = await runtime.execute(.write(.set(CMapKey(key), .string(value)), clientID: 0, clientSeq: clientSeq))
            if case .result(.ok, _) = last { return true }
            return false
        }
        return last
    }

    func read(_ key: String, at position: Int) async -> ReplicatedNode.ClientReply? {
        var last: ReplicatedNode.ClientReply?
        _ = await waitUntil(attempts: 100) {
            guard let runtime = self.runtimes[position] else { return false }
            last = await runtime.execute(.read(.get(CMapKey(key)), .linearizable))
            if case .result = last { return true }
            return false
        }
        return last
    }
}
