import Basics
import CMap
import Foundation
import NIOCore
import Replication
import Totem

/// A node that can expose Prometheus text (the `METRICS` command). `NodeRuntime` conforms;
/// a service that does not (the in-memory fake) gets `METRICS` built from its status
/// counters instead.
public protocol NodeMetricsSource: Sendable {
    /// Every metric in the Prometheus text exposition format (version 0.0.4), families in
    /// name order.
    func metricsText() async -> String
}

@available(macOS 15, *)
extension NodeRuntime: NodeMetricsSource {
    public func metricsText() async -> String {
        _ = try? await eventLoop.submit { self.refreshMetrics() }.get()
        return PrometheusText.canonical(metrics.prometheusText())
    }

    /// Bookkeeping for one step, before its actions are performed: the write latency clock
    /// and the snapshot policy. True when the policy says a snapshot is due.
    func observe(_ event: ReplicatedNode.Event, _ actions: [ReplicatedNode.Action], at: Instant) -> Bool {
        if case .requested(let token, .write, _) = event { ops.writeStarts[token] = at }
        var isSnapshotDue = false
        for action in actions {
            switch action {
            case .reply(let token, let reply):
                guard let start = ops.writeStarts.removeValue(forKey: token) else { continue }
                if case .result = reply {
                    metrics.recordCommit(nanoseconds: now().nanoseconds &- start.nanoseconds)
                }
            case .applied(let entry):
                if ops.snapshotPolicy.recordApplied(bytes: entry.op.count) { isSnapshotDue = true }
            case .installSnapshot(let index, _, _):
                ops.snapshotPolicy.snapshotTaken()
                ops.lastSnapshotUnixMilliseconds = Self.unixMilliseconds()
                ops.logFirstIndex = max(ops.logFirstIndex, index.next)
            default:
                continue
            }
        }
        return isSnapshotDue
    }

    /// Brings the mirrored counters and the gauges up to date (on the loop).
    func refreshMetrics() {
        let m = metrics
        let stats = core.totem.stats
        m.mirror("totemkv_token_rotations_total", value: stats.tokensReceived)
        m.mirror("totemkv_token_retransmits_total", value: stats.tokenRetransmits)
        m.mirror("totemkv_mcast_retransmits_total", value: stats.mcastsRetransmitted)
        m.mirror("totemkv_configuration_changes_total", value: stats.operationalEntered)
        m.mirror("totemkv_token_losses_total", value: stats.tokenLostOperational &+ stats.tokenLostGather
                    &+ stats.tokenLostCommit &+ stats.tokenLostRecovery)
        for (reason, count) in Self.totemRejections(stats) {
            m.mirror("totemkv_packets_rejected_total", [("layer", "totem"), ("reason", reason)], value: count)
        }
        for ring in transport?.counters() ?? [] {
            let number = String(ring.ringNumber)
            for (reason, count) in ring.allDrops where reason.isReceiveDrop {
                m.mirror("totemkv_packets_rejected_total",
                         [("layer", "transport"), ("ring", number), ("reason", Self.snakeCase("\(reason)"))], value: count)
            }
            for (reason, count) in ring.malformed.all {
                m.mirror("totemkv_packets_malformed_total", [("ring", number), ("reason", Self.snakeCase("\(reason)"))],
                         value: count)
            }
            m.mirror("totemkv_datagrams_received_total", [("ring", number)], value: ring.datagramsReceived)
            m.mirror("totemkv_datagrams_sent_total", [("ring", number)], value: ring.datagramsSent)
        }
        m.mirror("totemkv_packets_rejected_total", [("layer", "peer"), ("reason", "bad_frame")],
                 value: peers?.counters.rejected ?? 0)
        for kind in Stall.Kind.allCases {
            m.mirror("totemkv_stalls_total", [("kind", kind.rawValue)], value: ops.stalls.counts[kind] ?? 0)
        }
        m.mirror("totemkv_snapshots_taken_total", value: ops.snapshotsTaken)
        m.mirror("totemkv_snapshots_failed_total", value: ops.snapshotsFailed)
        m.mirror("totemkv_log_compactions_total", value: ops.compactions)

        let replica = core.replica
        m.gauge("totemkv_commit_index", Double(replica.commitIndex.rawValue))
        m.gauge("totemkv_applied_index", Double(replica.appliedIndex.rawValue))
        m.gauge("totemkv_log_first_index", Double(ops.logFirstIndex.rawValue))
        m.gauge("totemkv_log_last_index", Double(replica.lastIndex.rawValue))
        m.gauge("totemkv_log_entries", Double(logEntryCount))
        let files = logFiles()
        m.gauge("totemkv_log_bytes", Double(files.bytes))
        m.gauge("totemkv_log_segments", Double(files.segments))
        m.gauge("totemkv_snapshot_index", Double(snapshotIndex.rawValue))
        if let age = snapshotAgeSeconds { m.gauge("totemkv_snapshot_age_seconds", age) }
        m.gauge("totemkv_members", Double(replica.members.count))
        m.gauge("totemkv_quorate", replica.configuration.voters.isMajority(replica.members) && replica.members.contains(configuration.nodeID) ? 1 : 0)
        m.gauge("totemkv_loop_stall_longest_seconds", Double(ops.stalls.longestLoopStall.rawValue) / 1000)
        if let last = ops.stalls.lastStall {
            m.gauge("totemkv_last_stall_seconds", Double(last.duration.rawValue) / 1000)
        }
    }

    var logEntryCount: UInt64 {
        let last = core.replica.lastIndex
        return last >= ops.logFirstIndex ? last.rawValue - ops.logFirstIndex.rawValue + 1 : 0
    }

    var snapshotAgeSeconds: Double? {
        ops.lastSnapshotUnixMilliseconds.map { Double(Self.unixMilliseconds() &- min($0, Self.unixMilliseconds())) / 1000 }
    }

    /// The log's segment files: their total size on disk (with the active segment's
    /// preallocated zero tail) and count (a directory listing and a stat
    /// per segment; segments are few, 64 MiB each by default).
    func logFiles() -> (bytes: UInt64, segments: Int) {
        let directory = configuration.dataDirectory + "/log/log"
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return (0, 0) }
        var bytes: UInt64 = 0
        var segments = 0
        for name in names.sorted() where name.hasSuffix(".seg") {
            segments += 1
            let size = (try? FileManager.default.attributesOfItem(atPath: directory + "/" + name)[.size] as? NSNumber)?.uint64Value ?? 0
            bytes &+= size
        }
        return (bytes, segments)
    }

    /// Counters for `NodeStatus.counters` (INFO stats and persistence).
    func opsCounters() -> [(String, UInt64)] {
        let t = metrics.latencyTotals
        let files = logFiles()
        var counters: [(String, UInt64)] = [
            ("commit_latency_count", t.commits),
            ("commit_latency_avg_us", t.commits == 0 ? 0 : t.commitNanoseconds / t.commits / 1000),
            ("commit_latency_max_us", t.commitMaxNanoseconds / 1000),
            ("fsync_count", t.fsyncs),
            ("fsync_latency_avg_us", t.fsyncs == 0 ? 0 : t.fsyncNanoseconds / t.fsyncs / 1000),
            ("fsync_latency_max_us", t.fsyncMaxNanoseconds / 1000),
            ("log_bytes", files.bytes),
            ("log_entries", logEntryCount),
            ("log_segments", UInt64(files.segments)),
            ("log_compactions", ops.compactions),
            ("snapshots_taken", ops.snapshotsTaken),
            ("snapshots_failed", ops.snapshotsFailed),
            ("packets_rejected", packetsRejected),
        ]
        if let age = snapshotAgeSeconds { counters.append(("snapshot_age_seconds", UInt64(age))) }
        return counters + stallCounters()
    }

    /// Every received packet refused, by the transport (any reason) or by Totem.
    var packetsRejected: UInt64 {
        let transport = (self.transport?.counters() ?? []).reduce(UInt64(0)) { $0 &+ $1.receiveDropsTotal }
        return Self.totemRejections(core.totem.stats).reduce(transport) { $0 &+ $1.1 }
    }

    /// Totem's refusals of well-formed packets: stale or foreign tokens, duplicate mcasts
    /// (a replayed packet lands here), strangers.
    static func totemRejections(_ s: TotemStats) -> [(String, UInt64)] {
        [
            ("token_stale", s.tokensDroppedStale), ("token_foreign", s.tokensDroppedForeign),
            ("token_discarding", s.tokensDroppedDiscarding), ("mcast_duplicate", s.mcastsDroppedDuplicate),
            ("mcast_foreign", s.mcastsDroppedForeign), ("mcast_out_of_window", s.mcastsDroppedOutOfWindow),
            ("join_ignored", s.joinsIgnored), ("commit_token_ignored", s.commitTokensIgnored),
            ("from_stranger", s.packetsFromStrangers), ("malformed_frame", s.malformedFrames),
        ]
    }

    static func snakeCase(_ text: String) -> String {
        String(text.lowercased().map { $0.isLetter || $0.isNumber ? $0 : "_" })
    }
}

/// Puts the registry's exposition in a stable order: families by name, and the samples of a
/// counter or gauge family by labels (the registry keeps them in dictionaries, whose order
/// changes from process to process). A histogram's lines keep their order (le ascending).
enum PrometheusText {
    static func canonical(_ text: String) -> String {
        var families: [(header: [Substring], samples: [Substring], isSortable: Bool)] = []
        var pendingHeader: [Substring] = []
        for line in text.split(separator: "\n") {
            if line.hasPrefix("# HELP") {
                pendingHeader.append(line)
            } else if line.hasPrefix("# TYPE") {
                pendingHeader.append(line)
                let isSortable = line.hasSuffix(" counter") || line.hasSuffix(" gauge")
                families.append((pendingHeader, [], isSortable))
                pendingHeader = []
            } else if !families.isEmpty {
                families[families.count - 1].samples.append(line)
            }
        }
        families.sort { ($0.header.last ?? "") < ($1.header.last ?? "") }
        var out = ""
        for family in families {
            for line in family.header { out += line + "\n" }
            for line in family.isSortable ? family.samples.sorted() : family.samples { out += line + "\n" }
        }
        return out
    }
}
