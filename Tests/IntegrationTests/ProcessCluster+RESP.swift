import Foundation

/// What the RESP integration tests need from a `ProcessCluster`: configuration additions
/// (a password, a value limit), the client port of each node, and connections.
extension ProcessCluster {
    /// Inserts `lines` at the start of the configuration's `section { ... }` (before the
    /// nodes start).
    func addToConfig(section: String, _ lines: [String]) throws {
        let text = try String(contentsOfFile: configPath, encoding: .utf8)
        guard let range = text.range(of: "\(section) {\n") else {
            throw ClusterSetupError("the configuration has no '\(section)' section")
        }
        let updated = text.replacingCharacters(in: range, with: "\(section) {\n" + lines.map { " \($0)\n" }.joined())
        try Data(updated.utf8).write(to: URL(fileURLWithPath: configPath))
    }

    // clientPort(of:) is in ProcessCluster+Clients.swift.

    /// Starts every node and waits (bounded) until all are quorate and active with every
    /// member and each answers PING on its client port.
    func startQuorate(password: String? = nil) throws {
        for id in 1...nodeCount { try start(id) }
        guard waitUntil({ allQuorate(members: Array(1...nodeCount)) }) else {
            throw ClusterSetupError("the ring did not form:\n\(logTails())")
        }
        for id in 1...nodeCount {
            let answers = waitUntil {
                guard let client = try? BlockingRESPClient(port: (try? clientPort(of: id)) ?? 0) else { return false }
                if let password { _ = try? client.call(["AUTH", password]) }
                return (try? client.call(["PING"])) == .simple("PONG")
            }
            guard answers else { throw ClusterSetupError("node \(id)'s client server does not answer:\n\(logTails())") }
        }
    }

    /// A connection to node `id`, authenticated when a password is given.
    func connect(_ id: Int, password: String? = nil) throws -> BlockingRESPClient {
        let client = try BlockingRESPClient(port: try clientPort(of: id))
        if let password {
            let reply = try client.call(["AUTH", password])
            guard reply == .ok else { throw ClusterSetupError("AUTH on node \(id): \(reply)") }
        }
        return client
    }
}

struct ClusterSetupError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
