import ArgumentParser
import Foundation

/// `totemkv bench`: a closed-loop load generator over RESP. Each client is one connection
/// with one request in flight: it sends, waits for the reply, records the latency, sends the
/// next. See docs/bench.md.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Load a cluster with closed-loop clients and report throughput, latency and errors.",
        discussion: """
            Each client keeps one request in flight on its own connection; clients are spread over \
            --ports (client i starts on port i mod N). A client that loses its connection moves to \
            the next port of --ports, then of --failover-ports. Latency is recorded per request \
            (successful replies) in one HdrHistogram per run. A progress line is printed every \
            second; the summary gives acknowledged writes/s, p50/p99/p99.9/max latency, errors by \
            kind (NOQUORUM, UNKNOWN, other server errors, connection, timeout) and the longest gap \
            between acknowledged writes.

            Unavailability: --kill-pid P --kill-after S sends SIGKILL to process P S seconds into \
            the run, and the summary gives the gap in acknowledged writes around that moment.

            Examples:
              totemkv bench                       (16 clients, 10 s of SET, on `totemkv up`)
              totemkv bench -c 64 --duration 30 --json
              totemkv bench --ports 7379 --failover-ports 7380,7381 \\
                  --kill-pid 4242 --kill-after 5
            """
    )

    @Option(name: [.customShort("h"), .long], help: "The nodes' client address.")
    var host = "127.0.0.1"

    @Option(name: .long, help: "Comma-separated client ports the clients start on (default: the 3 nodes of `totemkv up`).")
    var ports = "7379,7380,7381"

    @Option(name: .customLong("failover-ports"), help: "Comma-separated ports a client moves to after losing its connection, after the other --ports.")
    var failoverPorts = ""

    @Option(name: .shortAndLong, help: "Concurrent clients (connections), each with one request in flight (1...4096).")
    var clients = 16

    @Option(name: [.customShort("d"), .customLong("value-size")], help: "Bytes per SET value (1...1048576), as redis-benchmark's -d.")
    var valueSize = 256

    @Option(name: .long, help: "Seconds of load (default 10 unless --requests is given).")
    var duration: Double?

    @Option(name: [.customShort("n"), .long], help: "Total requests, split evenly over the clients (instead of --duration).")
    var requests: UInt64?

    @Option(name: .long, help: "What the clients send: set, get, or mixed.")
    var op: BenchPlan.Operation = .set

    @Option(name: .customLong("read-percent"), help: "With --op mixed: the percentage of GETs (0...100).")
    var readPercent = 50

    @Option(name: .long, help: "Keys are <key-prefix><n>, n uniformly drawn from 0..<keyspace.")
    var keyspace = 100_000

    @Option(name: .customLong("key-prefix"), help: "The prefix of every key.")
    var keyPrefix = "bench:"

    @Option(name: .customLong("time-limit"), help: "Seconds after which the run ends whatever else is asked (1...3600).")
    var timeLimit: Double = 600

    @Option(name: .customLong("request-timeout"), help: "Milliseconds without a reply after which a request is a timeout and its connection is closed.")
    var requestTimeout: Int64 = 10_000

    @Option(name: .customLong("error-backoff"), help: "Milliseconds a client waits after an error reply before its next request.")
    var errorBackoff: Int64 = 10

    @Option(name: .customLong("reconnect-delay"), help: "Milliseconds a client waits before connecting again.")
    var reconnectDelay: Int64 = 20

    @Option(name: [.customShort("a"), .long], help: "The cluster's client password (sent with AUTH).")
    var password: String?

    @Option(name: .long, help: "Seed of the key and operation choices.")
    var seed: UInt64 = 1

    @Option(name: .long, help: "Event loop threads of the load generator (1...64).")
    var threads = 1

    @Option(name: .customLong("kill-pid"), help: "A process to SIGKILL during the run (a node, for the unavailability measurement).")
    var killPID: Int32?

    @Option(name: .customLong("kill-after"), help: "Seconds into the run at which --kill-pid is killed.")
    var killAfter: Double?

    @Flag(name: .long, help: "Print the summary as one JSON object on stdout (progress lines go to stderr).")
    var json = false

    @Flag(name: .long, help: "No progress lines.")
    var quiet = false

    func validate() throws {
        do {
            _ = try plan()
        } catch {
            throw ValidationError(error.description)
        }
    }

    /// The validated run; every bound the options must respect is checked here.
    func plan() throws(BenchPlanError) -> BenchPlan {
        let startPorts = try BenchPortList.parse(ports)
        let failover = failoverPorts.isEmpty ? [] : try BenchPortList.parse(failoverPorts)
        guard (1...4096).contains(clients) else { throw BenchPlanError("--clients must be 1...4096") }
        guard (1...1_048_576).contains(valueSize) else { throw BenchPlanError("--value-size must be 1...1048576") }
        guard (1...100_000_000).contains(keyspace) else { throw BenchPlanError("--keyspace must be 1...100000000") }
        guard (0...100).contains(readPercent) else { throw BenchPlanError("--read-percent must be 0...100") }
        guard (1...BenchPlan.timeLimitSecondsMax).contains(timeLimit) else {
            throw BenchPlanError("--time-limit must be 1...\(Int(BenchPlan.timeLimitSecondsMax)) seconds")
        }
        guard (1...600_000).contains(requestTimeout) else { throw BenchPlanError("--request-timeout must be 1...600000 ms") }
        guard (0...60_000).contains(errorBackoff) else { throw BenchPlanError("--error-backoff must be 0...60000 ms") }
        guard (0...60_000).contains(reconnectDelay) else { throw BenchPlanError("--reconnect-delay must be 0...60000 ms") }
        guard (1...64).contains(threads) else { throw BenchPlanError("--threads must be 1...64") }
        guard !keyPrefix.isEmpty, keyPrefix.utf8.count <= 200,
              keyPrefix.utf8.allSatisfy(BenchPlan.isKeyByte) else {
            throw BenchPlanError("--key-prefix must be 1 to 200 bytes of A-Z a-z 0-9 _ . / : -")
        }
        let stop: BenchPlan.Stop
        switch (duration, requests) {
        case (.some, .some):
            throw BenchPlanError("give --duration or --requests, not both")
        case (.some(let seconds), nil):
            guard seconds > 0, seconds <= timeLimit else { throw BenchPlanError("--duration must be above 0 and at most --time-limit (\(timeLimit) s)") }
            stop = .duration(seconds: seconds)
        case (nil, .some(let count)):
            guard count >= 1 else { throw BenchPlanError("--requests must be at least 1") }
            stop = .requests(count)
        case (nil, nil):
            stop = .duration(seconds: min(10, timeLimit))
        }
        var kill: BenchPlan.Kill?
        switch (killPID, killAfter) {
        case (.some(let pid), .some(let after)):
            guard pid > 1 else { throw BenchPlanError("--kill-pid must be a process id above 1") }
            guard after >= 0, after < timeLimit else { throw BenchPlanError("--kill-after must be 0 or more and below --time-limit") }
            if case .duration(let seconds) = stop, after >= seconds {
                throw BenchPlanError("--kill-after must be below --duration (\(seconds) s)")
            }
            kill = BenchPlan.Kill(pid: pid, afterSeconds: after)
        case (nil, nil):
            kill = nil
        default:
            throw BenchPlanError("--kill-pid and --kill-after go together")
        }
        return BenchPlan(
            host: host, ports: startPorts, failoverPorts: failover, clients: clients, valueBytes: valueSize,
            keyspace: keyspace, keyPrefix: keyPrefix, operation: op,
            readPercent: op == .mixed ? readPercent : (op == .get ? 100 : 0),
            stop: stop, timeLimitSeconds: timeLimit, requestTimeoutMilliseconds: requestTimeout,
            errorBackoffMilliseconds: errorBackoff, reconnectDelayMilliseconds: reconnectDelay,
            password: password, seed: seed, threads: threads, kill: kill)
    }

    func run() async throws {
        let plan = try plan()
        let progress: (@Sendable (String) -> Void)?
        if quiet {
            progress = nil
        } else if json {
            progress = { @Sendable line in sayError(line) }
        } else {
            progress = { @Sendable line in say(line) }
        }
        let summary = try await BenchRunner(plan: plan).run(progress: progress)
        if json {
            say(try summary.json())
        } else {
            say(summary.text())
        }
    }
}

extension BenchPlan.Operation: ExpressibleByArgument {}

extension BenchPlan {
    /// The key bytes the server accepts (docs/commands.md): A-Z a-z 0-9 _ . / : -
    static func isKeyByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "."),
             UInt8(ascii: "/"), UInt8(ascii: ":"), UInt8(ascii: "-"):
            true
        default:
            false
        }
    }
}

/// Unbuffered, to standard error: progress lines when stdout carries JSON.
func sayError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}
