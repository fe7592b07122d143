import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Client access to a `ProcessCluster`'s nodes: node i (1-based, nodelist order) serves
/// clients on the configured base port + i - 1.
extension ProcessCluster {
    var clientBasePort: Int {
        get throws {
            let text = try String(contentsOfFile: configPath, encoding: .utf8)
            guard let client = text.range(of: "client {"),
                  let line = text[client.upperBound...].split(separator: "\n").first(where: { $0.contains("port:") }),
                  let port = Int(line.split(separator: ":").last?.trimmingCharacters(in: .whitespaces) ?? "") else {
                throw ClusterSetupError("no client port in \(configPath)")
            }
            return port
        }
    }

    func clientPort(of id: Int) throws -> Int { try clientBasePort + id - 1 }

    func connect(to id: Int) throws -> BlockingRESPClient {
        try BlockingRESPClient(port: clientPort(of: id))
    }

    /// Polls `body` every 100 ms until it returns a value, at most 1200 times (2 min, as
    /// `waitUntil`); a thrown error (node still starting) counts as no value yet.
    func poll<T>(_ body: () throws -> T?) -> T? {
        for _ in 0..<1200 {
            if let value = try? body() { return value }
            Thread.sleep(forTimeInterval: 0.1)
        }
        return nil
    }

    /// A linearizable GET on node `id` that a quorate ring answered (a transient -NOQUORUM
    /// right after a ring change is retried, bounded by `poll`); nil if it never was.
    func confirmedGet(_ key: String, on id: Int) -> Reply? {
        poll { () throws -> Reply? in
            let reply = try connect(to: id).call(["GET", key])
            return reply.isError ? nil : reply
        }
    }

    /// Sets `key` through node `id`, retrying (bounded) until a quorate ring acknowledges it.
    /// Only for setup: a retried write after an -UNKNOWN may have been applied twice, which
    /// is harmless for a plain SET of the same value.
    func acknowledgedSet(_ key: String, _ value: String, on id: Int) -> Bool {
        poll { () throws -> Bool? in
            try connect(to: id).call(["SET", key, value]) == .simple("OK") ? true : nil
        } ?? false
    }
}

extension ProcessCluster {
    /// A started cluster whose nodes all report a quorate ring of every member. Its ports are
    /// random (ProcessCluster), so on a machine where other tests and clients hold ports a
    /// node can fail to bind ("Address already in use"): then a new cluster on other ports
    /// is tried, at most `attempts` times. Any other failure is thrown with the logs.
    static func startedQuorate(nodeCount: Int = 3, attempts: Int = 3) throws -> ProcessCluster {
        for attempt in 1...attempts {
            let cluster = try ProcessCluster(nodeCount: nodeCount)
            for id in 1...nodeCount { try cluster.start(id) }
            let members = Array(1...nodeCount)
            let settled = cluster.waitUntil {
                cluster.allQuorate(members: members) || cluster.processes.values.contains { !$0.isRunning }
            }
            if settled && cluster.allQuorate(members: members) { return cluster }
            let tails = cluster.logTails()
            cluster.stopAll()
            if !tails.contains("Address already in use") || attempt == attempts {
                throw ClusterSetupError("the cluster did not form (attempt \(attempt)):\n\(tails)")
            }
        }
        throw ClusterSetupError("unreachable: attempts must be at least 1")
    }
}
