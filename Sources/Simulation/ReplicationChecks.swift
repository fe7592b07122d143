import Basics
import Replication

/// The checks after a full-node run (DESIGN.md section 8). Each is shown to fail on a
/// deliberately broken replica (`Replica.TestingCanary`) in the tests.
enum ReplicationChecks {
    /// Log matching: any two nodes' logs are equal up to the smaller of their commit indexes
    /// (over the indexes both still hold: snapshots compact the prefix away).
    static func logs(_ cluster: ReplicationCluster) -> [Violation] {
        var violations: [Violation] = []
        let up = (0..<cluster.nodeCount).filter { cluster.isUp($0) }
        let logs = up.map { cluster.logEntries($0) ?? [] }
        for (a, i) in up.enumerated() {
            for (b, j) in up.enumerated() where b > a {
                let limit = min(cluster.core(i)!.replica.commitIndex, cluster.core(j)!.replica.commitIndex)
                let low = max(cluster.logFirstIndex(i), cluster.logFirstIndex(j))
                let left = logs[a].filter { $0.index >= low && $0.index <= limit }
                let right = logs[b].filter { $0.index >= low && $0.index <= limit }
                if left != right {
                    let first = zip(left, right).first { $0 != $1 }.map { "first difference at \($0.0.index)" } ?? "lengths \(left.count) vs \(right.count)"
                    violations.append(Violation(rule: "log-matching", time: cluster.now,
                                                detail: "nodes \(i + 1) and \(j + 1) differ below commit \(limit): \(first)"))
                }
            }
        }
        return violations
    }

    /// Durability: every write acknowledged to a client is the entry applied at its index
    /// (every node applies the same entry there, checked as they apply), every node's commit
    /// index reached it after the liveness phase, and a node whose log still holds that index
    /// holds that entry.
    static func durability(_ cluster: ReplicationCluster,
                           acknowledged: [(clientID: UInt64, clientSeq: UInt64, index: LogIndex)]) -> [Violation] {
        var violations: [Violation] = []
        for ack in acknowledged {
            guard let entry = cluster.appliedAnywhere[ack.index], entry.clientID == ack.clientID,
                  entry.clientSeq == ack.clientSeq else {
                violations.append(Violation(rule: "durability", time: cluster.now,
                                            detail: "the write of client \(ack.clientID) seq \(ack.clientSeq) acknowledged at index \(ack.index) is not what was applied there"))
                break
            }
        }
        for i in 0..<cluster.nodeCount {
            guard let core = cluster.core(i), let log = cluster.logEntries(i) else {
                violations.append(Violation(rule: "durability", time: cluster.now, detail: "node \(i + 1) is down at the end"))
                continue
            }
            let byIndex = Dictionary(log.map { ($0.index, $0) }, uniquingKeysWith: { a, _ in a })
            for ack in acknowledged {
                guard core.replica.commitIndex >= ack.index else {
                    violations.append(Violation(rule: "durability", time: cluster.now,
                                                detail: "node \(i + 1) commit \(core.replica.commitIndex) below acknowledged write at \(ack.index)"))
                    break
                }
                if let entry = byIndex[ack.index], entry.clientID != ack.clientID || entry.clientSeq != ack.clientSeq {
                    violations.append(Violation(rule: "durability", time: cluster.now,
                                                detail: "node \(i + 1) lost the write of client \(ack.clientID) seq \(ack.clientSeq) acknowledged at index \(ack.index)"))
                    break
                }
            }
        }
        return violations
    }

    /// State: nodes that applied the same index have the same state hash there.
    static func states(_ cluster: ReplicationCluster) -> [Violation] {
        var violations: [Violation] = []
        let up = (0..<cluster.nodeCount).filter { cluster.isUp($0) }
        for (a, i) in up.enumerated() {
            let mine = cluster.stateHashes(i)
            for j in up[(a + 1)...] {
                let theirs = cluster.stateHashes(j)
                for (index, hash) in mine.sorted {
                    if let other = theirs[index], other != hash {
                        violations.append(Violation(rule: "state", time: cluster.now,
                                                    detail: "nodes \(i + 1) and \(j + 1) differ at applied index \(index)"))
                        break
                    }
                }
            }
        }
        return violations
    }
}
