import ArgumentParser
import Dispatch
import Foundation

/// `totemkv up [--nodes 3] [--dir .totemkv] [--base-port P]`: a local cluster in one command.
/// Writes `<dir>/cluster.conf` (nodes on 127.0.0.1...127.0.0.N, one mcastport, client ports
/// P...P+N-1), starts one `totemkv node` child per node (logs in `<dir>/node-<id>.log`),
/// waits until every node reports a quorate ring in its `status.json`, prints the client
/// ports, then a status line a second until Ctrl-C, which stops the children with SIGTERM.
/// Running it again with the same `--dir` reuses the data. See docs/node.md.
struct UpCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "up", abstract: "Start a local cluster of N nodes on 127.0.0.x and watch it.")

    @Option(name: .long, help: "How many nodes (1...9).")
    var nodes: Int = 3

    @Option(name: .long, help: "The directory for the configuration, data and logs.")
    var dir: String = ".totemkv"

    @Option(name: .customLong("base-port"), help: "Node 1's client port; node i gets P+i-1, totem uses P+1000, peers P+10000+i-1.")
    var basePort: Int = 7379

    @Option(name: .long, help: "Seconds to wait for a quorate ring.")
    var timeout: Int = 60

    func validate() throws {
        guard (1...9).contains(nodes) else { throw ValidationError("--nodes must be 1...9") }
        guard (1024...(65535 - 10_000 - nodes)).contains(basePort) else {
            throw ValidationError("--base-port must be 1024...\(65535 - 10_000 - nodes)")
        }
        guard (1...3600).contains(timeout) else { throw ValidationError("--timeout must be 1...3600") }
    }

    func run() async throws {
        let root = URL(fileURLWithPath: dir).standardizedFileURL.path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let configPath = root + "/cluster.conf"
        try Data(UpCluster.configuration(nodes: nodes, basePort: basePort, dataDirectory: root + "/data").utf8)
            .write(to: URL(fileURLWithPath: configPath), options: .atomic)
        let cluster = UpCluster(root: root, configPath: configPath, nodeCount: nodes)
        try cluster.startChildren()
        say("totemkv up: \(nodes) node(s), configuration \(configPath), logs \(root)/node-<id>.log")
        UpCluster.installSignalHandlers(cluster)
        guard cluster.waitForQuorum(seconds: timeout) else {
            say("totemkv up: the ring did not become quorate in \(timeout) s; see the logs in \(root)")
            cluster.stopChildren()
            throw ExitCode.failure
        }
        for id in 1...nodes {
            say("  node \(id): client port \(basePort + id - 1)   redis-cli -p \(basePort + id - 1)")
        }
        say("Try: redis-cli -p \(basePort) SET hello world   (Ctrl-C stops the cluster)")
        cluster.startStatusLines()
        // The root command is async, so its main already drains the main queue (which the
        // signal sources use); this task just never returns. The process ends by exit().
        await withUnsafeContinuation { (_: UnsafeContinuation<Void, Never>) in }
    }
}

/// The children and their status files, driven from the main queue.
final class UpCluster: @unchecked Sendable {
    let root: String
    let configPath: String
    let nodeCount: Int
    private var children: [Process] = []
    private var lastCommit: [Int: UInt64] = [:]
    private var lastTime = Date()
    private var timer: (any DispatchSourceTimer)?
    private var signalSources: [any DispatchSourceSignal] = []

    init(root: String, configPath: String, nodeCount: Int) {
        self.root = root
        self.configPath = configPath
        self.nodeCount = nodeCount
    }

    static func configuration(nodes: Int, basePort: Int, dataDirectory: String) -> String {
        var nodelist = ""
        for id in 1...nodes {
            nodelist += "\tnode {\n\t\tnodeid: \(id)\n\t\tname: n\(id)\n\t\tring0_addr: 127.0.0.\(id)\n\t}\n"
        }
        return """
            # Written by `totemkv up` (rewritten on every run; the data directory is kept).
            totem {
            \tversion: 2
            \tcluster_name: totemkv-up
            \ttransport: udpu
            \ttoken: 1000
            \t# Every node is on loopback (MTU 64 KiB): 65000-byte packets carry about 220
            \t# writes of 256 bytes where corosync's default of 1500 (Ethernet) carries 4,
            \t# so one datagram holds many clients' pipelined batches (a 16-write batch of
            \t# 256-byte values is 4.7 KB: 9000-byte packets carried only one).
            \tnetmtu: 65000
            \tinterface {
            \t\tringnumber: 0
            \t\tmcastport: \(basePort + 1000)
            \t}
            }

            nodelist {
            \(nodelist)}

            quorum {
            \tprovider: corosync_votequorum
            }

            logging {
            \tto_stderr: yes
            \ttimestamp: on
            \tdebug: off
            }

            store {
            \tdata_directory: \(dataDirectory)
            \tfsync: on
            }

            client {
            \tbind_address: 127.0.0.1
            \tport: \(basePort)
            }

            """
    }

    /// The running executable: /proc/self/exe on Linux, else argv[0].
    static func executablePath() -> String {
        if let resolved = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") { return resolved }
        return URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL.path
    }

    func startChildren() throws {
        let executable = Self.executablePath()
        for id in 1...nodeCount {
            let logPath = root + "/node-\(id).log"
            if !FileManager.default.fileExists(atPath: logPath) {
                _ = FileManager.default.createFile(atPath: logPath, contents: nil)
            }
            guard let log = FileHandle(forWritingAtPath: logPath) else {
                throw ValidationError("cannot write \(logPath)")
            }
            log.seekToEndOfFile()
            let process = Process()
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = ["node", "--config", configPath, "--nodeid", String(id)]
            process.standardOutput = log
            process.standardError = log
            try process.run()
            children.append(process)
        }
    }

    /// One node's `status.json`, if it was written by the running child.
    func status(of id: Int) -> [String: Any]? {
        let path = root + "/data/node-\(id)/status.json"
        guard let data = FileManager.default.contents(atPath: path),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let pid = object["pid"] as? Int, id - 1 < children.count,
              pid == Int(children[id - 1].processIdentifier) else { return nil }
        return object
    }

    func isQuorate() -> Bool {
        (1...nodeCount).allSatisfy { id in
            guard let s = status(of: id), s["quorate"] as? Bool == true,
                  (s["members"] as? [Int])?.count == nodeCount else { return false }
            return true
        }
    }

    /// Polls the status files every 200 ms for at most `seconds`.
    func waitForQuorum(seconds: Int) -> Bool {
        for _ in 0..<(seconds * 5) {
            if isQuorate() { return true }
            if let dead = children.first(where: { !$0.isRunning }) {
                say("totemkv up: a node exited with status \(dead.terminationStatus)")
                return false
            }
            Thread.sleep(forTimeInterval: 0.2)
        }
        return false
    }

    func startStatusLines() {
        let timer = DispatchSource.makeTimerSource(queue: .main)
        timer.schedule(deadline: .now() + 1, repeating: 1)
        timer.setEventHandler { self.printStatus() }
        timer.resume()
        self.timer = timer
    }

    private func printStatus() {
        let now = Date()
        let seconds = max(now.timeIntervalSince(lastTime), 0.001)
        lastTime = now
        var parts: [String] = []
        for id in 1...nodeCount {
            guard id - 1 < children.count, children[id - 1].isRunning else {
                parts.append("n\(id) EXITED")
                continue
            }
            guard let s = status(of: id) else {
                parts.append("n\(id) starting")
                continue
            }
            let commit = UInt64(s["commit_index"] as? Int ?? 0)
            let rate = lastCommit[id].map { Double(commit &- min($0, commit)) / seconds } ?? 0
            lastCommit[id] = commit
            let members = (s["members"] as? [Int] ?? []).map(String.init).joined(separator: ",")
            let faulty = (s["rings"] as? [[String: Any]] ?? []).filter { $0["faulty"] as? Bool == true }.count
            parts.append("n\(id) [\(members)] ring \(s["ring_rep"] ?? "?")/\(s["ring_seq"] ?? "?") "
                + "commit \(commit) \(Int(rate)) w/s\(s["quorate"] as? Bool == true ? "" : " NOQUORUM")"
                + (faulty > 0 ? " \(faulty) ring(s) FAULTY" : ""))
        }
        say(parts.joined(separator: " | "))
    }

    /// SIGTERM to every child, then SIGKILL to those still running after 10 s.
    func stopChildren() {
        for child in children where child.isRunning { child.terminate() }
        for _ in 0..<100 where children.contains(where: \.isRunning) { Thread.sleep(forTimeInterval: 0.1) }
        for child in children where child.isRunning { kill(child.processIdentifier, SIGKILL) }
    }

    static func installSignalHandlers(_ cluster: UpCluster) {
        for sig in [SIGINT, SIGTERM] {
            signal(sig, SIG_IGN)
            // Not the main queue: Ctrl-C must work while `run` waits for the ring.
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler {
                say("\ntotemkv up: stopping the nodes")
                cluster.stopChildren()
                Foundation.exit(0)
            }
            source.resume()
            cluster.signalSources.append(source)
        }
    }
}

/// Unbuffered: status lines must appear as they are printed, also when piped to a file.
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
