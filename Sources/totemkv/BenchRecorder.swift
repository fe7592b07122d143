import Histogram

/// What one event loop's clients observed: the latency histogram of successful requests,
/// counters, errors by kind and the ack timeline. Owned by its loop; the runner merges the
/// loops' recorders with `merge` at the end and reads `counters` once a second for progress.
struct BenchRecorder: Sendable {
    /// The cumulative counts the progress line and the summary read.
    struct Counters: Equatable, Sendable {
        var acknowledgedWrites: UInt64 = 0
        var reads: UInt64 = 0
        var readMisses: UInt64 = 0
        var errors: UInt64 = 0
        var noQuorumErrors: UInt64 = 0
        var unknownErrors: UInt64 = 0
        var connectionErrors: UInt64 = 0
        var connectedClients: Int = 0

        static func + (a: Counters, b: Counters) -> Counters {
            Counters(
                acknowledgedWrites: a.acknowledgedWrites &+ b.acknowledgedWrites, reads: a.reads &+ b.reads,
                readMisses: a.readMisses &+ b.readMisses, errors: a.errors &+ b.errors,
                noQuorumErrors: a.noQuorumErrors &+ b.noQuorumErrors, unknownErrors: a.unknownErrors &+ b.unknownErrors,
                connectionErrors: a.connectionErrors &+ b.connectionErrors,
                connectedClients: a.connectedClients &+ b.connectedClients)
        }

        /// Successful requests: acknowledged writes and answered reads.
        var successes: UInt64 { acknowledgedWrites &+ reads }
    }

    /// Latencies are recorded in microseconds, up to a minute (a longer one is clamped: the
    /// request timeout is at most 10 minutes, and such an outlier is max-sized anyway).
    static let latencyMicrosecondsMax: UInt64 = 60_000_000

    private(set) var latency = Histogram<UInt64>(
        lowestDiscernibleValue: 1, highestTrackableValue: latencyMicrosecondsMax, numberOfSignificantValueDigits: .three)
    private(set) var counters = Counters()
    private(set) var errorsByKind: [BenchErrorKind: UInt64] = [:]
    private(set) var timeline: BenchAckTimeline
    /// Distinct server error codes kept apart; more are counted under `server("other")`.
    static let serverCodesMax = 16

    init(timelineMilliseconds: Int) {
        timeline = BenchAckTimeline(capacityMilliseconds: timelineMilliseconds)
    }

    /// A completed request: its outcome, its latency, and when it completed (ms since the
    /// run started, for the ack timeline).
    mutating func record(_ outcome: BenchOutcome, latencyMicroseconds: UInt64, atMillisecond ms: Int) {
        switch outcome {
        case .acknowledged:
            counters.acknowledgedWrites &+= 1
            timeline.mark(ms)
            _ = latency.record(min(max(latencyMicroseconds, 1), Self.latencyMicrosecondsMax))
        case .read(let hit):
            counters.reads &+= 1
            if !hit { counters.readMisses &+= 1 }
            _ = latency.record(min(max(latencyMicroseconds, 1), Self.latencyMicrosecondsMax))
        case .failed(let kind):
            recordError(kind)
        }
    }

    /// An error without a latency (a failed connect, a lost connection).
    mutating func recordError(_ kind: BenchErrorKind) {
        counters.errors &+= 1
        switch kind {
        case .noQuorum: counters.noQuorumErrors &+= 1
        case .unknown: counters.unknownErrors &+= 1
        default: if kind.isConnection { counters.connectionErrors &+= 1 }
        }
        var key = kind
        if case .server = kind, errorsByKind[kind] == nil,
           errorsByKind.keys.filter({ if case .server = $0 { true } else { false } }).count >= Self.serverCodesMax {
            key = .server("other")
        }
        errorsByKind[key, default: 0] &+= 1
    }

    mutating func clientConnected() { counters.connectedClients &+= 1 }
    mutating func clientDisconnected() { counters.connectedClients &-= 1 }

    /// Adds another loop's observations (the runner's final merge).
    mutating func merge(_ other: BenchRecorder) {
        latency.add(other.latency)
        counters = counters + other.counters
        for (kind, count) in other.errorsByKind { errorsByKind[kind, default: 0] &+= count }
        timeline.formUnion(other.timeline)
    }
}
