import Foundation
import Testing

/// `totemkv up` as a user runs it: it prints the client ports once the ring is quorate,
/// status lines after that, and Ctrl-C (SIGINT) stops every node and exits 0. A second run
/// on the same directory reuses the data (a higher ring seq).
@Suite(.serialized)
struct UpCommandTests {
    @Test(.timeLimit(.minutes(5))) func upStartsAQuorateClusterAndCtrlCStopsIt() throws {
        let dir = NSTemporaryDirectory() + "totemkv-up-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let base = TestPorts.base()
        let firstSeq = try runUp(dir: dir, base: base)
        let secondSeq = try runUp(dir: dir, base: base)
        #expect(secondSeq > firstSeq)
    }

    /// One `up` run: waits (bounded) for its ready line and one status line, interrupts it,
    /// checks the exit and that no node survives; returns node 1's ring seq.
    private func runUp(dir: String, base: Int) throws -> Int {
        let output = dir + ".out"
        _ = FileManager.default.createFile(atPath: output, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: output) }
        let process = Process()
        process.executableURL = ProcessCluster.executable()
        process.arguments = ["up", "--nodes", "3", "--dir", dir, "--base-port", String(base), "--timeout", "120"]
        process.standardOutput = FileHandle(forWritingAtPath: output)
        process.standardError = FileHandle.nullDevice
        try process.run()
        func text() -> String { (try? String(contentsOfFile: output, encoding: .utf8)) ?? "" }
        var ready = false
        // Bounded: two minutes, for a machine busy with the rest of the suite.
        for _ in 0..<1200 where !ready {
            let t = text()
            ready = t.contains("redis-cli -p \(base)") && t.contains("commit")
            if !ready { Thread.sleep(forTimeInterval: 0.1) }
        }
        #expect(ready, "\(text())")
        let status = try? JSONSerialization.jsonObject(
            with: Data(contentsOf: URL(fileURLWithPath: dir + "/data/node-1/status.json"))) as? [String: Any]
        let pids = (1...3).compactMap { id -> Int32? in
            guard let data = FileManager.default.contents(atPath: dir + "/data/node-\(id)/status.json"),
                  let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return nil }
            return (object["pid"] as? Int).map { Int32($0) }
        }
        kill(process.processIdentifier, SIGINT)
        var exited = false
        for _ in 0..<200 where !exited {
            exited = !process.isRunning
            if !exited { Thread.sleep(forTimeInterval: 0.1) }
        }
        if !exited { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        #expect(exited && process.terminationStatus == 0)
        #expect(pids.count == 3)
        for pid in pids { #expect(kill(pid, 0) != 0, "node process \(pid) still runs") }
        return status?["ring_seq"] as? Int ?? 0
    }
}
