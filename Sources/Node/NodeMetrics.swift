import Basics
import CoreMetrics
import Prometheus
import Synchronization

/// One node's metrics: swift-metrics instruments (`Counter`, `Timer`, `Gauge`) created with a
/// per-node `PrometheusMetricsFactory`, read as Prometheus text by the `METRICS` command
/// (docs/node.md, "Metrics", lists every name).
///
/// Why a registry per node instead of `MetricsSystem.bootstrap`: the global factory can be
/// bootstrapped once per process, and tests (and `RuntimeTestCluster`) run several nodes in
/// one process; with one global registry their series would be summed together and a test
/// could not tell which node counted what. The `totemkv node` process runs one node, so its
/// registry is the process's.
///
/// Two kinds of instruments:
/// - recorded live: the commit and fsync latency histograms, stalls, snapshots;
/// - mirrored at scrape time: the counters the cores and the transport already keep (tokens,
///   retransmits, configuration changes, packets rejected by reason). `mirror` increments a
///   swift-metrics `Counter` by what the source counted since the previous scrape, so the
///   hot paths stay free of locks and the Prometheus counters stay monotonic.
///
/// Thread safety: instruments are thread-safe (the fsync timer is recorded on the log's
/// queue); the mirror table and the INFO totals are behind mutexes.
final class NodeMetrics: Sendable {
    let registry: PrometheusCollectorRegistry
    let factory: PrometheusMetricsFactory
    let commitLatency: CoreMetrics.Timer
    let fsyncLatency: CoreMetrics.Timer
    let snapshotDuration: CoreMetrics.Timer
    private let mirrored = Mutex<[String: (counter: CoreMetrics.Counter, value: UInt64)]>([:])
    private let gauges = Mutex<[String: CoreMetrics.Gauge]>([:])
    private let totals = Mutex<LatencyTotals>(LatencyTotals())

    static let commitLatencyName = "totemkv_commit_latency_seconds"
    static let fsyncLatencyName = "totemkv_fsync_latency_seconds"
    static let snapshotDurationName = "totemkv_snapshot_duration_seconds"

    /// Sub-millisecond resolution: one fdatasync on a fast disk takes about 0.2 ms, and the
    /// commit latency target at one client is under 1 ms.
    static let latencyBuckets: [Duration] = [
        .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2),
        .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
        .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(10),
    ]

    /// Counts and sums of the two latency histograms, for INFO (a histogram's buckets are
    /// not readable through swift-metrics).
    struct LatencyTotals: Sendable {
        var commits: UInt64 = 0
        var commitNanoseconds: UInt64 = 0
        var commitMaxNanoseconds: UInt64 = 0
        var fsyncs: UInt64 = 0
        var fsyncNanoseconds: UInt64 = 0
        var fsyncMaxNanoseconds: UInt64 = 0
    }

    init() {
        registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets = [
            Self.commitLatencyName: Self.latencyBuckets,
            Self.fsyncLatencyName: Self.latencyBuckets,
        ]
        self.factory = factory
        commitLatency = CoreMetrics.Timer(label: Self.commitLatencyName, factory: factory)
        fsyncLatency = CoreMetrics.Timer(label: Self.fsyncLatencyName, factory: factory)
        snapshotDuration = CoreMetrics.Timer(label: Self.snapshotDurationName, factory: factory)
    }

    /// A write's time from request to committed-and-applied reply.
    func recordCommit(nanoseconds: UInt64) {
        commitLatency.recordNanoseconds(Int64(clamping: nanoseconds))
        totals.withLock {
            $0.commits &+= 1
            $0.commitNanoseconds &+= nanoseconds
            $0.commitMaxNanoseconds = max($0.commitMaxNanoseconds, nanoseconds)
        }
    }

    /// One fdatasync of a log segment (called on the log's queue).
    func recordFsync(nanoseconds: UInt64) {
        fsyncLatency.recordNanoseconds(Int64(clamping: nanoseconds))
        totals.withLock {
            $0.fsyncs &+= 1
            $0.fsyncNanoseconds &+= nanoseconds
            $0.fsyncMaxNanoseconds = max($0.fsyncMaxNanoseconds, nanoseconds)
        }
    }

    var latencyTotals: LatencyTotals { totals.withLock { $0 } }

    /// Brings the Prometheus counter `name{labels}` up to `value`, a total some other part of
    /// the node keeps. A value below the last one (a counter the source reset, such as a
    /// transport rebuilt) only moves the baseline.
    func mirror(_ name: String, _ labels: [(String, String)] = [], value: UInt64) {
        let key = Self.seriesKey(name, labels)
        let factory = self.factory
        mirrored.withLock { table in
            if let entry = table[key] {
                if value > entry.value { entry.counter.increment(by: Int64(clamping: value - entry.value)) }
                table[key] = (entry.counter, value)
            } else {
                let counter = CoreMetrics.Counter(label: name, dimensions: labels, factory: factory)
                if value > 0 { counter.increment(by: Int64(clamping: value)) }
                table[key] = (counter, value)
            }
        }
    }

    /// Sets the gauge `name{labels}`.
    func gauge(_ name: String, _ value: Double, labels: [(String, String)] = []) {
        let key = Self.seriesKey(name, labels)
        let factory = self.factory
        let gauge = gauges.withLock { table in
            if let existing = table[key] { return existing }
            let made = CoreMetrics.Gauge(label: name, dimensions: labels, factory: factory)
            table[key] = made
            return made
        }
        gauge.record(value)
    }

    /// The Prometheus text exposition of every series.
    func prometheusText() -> String {
        String(decoding: registry.emitToBuffer(), as: UTF8.self)
    }

    private static func seriesKey(_ name: String, _ labels: [(String, String)]) -> String {
        labels.reduce(name) { $0 + "|" + $1.0 + "=" + $1.1 }
    }
}
