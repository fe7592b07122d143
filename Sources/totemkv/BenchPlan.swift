import Basics

/// What one `totemkv bench` run does, validated: the plain value the runner executes and the
/// summary describes. Built by `BenchCommand.plan()`; tests build it the same way.
struct BenchPlan: Equatable, Sendable {
    enum Operation: String, CaseIterable, Codable, Sendable {
        case set, get, mixed
    }

    /// When the run ends.
    enum Stop: Equatable, Sendable {
        /// After this many seconds of load.
        case duration(seconds: Double)
        /// When every client has completed its share of this many requests (see
        /// `requestBudget(ofClient:)`), or after `timeLimitSeconds`, whichever comes first.
        case requests(UInt64)
    }

    /// An optional `kill -9` during the run, for the unavailability measurement.
    struct Kill: Equatable, Sendable {
        var pid: Int32
        var afterSeconds: Double
    }

    var host: String
    /// The nodes clients start on: client i starts on `ports[i % ports.count]`.
    var ports: [Int]
    /// Nodes a client moves to, in order, when it loses its connection (after its other
    /// `ports`). Empty: a client retries only the `ports` list.
    var failoverPorts: [Int]
    var clients: Int
    var valueBytes: Int
    var keyspace: Int
    var keyPrefix: String
    var operation: Operation
    /// With `.mixed`: the percentage of requests that are GETs.
    var readPercent: Int
    var stop: Stop
    /// The hard bound on the run's length, whatever `stop` says.
    var timeLimitSeconds: Double
    /// A request without a reply after this long is counted as a timeout and its connection
    /// closed (the server answers -UNKNOWN well before this).
    var requestTimeoutMilliseconds: Int64
    /// How long a client waits after an error reply before its next request, so a node that
    /// refuses at once (-NOQUORUM) is not hammered in a tight loop.
    var errorBackoffMilliseconds: Int64
    /// How long a client waits before connecting again after a failed or lost connection.
    var reconnectDelayMilliseconds: Int64
    var password: String?
    var seed: UInt64
    var threads: Int
    var kill: Kill?

    /// The largest run the ack timeline covers (1 ms buckets).
    static let timeLimitSecondsMax: Double = 3600

    /// The ports client `index` tries, in order: its start port, then the other `ports`
    /// from there on, then the failover ports. Never empty (validation requires a port).
    func portOrder(ofClient index: Int) -> [Int] {
        let start = index % ports.count
        var order = Array(ports[start...]) + Array(ports[..<start])
        for port in failoverPorts where !order.contains(port) { order.append(port) }
        return order
    }

    /// How many requests client `index` makes with `.requests(n)`: n split evenly, the first
    /// `n % clients` clients taking one more. Nil with `.duration`.
    func requestBudget(ofClient index: Int) -> UInt64? {
        guard case .requests(let total) = stop else { return nil }
        let count = UInt64(clients)
        return total / count + (UInt64(index) < total % count ? 1 : 0)
    }

    /// The key of index `n` of the keyspace.
    func key(_ n: Int) -> String { keyPrefix + String(n) }
}

/// Parsing of the comma-separated `--ports` lists.
enum BenchPortList {
    static func parse(_ text: String) throws(BenchPlanError) -> [Int] {
        let parts = text.split(separator: ",", omittingEmptySubsequences: false)
        var ports: [Int] = []
        for part in parts {
            let trimmed = part.trimmingWhitespace()
            guard let port = Int(trimmed), (1...65535).contains(port) else {
                throw BenchPlanError("'\(trimmed)' is not a port (1...65535) in '\(text)'")
            }
            guard !ports.contains(port) else { throw BenchPlanError("port \(port) is listed twice in '\(text)'") }
            ports.append(port)
        }
        return ports
    }
}

struct BenchPlanError: Error, Equatable, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

extension Substring {
    func trimmingWhitespace() -> Substring {
        var text = self
        while let first = text.first, first.isWhitespace { text.removeFirst() }
        while let last = text.last, last.isWhitespace { text.removeLast() }
        return text
    }
}
