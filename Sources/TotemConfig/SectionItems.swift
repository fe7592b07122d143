/// The items of one section, checked against the keys TotemKV reads and the keys corosync
/// knows but TotemKV does not implement:
///
/// - a key TotemKV reads is returned by `subscript`; when repeated, the last one wins, as in
///   corosync, and a warning names both lines;
/// - a key only corosync knows is accepted with a warning saying it is ignored;
/// - any other key is an error, with a suggestion when it looks like a misspelt known key
///   (a typo in `consensus` must not silently fall back to the default).
struct SectionItems {
    private var byKey: [String: ConfigItem] = [:]

    init(_ section: ConfigSection, path: String, implemented: [String],
         corosyncOnly: [String: String], warnings: inout [ConfigWarning]) throws(ConfigError) {
        for item in section.items {
            if implemented.contains(item.key) {
                if let earlier = byKey[item.key] {
                    warnings.append(ConfigWarning(
                        "\(path).\(item.key) is set again (first at line \(earlier.keyLocation.line)); the last value, \"\(item.value)\", wins",
                        at: item.keyLocation))
                }
                byKey[item.key] = item
            } else if let note = corosyncOnly[item.key] {
                warnings.append(ConfigWarning(
                    "\(path).\(item.key) is a corosync option TotemKV does not implement; ignored\(note.isEmpty ? "" : " (\(note))")",
                    at: item.keyLocation))
            } else {
                let candidates = implemented + corosyncOnly.keys.sorted()
                throw ConfigError(
                    "unknown key \"\(item.key)\" in section \(path)\(Suggestion.didYouMean(item.key, among: candidates)); expected one of \(implemented.joined(separator: ", "))",
                    at: item.keyLocation)
            }
        }
    }

    subscript(key: String) -> ConfigItem? { byKey[key] }
}

enum Suggestion {
    /// `; did you mean "token"?` when one candidate is within two edits, else "".
    /// Ties go to the alphabetically first candidate, so the message is deterministic.
    static func didYouMean(_ word: String, among candidates: [String]) -> String {
        let w = Array(word.utf8.prefix(64))
        var best: (distance: Int, name: String)?
        for candidate in candidates.sorted() {
            let d = distance(w, Array(candidate.utf8))
            if d <= 2, d < (best?.distance ?? Int.max) { best = (d, candidate) }
        }
        return best.map { "; did you mean \"\($0.name)\"?" } ?? ""
    }

    /// Levenshtein distance, two rows.
    static func distance(_ a: [UInt8], _ b: [UInt8]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                let substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)
                current[j] = min(previous[j] + 1, current[j - 1] + 1, substitution)
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}

/// Sections and keys that corosync 2.x or 3.x reads but TotemKV does not, with a short note.
/// They parse with a warning so that a corosync configuration can be tried as it is.
enum CorosyncKeys {
    static let topLevelSections: [String: String] = [
        "system": "", "qb": "", "resources": "", "uidgid": "", "nozzle": "",
        "amf": "corosync 1.x", "aisexec": "corosync 1.x", "service": "corosync 1.x plugins",
        "event": "corosync 1.x",
    ]

    static let totem: [String: String] = [
        "threads": "corosync 1.x/2.x encryption threads",
        "vsftype": "corosync 1.x",
        "nodeid": "use nodelist.node.nodeid",
        "ip_version": "addresses are used as written",
        "block_unlisted_ips": "", "config_version": "",
        "link_mode": "corosync 3.x knet", "knet_pmtud_interval": "corosync 3.x knet",
        "knet_mtu": "corosync 3.x knet", "knet_compression_model": "corosync 3.x knet",
        "knet_compression_threshold": "corosync 3.x knet",
        "knet_compression_level": "corosync 3.x knet", "key": "use keyfile",
        "crypto_type": "corosync 1.x, use crypto_cipher", "crypto_compat": "corosync 1.x",
        "crypto_accept": "corosync 1.x", "rrp_problem_count_mcast_threshold_min": "",
    ]

    static let interface: [String: String] = [
        "broadcast": "TotemKV sends to each member (udpu) or to mcastaddr (udp)",
        "knet_link_priority": "corosync 3.x knet", "knet_ping_interval": "corosync 3.x knet",
        "knet_ping_timeout": "corosync 3.x knet", "knet_ping_precision": "corosync 3.x knet",
        "knet_pong_count": "corosync 3.x knet", "knet_transport": "corosync 3.x knet",
    ]

    static let logging: [String: String] = [
        "to_syslog": "", "syslog_facility": "", "syslog_priority": "", "fileline": "",
        "function_name": "", "blackbox": "", "tags": "", "subsys": "",
    ]

    static let quorum: [String: String] = [
        "votes": "deprecated; use nodelist.node.quorum_votes",
        "expected_votes_tracking": "", "quorumdev_poll": "corosync 1.x",
        "leaving_timeout": "", "wait_for_all_status": "",
    ]
}
