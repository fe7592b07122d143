import Basics
import Replication

/// The checks of a process-group run (DESIGN.md section 7, issue 9):
/// - order: any two members of a group see the messages and the join/leave events they both
///   received in the same relative order, and nothing twice (virtual synchrony's total order);
/// - agreement: once the faults stop and the ring has formed, every node has the same view
///   of every group, and it is exactly the members that joined and are still there;
/// - delivery: in the final round every live member receives every live member's message,
///   its own included.
/// Events a node derives on its own (node down, node up, and process down learned from an
/// announcement) are not in the order check: a node's neighbours in another partition
/// learn them at other points, by design (corosync's CPG does the same).
public enum ProcessGroupChecks {
    /// One item of a member's sequence that every member receiving it gets from the same
    /// Totem message: a message (by its payload) or a join/leave event (by its member).
    static func orderKey(_ notification: ProcessGroupNotification) -> [String] {
        switch notification {
        case .message(let from, let payload):
            return ["m\(from)/\(payload)"]
        case .membership(let change):
            return change.joined.filter { $0.reason == .join }.map { "j\($0.member)" }
                + change.left.filter { $0.reason == .leave }.map { "l\($0.member)" }
        }
    }

    public static func order(_ record: ProcessGroupRecord) -> [String] {
        var problems: [String] = []
        var byGroup: [ProcessGroupName: [(ProcessGroupMember, [String])]] = [:]
        for key in record.deliveries.keys.sorted() {
            let keys = (record.deliveries[key] ?? []).flatMap(orderKey)
            var seen = Set<String>()
            for k in keys where !seen.insert(k).inserted {
                problems.append("member \(key.member) of \(key.group) received \(k) twice")
            }
            byGroup[key.group, default: []].append((key.member, keys))
        }
        for group in byGroup.keys.sorted() {
            let sequences = byGroup[group] ?? []
            for i in sequences.indices {
                var position: [String: Int] = [:]
                for (p, k) in sequences[i].1.enumerated() { position[k] = p }
                for j in sequences.indices where j > i {
                    var last = -1
                    var lastKey = ""
                    for k in sequences[j].1 {
                        guard let p = position[k] else { continue }
                        if p < last {
                            problems.append("group \(group): \(sequences[i].0) got \(k) before \(lastKey), \(sequences[j].0) after")
                            break
                        }
                        last = p
                        lastKey = k
                    }
                }
            }
        }
        return problems
    }

    /// Every up node's views against the expected members of each group.
    public static func agreement(_ cluster: ReplicationCluster, expected: [ProcessGroupName: Set<ProcessGroupMember>]) -> [String] {
        var problems: [String] = []
        for i in 0..<cluster.nodeCount {
            guard let core = cluster.core(i) else { continue }
            let groups = Set(core.processGroups.views.keys).union(expected.keys).sorted()
            for group in groups {
                let view = core.processGroups.members(of: group)
                if Set(view) != expected[group] ?? [] || view.count != Set(view).count {
                    problems.append("node \(i + 1) sees \(group) as \(view), expected \((expected[group] ?? []).sorted())")
                }
            }
        }
        return problems
    }

    /// Every member in `members` received every message in `sent` (sender, payload) of its group.
    public static func delivery(_ record: ProcessGroupRecord, members: [ProcessGroupRecord.Key],
                                sent: [(ProcessGroupRecord.Key, [UInt8])]) -> [String] {
        var problems: [String] = []
        for receiver in members {
            let got = Set((record.deliveries[receiver] ?? []).flatMap(orderKey))
            for (sender, payload) in sent where sender.group == receiver.group {
                let k = "m\(sender.member)/\(payload)"
                if !got.contains(k) { problems.append("\(receiver.member) in \(receiver.group) missed \(k)") }
            }
        }
        return problems
    }
}
