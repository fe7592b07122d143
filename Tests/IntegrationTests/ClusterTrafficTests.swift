import Foundation
import Testing

/// Traffic against three real `totemkv node` processes: pipelines of mixed commands on all
/// nodes at once, tracking events on connections to every node while writes go through
/// all of them, and redis-cli and redis-benchmark.
@Suite(.serialized)
struct ClusterTrafficTests {
    static let cli = "/usr/bin/redis-cli"
    static let benchmark = "/usr/bin/redis-benchmark"
    static let haveRedisTools = FileManager.default.isExecutableFile(atPath: cli)
        && FileManager.default.isExecutableFile(atPath: benchmark)

    @Test(.timeLimit(.minutes(5))) func pipelinedMixedTrafficAndTrackingAcrossNodes() throws {
        let cluster = try ProcessCluster(nodeCount: 3)
        defer { cluster.stopAll() }
        try cluster.startQuorate()
        try pipelinedMixedTraffic(cluster)
        try trackingEventsExactlyOnceAndInOrder(cluster)
    }

    /// The commands of one node's pipeline and the replies they must get (the keys are the
    /// node's own, so the three pipelines run at once without touching each other's keys).
    static func mixedPipeline(node: Int, rounds: Int) -> (commands: [[String]], replies: [Reply]) {
        var commands: [[String]] = []
        var replies: [Reply] = []
        func add(_ command: [String], _ reply: Reply) {
            commands.append(command)
            replies.append(reply)
        }
        let p = "mix.n\(node)."
        for i in 0..<rounds {
            add(["SET", p + "s\(i)", "v\(i)"], .ok)
            add(["INCR", p + "count"], .integer(Int64(i + 1)))
            add(["GET", p + "s\(i)"], .text("v\(i)"))
            switch i % 5 {
            case 0:
                add(["CMAP.SET", p + "t\(i)", "u32", String(i)], .ok)
                add(["CMAP.INC", p + "t\(i)"], .integer(Int64(i + 1)))
            case 1:
                add(["MGET", p + "s\(i)", p + "s\(i - 1)", p + "none"], .array([.text("v\(i)"), .text("v\(i - 1)"), .null]))
                add(["PING"], .simple("PONG"))
            case 2:
                add(["DEL", p + "s\(i - 2)"], .integer(1))
                add(["EXISTS", p + "s\(i - 2)", p + "s\(i)"], .integer(1))
            case 3:
                // Session commands in the middle: they run alone, in order.
                add(["CLIENT", "SETNAME", "mix\(i)"], .ok)
                add(["READMODE", "stale"], .ok)
                add(["GET", p + "s\(i)"], .text("v\(i)"))
                add(["READMODE", "linearizable"], .ok)
            default:
                add(["SET", p + "s\(i)", "w\(i)", "GET"], .text("v\(i)"))
                add(["GET", p + "s\(i)"], .text("w\(i)"))
            }
        }
        return (commands, replies)
    }

    private func pipelinedMixedTraffic(_ cluster: ProcessCluster) throws {
        let rounds = 60
        let clients = try (1...3).map { try cluster.connect($0) }
        let pipelines = (1...3).map { Self.mixedPipeline(node: $0, rounds: rounds) }
        // All three sent before any reply is read: the nodes' traffic interleaves.
        for (client, pipeline) in zip(clients, pipelines) {
            try client.sendRaw(pipeline.commands.flatMap { BlockingRESPClient.encode($0) })
        }
        for (node, (client, pipeline)) in zip(clients, pipelines).enumerated() {
            let replies = try pipeline.commands.map { _ in try client.read() }
            let wrong = zip(pipeline.commands, zip(replies, pipeline.replies)).filter { $0.1.0 != $0.1.1 }
            #expect(wrong.isEmpty, "node \(node + 1): \(wrong.prefix(5).map { "\($0.0) -> \($0.1.0), expected \($0.1.1)" })")
        }
        // Each node's writes read back through the next node.
        for node in 1...3 {
            let reader = try cluster.connect(node % 3 + 1)
            let p = "mix.n\(node)."
            #expect(try reader.call(["GET", p + "count"]) == .text(String(rounds)))
            let keys = (0..<rounds).map { p + "s\($0)" }
            let expected: [Reply] = (0..<rounds).map { i in
                if i % 5 == 0 && i + 2 < rounds { return .null }  // deleted by round i + 2
                return .text(i % 5 == 4 ? "w\(i)" : "v\(i)")
            }
            #expect(try reader.call(["MGET"] + keys) == .array(expected))
        }
    }

    /// One push as (kind, key, index): `add trk.k str - -> v @12`.
    static func event(_ push: Reply) -> (kind: String, key: String, index: Int)? {
        let items = push.elements
        guard items.count == 3, items[0] == .text("message"), let payload = items[2].string else { return nil }
        let words = payload.split(separator: " ")
        guard words.count >= 2, let last = words.last, last.hasPrefix("@"), let index = Int(last.dropFirst()) else { return nil }
        return (String(words[0]), String(words[1]), index)
    }

    private func trackingEventsExactlyOnceAndInOrder(_ cluster: ProcessCluster) throws {
        let trackers = try (1...3).map { try cluster.connect($0) }
        for tracker in trackers {
            #expect(try tracker.call(["CMAP.TRACK", "trk."]) == .array([.text("subscribe"), .text("cmap:trk."), .integer(1)]))
        }
        let writers = try (1...3).map { try cluster.connect($0) }
        let perWriter = 12
        for (n, writer) in writers.enumerated() {
            try writer.sendRaw((0..<perWriter).flatMap { BlockingRESPClient.encode(["SET", "trk.w\(n).k\($0)", "v"]) })
        }
        for writer in writers {
            for _ in 0..<perWriter { #expect(try writer.read() == .ok) }
        }
        // A modify through node 2 and a delete through node 3, after the adds.
        #expect(try writers[1].call(["SET", "trk.w0.k0", "changed"]) == .ok)
        #expect(try writers[2].call(["DEL", "trk.w0.k0"]) == .integer(1))
        let total = 3 * perWriter + 2
        var sequences: [[(kind: String, key: String, index: Int)]] = []
        for (n, tracker) in trackers.enumerated() {
            var events: [(kind: String, key: String, index: Int)] = []
            for _ in 0..<total {
                let push = try tracker.read()
                guard let event = Self.event(push) else {
                    Issue.record("tracker on node \(n + 1): not an event: \(push)")
                    break
                }
                events.append(event)
            }
            let adds = events.filter { $0.kind == "add" }.map(\.key)
            #expect(adds.count == 3 * perWriter && Set(adds).count == adds.count, "node \(n + 1): \(adds)")
            // Commit order: a pipeline's writes may share one entry (a write batch), so
            // their events share its index.
            #expect(zip(events, events.dropFirst()).allSatisfy { $0.index <= $1.index }, "node \(n + 1): out of order")
            #expect(events.suffix(2).map(\.kind) == ["modify", "delete"])
            sequences.append(events)
        }
        // Every node reports the same events in the same (commit) order.
        let keyed = sequences.map { $0.map { "\($0.kind) \($0.key) @\($0.index)" } }
        #expect(keyed.allSatisfy { $0 == keyed[0] })
        for tracker in trackers {
            #expect(try tracker.call(["CMAP.UNTRACK"]) == .array([.text("unsubscribe"), .text("cmap:trk."), .integer(0)]))
        }
    }

    @Test(.timeLimit(.minutes(5)),
          .enabled(if: haveRedisTools, "redis-cli/redis-benchmark missing: scripts/deps installs redis-tools with apt-get and could not here"))
    func redisCLIAndRedisBenchmarkAgainstTheCluster() throws {
        let cluster = try ProcessCluster(nodeCount: 3)
        defer { cluster.stopAll() }
        try cluster.startQuorate()
        let ports = try (1...3).map { try cluster.clientPort(of: $0) }
        #expect(try Self.tool(Self.cli, ["-p", String(ports[0]), "PING"]) == (0, "PONG\n"))
        #expect(try Self.tool(Self.cli, ["-p", String(ports[0]), "SET", "cli.a", "hello"]) == (0, "OK\n"))
        #expect(try Self.tool(Self.cli, ["-p", String(ports[1]), "GET", "cli.a"]) == (0, "hello\n"))
        #expect(try Self.tool(Self.cli, ["-p", String(ports[2]), "SET", "cli.b", "x"]) == (0, "OK\n"))
        #expect(try Self.tool(Self.cli, ["-p", String(ports[1]), "--scan", "--pattern", "cli.*"]) == (0, "cli.a\ncli.b\n"))
        #expect(try Self.tool(Self.cli, ["-p", String(ports[2]), "CMAP.SET", "cli.n", "i32", "-5"]) == (0, "OK\n"))
        #expect(try Self.tool(Self.cli, ["-p", String(ports[0]), "CMAP.INC", "cli.n"]) == (0, "-4\n"))
        for (port, pipeline) in [(ports[0], "1"), (ports[1], "16")] {
            let (status, output) = try Self.tool(
                Self.benchmark, ["-p", String(port), "-t", "set,get", "-n", "2000", "-P", pipeline, "-q"])
            #expect(status == 0, "\(output)")
            #expect(output.contains("SET: ") && output.contains("GET: "), "\(output)")
            #expect(!output.lowercased().contains("error"), "\(output)")
        }
        // redis-benchmark's keys are readable everywhere afterwards.
        let check = try cluster.connect(3)
        #expect(try check.call(["EXISTS", "key:__rand_int__"]) == .integer(1))
    }

    /// Runs a tool with its output in a file (bounded: killed after 120 s).
    static func tool(_ path: String, _ arguments: [String]) throws -> (Int32, String) {
        let outputPath = NSTemporaryDirectory() + "totemkv-tool-\(UUID().uuidString).out"
        _ = FileManager.default.createFile(atPath: outputPath, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: outputPath) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let output = FileHandle(forWritingAtPath: outputPath)
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        try process.run()
        var waited = 0
        while process.isRunning && waited < 1200 {
            Thread.sleep(forTimeInterval: 0.1)
            waited += 1
        }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        return (process.terminationStatus, text)
    }
}
