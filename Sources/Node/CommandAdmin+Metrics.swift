import Foundation

/// METRICS (Prometheus text) and the INFO fields about persistence and stalls.
extension CommandDispatcher {
    /// The node's registry when the service has one; otherwise its status counters as
    /// untyped samples (the in-memory fake), so METRICS always answers Prometheus text.
    static func metricsText(_ service: any NodeService) async -> String {
        if let source = service as? any NodeMetricsSource { return await source.metricsText() }
        var text = ""
        for (name, value) in await service.status().counters {
            let metric = "totemkv_" + String(name.map { $0.isLetter || $0.isNumber ? $0 : "_" })
            text += "# TYPE \(metric) untyped\n\(metric) \(value)\n"
        }
        return text
    }

    /// INFO persistence: log size, snapshot age, fsync latency (from the status counters).
    static func persistenceFields(_ s: NodeStatus) -> [(String, String)] {
        let names = ["log_bytes", "log_entries", "log_segments", "log_compactions", "snapshots_taken",
                     "snapshot_age_seconds", "fsync_count", "fsync_latency_avg_us", "fsync_latency_max_us"]
        return names.compactMap { name in s.counters.first { $0.0 == name }.map { (name, "\($0.1)") } }
    }

    /// INFO stalls: the last stall (what, how long, when, doing what) and the counts.
    static func stallFields(_ s: NodeStatus) -> [(String, String)] {
        var fields: [(String, String)] = []
        if let last = s.lastStall {
            let at = Date(timeIntervalSince1970: Double(last.unixMilliseconds) / 1000)
            fields += [
                ("last_stall_kind", last.stall.kind.rawValue),
                ("last_stall_ms", "\(last.stall.duration.rawValue)"),
                ("last_stall_running", "\(last.stall.running)"),
                ("last_stall_at", at.formatted(.iso8601)),
                ("last_stall_ago_ms", "\(last.agoMilliseconds)"),
            ]
        } else {
            fields.append(("last_stall_kind", "none"))
        }
        fields += s.counters.filter { $0.0.hasPrefix("stalls_") || $0.0 == "loop_stall_longest_ms" }.map { ($0.0, "\($0.1)") }
        return fields
    }
}
