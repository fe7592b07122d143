import Foundation
import Testing

/// Real `totemkv node` processes on 127.0.0.1...127.0.0.3 (the executable next to the test
/// bundle: run `swift build` first, `swift test` does). Ports come from `TestPorts`,
/// which probes them and keeps them below the ephemeral range. Every wait is a bounded poll of the nodes' `status.json`.
@Suite(.serialized)
struct NodeProcessTests {
    @Test(.timeLimit(.minutes(5))) func clusterFormsSurvivesKillNineAndRestartsFromItsData() throws {
        let cluster = try ProcessCluster(nodeCount: 3)
        defer { cluster.stopAll() }
        for id in 1...3 { try cluster.start(id) }
        let formed = cluster.waitUntil { cluster.allQuorate(members: [1, 2, 3]) }
        #expect(formed, "\(formed ? "" : cluster.logTails())")
        let ringBefore = cluster.status(of: 3)?["ring_seq"] as? Int ?? 0

        cluster.kill9(3)
        #expect(cluster.waitUntil { cluster.allQuorate(members: [1, 2], among: [1, 2]) })

        try cluster.start(3)
        #expect(cluster.waitUntil { cluster.allQuorate(members: [1, 2, 3]) })
        // The restarted node took a ring seq above the one it had persisted.
        #expect((cluster.status(of: 3)?["ring_seq"] as? Int ?? 0) > ringBefore)

        // SIGTERM: every node leaves cleanly and exits 0.
        for id in 1...3 { #expect(cluster.terminate(id) == 0) }
    }

    @Test(.timeLimit(.minutes(1))) func refusesAMissingConfigurationWithAClearMessage() throws {
        let result = try ProcessCluster.run(["node", "--config", "/nonexistent/totemkv.conf", "--nodeid", "1"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("totemkv node: error:"))
    }

    @Test(.timeLimit(.minutes(1))) func refusesAnUnusableDataDirectory() throws {
        let cluster = try ProcessCluster(nodeCount: 1, dataDirectory: "/proc/totemkv-cannot-exist")
        let result = try ProcessCluster.run(["node", "--config", cluster.configPath, "--nodeid", "1"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("data directory"))
    }
}

final class ProcessCluster: @unchecked Sendable {
    let root: String
    let configPath: String
    let nodeCount: Int
    var processes: [Int: Process] = [:]

    init(nodeCount: Int, dataDirectory: String? = nil) throws {
        self.nodeCount = nodeCount
        root = NSTemporaryDirectory() + "totemkv-it-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        configPath = root + "/cluster.conf"
        let base = TestPorts.base()
        var nodes = ""
        for id in 1...nodeCount { nodes += "node {\n nodeid: \(id)\n ring0_addr: 127.0.0.\(id)\n}\n" }
        let text = """
            totem {
             version: 2
             cluster_name: it
             transport: udpu
             token: 300
             token_coefficient: 0
             interface {
              ringnumber: 0
              mcastport: \(base + 1000)
             }
            }
            nodelist {
            \(nodes)}
            quorum {
             provider: corosync_votequorum
            }
            logging {
             to_stderr: yes
            }
            store {
             data_directory: \(dataDirectory ?? root + "/data")
             fsync: on
            }
            client {
             bind_address: 127.0.0.1
             port: \(base)
            }

            """
        try Data(text.utf8).write(to: URL(fileURLWithPath: configPath))
    }

    static func executable() -> URL {
        let own = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var directory = URL(fileURLWithPath: own).deletingLastPathComponent()
        // macOS runs tests from inside the .xctest bundle.
        if directory.path.contains(".xctest") {
            while directory.path.contains(".xctest") { directory.deleteLastPathComponent() }
        }
        return directory.appendingPathComponent("totemkv")
    }

    func start(_ id: Int) throws {
        let process = Process()
        process.executableURL = Self.executable()
        process.arguments = ["node", "--config", configPath, "--nodeid", String(id)]
        let log = root + "/node-\(id).log"
        if !FileManager.default.fileExists(atPath: log) { _ = FileManager.default.createFile(atPath: log, contents: nil) }
        let handle = FileHandle(forWritingAtPath: log)
        handle?.seekToEndOfFile()
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        processes[id] = process
    }

    func status(of id: Int) -> [String: Any]? {
        guard let process = processes[id], process.isRunning,
              let data = FileManager.default.contents(atPath: root + "/data/node-\(id)/status.json"),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              object["pid"] as? Int == Int(process.processIdentifier) else { return nil }
        return object
    }

    func allQuorate(members: [Int], among ids: [Int]? = nil) -> Bool {
        (ids ?? Array(1...nodeCount)).allSatisfy { id in
            guard let s = status(of: id) else { return false }
            return s["quorate"] as? Bool == true && (s["members"] as? [Int]) == members && s["phase"] as? String == "active"
        }
    }

    /// Polls every 100 ms, at most 1200 times (2 min: the suite may be loading the machine).
    func waitUntil(_ condition: () -> Bool) -> Bool {
        for _ in 0..<1200 {
            if condition() { return true }
            Thread.sleep(forTimeInterval: 0.1)
        }
        return false
    }

    func kill9(_ id: Int) {
        guard let process = processes[id] else { return }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        processes[id] = nil
    }

    /// SIGTERM and wait (bounded); the exit status, or nil when it had to be killed.
    func terminate(_ id: Int) -> Int32? {
        guard let process = processes[id] else { return nil }
        process.terminate()
        let exited = waitUntil { !process.isRunning }
        processes[id] = nil
        if !exited {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            return nil
        }
        return process.terminationStatus
    }

    /// The last lines of every node's log, for a failure message.
    func logTails() -> String {
        (1...nodeCount).map { id in
            let text = (try? String(contentsOfFile: root + "/node-\(id).log", encoding: .utf8)) ?? "(no log)"
            return "node \(id):\n" + text.split(separator: "\n").suffix(8).joined(separator: "\n")
        }.joined(separator: "\n")
    }

    func stopAll() {
        for id in processes.keys.sorted() { _ = terminate(id) }
        try? FileManager.default.removeItem(atPath: root)
    }

    /// Runs the executable to completion (bounded: killed after 30 s).
    static func run(_ arguments: [String]) throws -> (status: Int32, stderr: String) {
        let process = Process()
        process.executableURL = executable()
        process.arguments = arguments
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        var waited = 0
        while process.isRunning && waited < 300 {
            Thread.sleep(forTimeInterval: 0.1)
            waited += 1
        }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        return (process.terminationStatus, text)
    }
}
