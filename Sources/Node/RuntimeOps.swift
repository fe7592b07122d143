import Basics
import CMap
import NIOCore
import Replication
import TotemConfig

/// The runtime's operational state, beside the protocol cores: hang detection, the commit
/// latency clock, the node's own snapshot policy. Loop-confined, like every other field of
/// `NodeRuntime` (one stored property there, so that this concern lives in its own files:
/// NodeRuntime+Stall.swift, NodeRuntime+Metrics.swift, NodeRuntime+Compaction.swift).
struct RuntimeOps {
    var stalls: StallDetector
    /// Unix time (ms) of the last stall report, for status.
    var lastStallUnixMilliseconds: UInt64?
    var stallCheckTask: RepeatedTask?
    var watchdog: LoopWatchdog?
    /// Totem's token counter at the last step, and whether it was operational.
    var tokensSeen: UInt64 = 0
    var wasOperational = false

    /// When each waiting write was requested (removed at its reply). Bounded by the waiting
    /// requests, which the client server bounds.
    var writeStarts: [ClientToken: Instant] = [:]

    var snapshotPolicy: SnapshotPolicy
    /// A snapshot is being encoded, written or compacted below: at most one at a time.
    var isSnapshotInFlight = false
    /// Unix time (ms) of the newest snapshot this node holds (taken, installed or loaded).
    var lastSnapshotUnixMilliseconds: UInt64?
    var snapshotsTaken: UInt64 = 0
    var snapshotsFailed: UInt64 = 0
    var compactions: UInt64 = 0
    /// The first index the log holds (moves up with compaction).
    var logFirstIndex = LogIndex(1)

    init(configuration: NodeRuntimeConfiguration) {
        stalls = StallDetector(settings: StallDetector.Settings(
            tokenTimeout: Milliseconds(configuration.totem.token),
            warningPercent: configuration.totem.tokenWarning,
            isWatchdogOn: configuration.watchdog))
        snapshotPolicy = configuration.snapshotPolicy ?? SnapshotPolicy(everyEntries: 0, everyBytes: 0)
    }
}
