import Foundation
import NIOCore
import NIOPosix
import Node
import RESP

/// What the hang, metrics and malformed-datagram tests need from a `ProcessCluster`: its
/// ports (read back from the configuration it wrote), RESP calls to a node, signals, and
/// async bounded waits.
extension ProcessCluster {
    /// A cluster of `nodeCount` nodes, started (after `configure` edited its files) and
    /// waited for until it forms. Ports come from a random base, so another test or program
    /// on this machine may hold one: then a node cannot bind and the cluster is thrown away
    /// for a new one with other ports (at most `attempts` clusters). `isFormed` is false when
    /// the last one did not form (its logs say why).
    static func formed(nodeCount: Int = 3, attempts: Int = 3,
                       configure: (ProcessCluster) throws -> Void = { _ in }) async throws -> (cluster: ProcessCluster, isFormed: Bool) {
        var attempt = 0
        while true {
            attempt += 1
            let cluster = try ProcessCluster(nodeCount: nodeCount)
            try configure(cluster)
            for id in 1...nodeCount { try cluster.start(id) }
            let members = Array(1...nodeCount)
            let isFormed = await cluster.eventually { cluster.allQuorate(members: members) || cluster.isPortTaken }
            guard cluster.isPortTaken && attempt < attempts else { return (cluster, isFormed && !cluster.isPortTaken) }
            cluster.stopAll()
        }
    }

    /// Some node could not bind one of its ports.
    var isPortTaken: Bool {
        (1...nodeCount).contains { id in
            ((try? String(contentsOfFile: root + "/node-\(id).log", encoding: .utf8)) ?? "").contains("Address already in use")
        }
    }

    /// The value of the first `key:` line after the line `section {` in the configuration.
    func configValue(_ key: String, inSection section: String) -> Int? {
        guard let text = try? String(contentsOfFile: configPath, encoding: .utf8) else { return nil }
        var isInside = false
        for line in text.split(separator: "\n") {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed == section + " {" { isInside = true; continue }
            if isInside, trimmed.hasPrefix(key + ":") {
                return Int(trimmed.dropFirst(key.count + 1).trimmingCharacters(in: .whitespaces))
            }
        }
        return nil
    }

    /// The Totem UDP port every node listens on (at 127.0.0.<id>).
    var totemPort: Int { configValue("mcastport", inSection: "interface") ?? 0 }

    /// Rewrites the configuration file (before the nodes that should see it start).
    func editConfiguration(_ transform: (String) -> String) throws {
        let text = try String(contentsOfFile: configPath, encoding: .utf8)
        try Data(transform(text).utf8).write(to: URL(fileURLWithPath: configPath))
    }

    func send(_ signal: Int32, to id: Int) {
        guard let process = processes[id] else { return }
        kill(process.processIdentifier, signal)
    }

    /// One RESP command to node `id` on a connection of its own, ended after `timeout`.
    func call(_ id: Int, _ arguments: [String], timeout: Duration = .seconds(10)) async throws -> RESPValue {
        try await RESPClient.withConnection(host: "127.0.0.1", port: try clientPort(of: id), timeout: timeout,
                                            on: MultiThreadedEventLoopGroup.singleton) { client in
            try await client.call(arguments)
        }
    }

    /// SET through node `id` until it is acknowledged (bounded: 300 attempts). A loaded
    /// machine makes a 300 ms token ring change membership now and then; a write refused
    /// meanwhile (NOQUORUM: nothing written) or cut off is simply sent again (SET of the same
    /// value is idempotent). The last reply.
    func setAcknowledged(_ id: Int, _ key: String, _ value: String) async -> RESPValue? {
        var last: RESPValue?
        _ = await eventually(attempts: 300) {
            last = try? await call(id, ["SET", key, value])
            return last == .ok
        }
        return last
    }

    /// GET at node `id` until it is answered without an error (a linearizable read is
    /// refused while the ring changes); the last reply.
    func getAnswered(_ id: Int, _ key: String) async -> RESPValue? {
        var last: RESPValue?
        _ = await eventually(attempts: 300) {
            last = try? await call(id, ["GET", key])
            return last.map { !$0.isError } ?? false
        }
        return last
    }

    /// Polls every 100 ms, at most `attempts` times (the default: 2 minutes, for a loaded
    /// machine); false when the condition never held.
    func eventually(attempts: Int = 1200, _ condition: () async -> Bool) async -> Bool {
        for _ in 0..<attempts {
            if await condition() { return true }
            try? await Task.sleep(for: .milliseconds(100))
        }
        return false
    }

    /// Waits (bounded) for node `id` to exit on its own; its status, or nil if it still runs.
    func exitStatus(_ id: Int) async -> Int32? {
        guard let process = processes[id] else { return nil }
        guard await eventually(attempts: 600, { !process.isRunning }) else { return nil }
        processes[id] = nil
        return process.terminationStatus
    }
}

/// Samples of one METRICS reply, by full series name (with labels).
struct PrometheusSamples {
    let text: String

    init(_ value: RESPValue) { text = value.string ?? "" }

    func value(_ series: String) -> Double? {
        for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.dropFirst(series.count + 1))
        }
        return nil
    }

    /// The sum of every sample of `family` whose labels contain all of `labels`
    /// (`reason="malformed"`, ...).
    func sum(_ family: String, where labels: [String] = []) -> Double {
        text.split(separator: "\n")
            .filter { $0.hasPrefix(family + "{") && labels.allSatisfy($0.contains) }
            .compactMap { $0.split(separator: " ").last.flatMap { Double($0) } }
            .reduce(0, +)
    }
}

extension RESPValue {
    /// One field of an INFO reply (`name:value` lines).
    func infoField(_ name: String) -> String? {
        for line in (string ?? "").split(whereSeparator: \.isNewline) where line.hasPrefix(name + ":") {
            return String(line.dropFirst(name.count + 1))
        }
        return nil
    }
}
