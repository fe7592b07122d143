import Foundation
import Testing

/// `totemkv bench` against a real 3-node cluster: the summary adds up (no timing
/// assertions: speed is measured in Bench/, not here).
@Suite(.serialized)
struct BenchCommandIntegrationTests {
    /// Runs `totemkv bench ... --json --quiet` to completion (bounded: killed after
    /// `seconds`) and decodes its summary.
    private func bench(_ arguments: [String], seconds: Int = 120) throws -> [String: Any] {
        let process = Process()
        process.executableURL = ProcessCluster.executable()
        process.arguments = ["bench", "--json", "--quiet"] + arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Read once it has exited: the summary is one short line, which never fills the pipe.
        var waited = 0
        while process.isRunning && waited < seconds * 10 {
            Thread.sleep(forTimeInterval: 0.1)
            waited += 1
        }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        #expect(process.terminationStatus == 0, "\(String(decoding: data, as: UTF8.self))")
        let object = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        return try #require(object, "not a JSON object: \(String(decoding: data, as: UTF8.self))")
    }

    private func uint(_ value: Any?) -> UInt64 { (value as? NSNumber)?.uint64Value ?? UInt64.max }

    @Test(.timeLimit(.minutes(6))) func aShortRunWritesThroughEveryNodeAndTheSummaryAddsUp() throws {
        let cluster = try ProcessCluster.startedQuorate()
        defer { cluster.stopAll() }
        let ports = try (1...3).map { String(try cluster.clientPort(of: $0)) }.joined(separator: ",")

        // 6 clients over 3 nodes, 300 SETs of 256 bytes in all: every one acknowledged.
        let writes = try bench(["--ports", ports, "-c", "6", "-n", "300", "--keyspace", "1000"])
        #expect(writes["operation"] as? String == "set")
        #expect(uint(writes["acknowledgedWrites"]) == 300)
        #expect(uint(writes["errorTotal"]) == 0)
        #expect(uint((writes["latency"] as? [String: Any])?["count"]) == 300)
        let latency = try #require(writes["latency"] as? [String: Any])
        #expect(uint(latency["p50Microseconds"]) <= uint(latency["p99Microseconds"]))
        #expect(uint(latency["p99Microseconds"]) <= uint(latency["p999Microseconds"]))
        #expect(uint(latency["p999Microseconds"]) <= uint(latency["maxMicroseconds"]))
        #expect(uint(latency["p50Microseconds"]) > 0)
        #expect(writes["reachedTimeLimit"] as? Bool == false)

        // The same seed and clients draw the same keys: reading them back (linearizable GETs,
        // each client on the same node as before) finds every one.
        // (Two event loops this time: the loops' recorders are merged.)
        let reads = try bench(["--ports", ports, "-c", "6", "-n", "300", "--keyspace", "1000", "--op", "get", "--threads", "2"])
        #expect(uint(reads["reads"]) == 300)
        #expect(uint(reads["readMisses"]) == 0)
        #expect(uint(reads["acknowledgedWrites"]) == 0)

        // A keyspace of one key: it holds a 256-byte value, read through another node.
        let single = try bench(["--ports", String(try cluster.clientPort(of: 1)), "-c", "1", "-n", "3",
                                "--keyspace", "1", "--key-prefix", "solo:"])
        #expect(uint(single["acknowledgedWrites"]) == 3)
        let reply = cluster.confirmedGet("solo:0", on: 2)
        guard case .bulk(let value?) = reply else {
            Issue.record("GET solo:0 answered \(String(describing: reply))")
            return
        }
        #expect(value.count == 256)
    }

    @Test(.timeLimit(.minutes(6))) func killingTheClientsNodeMovesThemToTheSurvivorsAndWritesResume() throws {
        let cluster = try ProcessCluster.startedQuorate()
        defer { cluster.stopAll() }
        let pid = try #require(cluster.processes[1]?.processIdentifier)
        let ports = try (1...3).map { try cluster.clientPort(of: $0) }

        // A long bound (20 s) for writes to resume after the kill at 2 s: a liveness check on
        // a loaded machine, not a measurement (that is Bench/cluster-bench.sh).
        let summary = try bench([
            "--ports", String(ports[0]), "--failover-ports", "\(ports[1]),\(ports[2])", "-c", "4",
            "--duration", "22", "--kill-pid", String(pid), "--kill-after", "2",
        ])
        cluster.processes[1]?.waitUntilExit()
        cluster.processes[1] = nil
        let kill = try #require(summary["kill"] as? [String: Any], "no kill report: \(summary)")
        #expect((kill["pid"] as? NSNumber)?.int32Value == pid)
        let gap = kill["gap"] as? [String: Any]
        #expect(gap != nil, "no write was acknowledged after the kill: \(summary)")
        // The clients' connections to node 1 broke.
        let errors = summary["errors"] as? [[String: Any]] ?? []
        #expect(errors.contains { ($0["kind"] as? String) == "connection-lost" || ($0["kind"] as? String) == "connect-failed" },
                "\(errors)")
        #expect(uint(summary["acknowledgedWrites"]) > 0)
    }

    @Test(.timeLimit(.minutes(2))) func aServerThatNeverRepliesGivesTimeoutsNotAHang() throws {
        // A listening socket that never accepts: connections complete in its backlog, and
        // no request is ever answered.
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        try #require(listener >= 0)
        defer { close(listener) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(listener, pointer, length) == 0 && listen(listener, 64) == 0
                    && getsockname(listener, pointer, &length) == 0
            }
        }
        try #require(bound)
        let port = Int(UInt16(bigEndian: address.sin_port))

        let summary = try bench(["--ports", String(port), "-c", "2", "--duration", "2", "--request-timeout", "200"])
        #expect(uint(summary["acknowledgedWrites"]) == 0)
        let errors = summary["errors"] as? [[String: Any]] ?? []
        #expect(errors.map { $0["kind"] as? String } == ["timeout"], "\(errors)")
        #expect(uint(summary["errorTotal"]) >= 2)
    }
}
