import Foundation

/// The result of a run: what `totemkv bench` prints (as text, or as JSON with `--json`).
/// Built from the merged recorder by `init(plan:recorder:elapsedSeconds:killMillisecond:)`,
/// whose arithmetic the unit tests check.
struct BenchSummary: Codable, Equatable, Sendable {
    struct Latency: Codable, Equatable, Sendable {
        /// Successful requests whose latency was recorded.
        var count: UInt64
        var p50Microseconds: UInt64
        var p99Microseconds: UInt64
        var p999Microseconds: UInt64
        var maxMicroseconds: UInt64
        var meanMicroseconds: Double
    }

    struct ErrorCount: Codable, Equatable, Sendable {
        var kind: String
        var count: UInt64
    }

    struct KillReport: Codable, Equatable, Sendable {
        var pid: Int32
        var atMillisecond: Int
        /// The longest gap in acknowledged writes that ends after the kill (see
        /// `BenchAckTimeline.longestGap(endingAfter:)`); nil when no write was acknowledged
        /// after the kill (unavailable until the end of the run) or none before.
        var gap: BenchAckTimeline.Gap?
    }

    var operation: String
    var clients: Int
    var valueBytes: Int
    var keyspace: Int
    var ports: [Int]
    var elapsedSeconds: Double
    var acknowledgedWrites: UInt64
    var reads: UInt64
    var readMisses: UInt64
    var acknowledgedWritesPerSecond: Double
    var successfulRequestsPerSecond: Double
    var latency: Latency
    var errorTotal: UInt64
    /// Sorted by kind.
    var errors: [ErrorCount]
    /// The longest stretch without an acknowledged write, between the first and the last one.
    var longestAckGap: BenchAckTimeline.Gap?
    var kill: KillReport?
    /// True when the run ended at its time limit before finishing its requests.
    var reachedTimeLimit: Bool

    init(plan: BenchPlan, recorder: BenchRecorder, elapsedSeconds: Double, killMillisecond: Int?,
         reachedTimeLimit: Bool = false) {
        operation = plan.operation.rawValue
        clients = plan.clients
        valueBytes = plan.valueBytes
        keyspace = plan.keyspace
        ports = plan.ports
        self.elapsedSeconds = elapsedSeconds
        let counters = recorder.counters
        acknowledgedWrites = counters.acknowledgedWrites
        reads = counters.reads
        readMisses = counters.readMisses
        let seconds = max(elapsedSeconds, 1e-9)
        acknowledgedWritesPerSecond = Double(counters.acknowledgedWrites) / seconds
        successfulRequestsPerSecond = Double(counters.successes) / seconds
        let histogram = recorder.latency
        let recorded = histogram.totalCount
        latency = Latency(
            count: recorded,
            p50Microseconds: recorded == 0 ? 0 : histogram.valueAtPercentile(50),
            p99Microseconds: recorded == 0 ? 0 : histogram.valueAtPercentile(99),
            p999Microseconds: recorded == 0 ? 0 : histogram.valueAtPercentile(99.9),
            maxMicroseconds: recorded == 0 ? 0 : histogram.max,
            meanMicroseconds: recorded == 0 ? 0 : histogram.mean)
        errorTotal = counters.errors
        errors = recorder.errorsByKind.sorted { $0.key < $1.key }.map { ErrorCount(kind: $0.key.label, count: $0.value) }
        longestAckGap = recorder.timeline.longestGap()
        if let kill = plan.kill, let killMillisecond {
            self.kill = KillReport(pid: kill.pid, atMillisecond: killMillisecond,
                                   gap: recorder.timeline.longestGap(endingAfter: killMillisecond))
        }
        self.reachedTimeLimit = reachedTimeLimit
    }

    func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    func text() -> String {
        var lines: [String] = []
        lines.append("\(operation) \(clients) client(s), \(valueBytes)-byte values, keyspace \(keyspace), ports "
            + ports.map(String.init).joined(separator: ",") + String(format: ", %.2f s", elapsedSeconds)
            + (reachedTimeLimit ? " (stopped at the time limit)" : ""))
        lines.append(String(format: "acknowledged writes: %llu (%.0f/s)", acknowledgedWrites, acknowledgedWritesPerSecond))
        if reads > 0 { lines.append("reads: \(reads) (\(readMisses) missing keys)") }
        lines.append(String(format: "successful requests/s: %.0f", successfulRequestsPerSecond))
        lines.append("latency (\(latency.count) requests): p50 \(Self.format(latency.p50Microseconds))  "
            + "p99 \(Self.format(latency.p99Microseconds))  p99.9 \(Self.format(latency.p999Microseconds))  "
            + "max \(Self.format(latency.maxMicroseconds))")
        let kinds = errors.map { "\($0.kind) \($0.count)" }.joined(separator: ", ")
        lines.append("errors: \(errorTotal)" + (kinds.isEmpty ? "" : " (\(kinds))"))
        if let gap = longestAckGap {
            lines.append("longest gap between acknowledged writes: \(gap.milliseconds) ms (at \(Self.seconds(gap.from)) s)")
        }
        if let kill {
            if let gap = kill.gap {
                lines.append("kill -9 of pid \(kill.pid) at \(Self.seconds(kill.atMillisecond)) s: writes unavailable for "
                    + "\(gap.milliseconds) ms (no acknowledgement from \(Self.seconds(gap.from)) s to \(Self.seconds(gap.to)) s, "
                    + "\(gap.to - kill.atMillisecond) ms after the kill)")
            } else {
                lines.append("kill -9 of pid \(kill.pid) at \(Self.seconds(kill.atMillisecond)) s: no write acknowledged after it")
            }
        }
        return lines.joined(separator: "\n")
    }

    /// Microseconds as `850 µs` or `12.3 ms`.
    static func format(_ microseconds: UInt64) -> String {
        microseconds < 1000 ? "\(microseconds) µs" : String(format: "%.1f ms", Double(microseconds) / 1000)
    }

    static func seconds(_ milliseconds: Int) -> String { String(format: "%.3f", Double(milliseconds) / 1000) }
}
