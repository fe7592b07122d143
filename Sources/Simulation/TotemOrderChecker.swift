import Basics
import Totem

/// Agreement and total order within each ring (issue 3, "checks after every run"):
/// - no two nodes deliver different payloads at the same position (ring, seq, rank in seq);
/// - a node delivers a ring's messages in increasing position and never returns to a ring
///   it has left;
/// - no node delivers a payload twice, and every payload arrives intact;
/// - a node that never crashed delivers every payload it submitted (unless refused, or a
///   fragmented payload cut by a configuration change).
public enum TotemOrderChecker {
    struct Position: Hashable, Comparable {
        var ring: RingID
        var seq: UInt64
        var rank: Int
        static func < (a: Position, b: Position) -> Bool { (a.seq, a.rank) < (b.seq, b.rank) }
    }

    public static func check(records: [NodeIncarnation: [TotemRecord]], submissions: [Submission],
                             survivors: Set<NodeIncarnation>) -> [Violation] {
        var violations: [Violation] = []
        var owner: [Position: (UInt64, NodeIncarnation)] = [:]
        for node in records.keys.sorted() {
            guard let history = records[node] else { continue }
            var seen = Set<UInt64>()
            var previous: Position?
            var finishedRings = Set<RingID>()
            for record in history {
                guard case .delivered(let ring, let seq, _, let id, let intact) = record.entry else { continue }
                if !intact {
                    violations.append(Violation(rule: "integrity", node: node, time: record.time,
                                                detail: "payload \(id) delivered corrupted (ring \(ring) seq \(seq))"))
                }
                if !seen.insert(id).inserted {
                    violations.append(Violation(rule: "no-duplicates", node: node, time: record.time,
                                                detail: "payload \(id) delivered twice (ring \(ring) seq \(seq))"))
                }
                var rank = 0
                if let p = previous, p.ring == ring, p.seq == seq { rank = p.rank + 1 }
                let position = Position(ring: ring, seq: seq, rank: rank)
                if let p = previous {
                    if p.ring == ring && !(p < position) {
                        violations.append(Violation(rule: "total-order", node: node, time: record.time,
                                                    detail: "ring \(ring): seq \(seq) delivered after seq \(p.seq)"))
                    }
                    if p.ring != ring {
                        finishedRings.insert(p.ring)
                        if finishedRings.contains(ring) {
                            violations.append(Violation(rule: "total-order", node: node, time: record.time,
                                                        detail: "delivers ring \(ring) again after leaving it"))
                        }
                    }
                }
                previous = position
                if let (other, by) = owner[position] {
                    if other != id {
                        violations.append(Violation(rule: "agreement", node: node, time: record.time,
                            detail: "ring \(ring) seq \(seq)#\(rank): payload \(id) but \(by) delivered \(other)"))
                    }
                } else {
                    owner[position] = (id, node)
                }
            }
        }
        // Own payloads.
        for submission in submissions where !submission.wasRefused && !submission.isFragmented
            && survivors.contains(submission.by) {
            let delivered = records[submission.by]?.contains {
                if case .delivered(_, _, _, submission.id, _) = $0.entry { true } else { false }
            } ?? false
            if !delivered {
                violations.append(Violation(rule: "self-delivery", node: submission.by, time: submission.time,
                                            detail: "own payload \(submission.id) never delivered to its originator"))
            }
        }
        return violations
    }
}
