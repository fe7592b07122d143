import Basics
import Totem

/// Extended virtual synchrony (totem-notes 3.6):
/// - configuration changes come in pairs, transitional then regular, for the same ring;
///   between them only the old ring's messages; after a regular configuration only that
///   ring's messages;
/// - a node is a member of every configuration it installs; the transitional members are
///   members of both the old and the new regular configuration;
/// - every node that installs a regular configuration sees the same member list;
/// - nodes that install the same regular configuration and then the same transitional
///   configuration deliver the same messages, in the same order, in the old configuration.
public enum TotemEVSChecker {
    struct Epoch {
        var ring: RingID
        var members: [NodeID]
        var delivered: [UInt64] = []
        /// The transitional configuration that ended it (ring id and members), if any.
        var endedBy: ConfigurationChange?
        var endedAt: Instant?
    }

    public static func check(records: [NodeIncarnation: [TotemRecord]]) -> [Violation] {
        var violations: [Violation] = []
        var regularMembers: [RingID: ([NodeID], NodeIncarnation)] = [:]
        var epochs: [(NodeIncarnation, Epoch)] = []
        for node in records.keys.sorted() {
            guard let history = records[node] else { continue }
            var current: Epoch?
            var pendingTransitional: ConfigurationChange?
            func fail(_ rule: String, _ time: Instant, _ detail: String) {
                violations.append(Violation(rule: rule, node: node, time: time, detail: detail))
            }
            for record in history {
                switch record.entry {
                case .delivered(let ring, let seq, _, let id, _):
                    guard var epoch = current else {
                        fail("evs-pairs", record.time, "delivery (ring \(ring) seq \(seq)) before any configuration")
                        continue
                    }
                    if ring != epoch.ring {
                        fail("evs-pairs", record.time, "delivered ring \(ring) seq \(seq) in configuration \(epoch.ring)")
                    }
                    epoch.delivered.append(id)
                    current = epoch
                case .configuration(let change):
                    if !change.members.contains(node.node) {
                        fail("evs-membership", record.time, "not a member of its own configuration \(change)")
                    }
                    switch change.kind {
                    case .transitional:
                        if pendingTransitional != nil {
                            fail("evs-pairs", record.time, "two transitional configurations in a row")
                        }
                        if let epoch = current,
                           !change.members.allSatisfy({ epoch.members.contains($0) }) {
                            fail("evs-membership", record.time,
                                 "transitional members \(change.members) not all in old ring \(epoch.ring) \(epoch.members)")
                        }
                        pendingTransitional = change
                    case .regular:
                        guard let transitional = pendingTransitional, transitional.ringID == change.ringID else {
                            fail("evs-pairs", record.time, "regular configuration \(change.ringID) without its transitional one")
                            pendingTransitional = nil
                            continue
                        }
                        if !transitional.members.allSatisfy({ change.members.contains($0) }) {
                            fail("evs-membership", record.time, "transitional members not in the regular configuration")
                        }
                        pendingTransitional = nil
                        if let (members, by) = regularMembers[change.ringID] {
                            if members != change.members {
                                fail("evs-membership", record.time,
                                     "ring \(change.ringID) members \(change.members) but \(by) installed \(members)")
                            }
                        } else {
                            regularMembers[change.ringID] = (change.members, node)
                        }
                        if var epoch = current {
                            epoch.endedBy = transitional
                            epoch.endedAt = record.time
                            epochs.append((node, epoch))
                        }
                        current = Epoch(ring: change.ringID, members: change.members)
                    }
                }
            }
        }
        // Same transitional set, same messages.
        var groups: [String: (NodeIncarnation, [UInt64])] = [:]
        for (node, epoch) in epochs {
            guard let ended = epoch.endedBy else { continue }
            let key = "\(epoch.ring)->\(ended.ringID)/\(ended.members)"
            if let (other, delivered) = groups[key] {
                if delivered != epoch.delivered {
                    let firstDiff = Array(zip(delivered, epoch.delivered)).firstIndex { $0.0 != $0.1 }
                        ?? min(delivered.count, epoch.delivered.count)
                    violations.append(Violation(
                        rule: "evs-same-messages", node: node, time: epoch.endedAt,
                        detail: "in ring \(epoch.ring) moving to \(ended.ringID) with \(ended.members): "
                            + "\(epoch.delivered.count) messages vs \(delivered.count) at \(other), first difference at #\(firstDiff)"))
                }
            } else {
                groups[key] = (node, epoch.delivered)
            }
        }
        return violations
    }
}
