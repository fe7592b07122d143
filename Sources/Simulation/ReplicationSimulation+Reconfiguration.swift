import Basics
import Quorum
import Replication

/// What became of the reconfigurations a run sent.
public struct ReconfigurationCounts: Hashable, Sendable, CustomStringConvertible {
    public var sent = 0
    /// Committed and applied: the voters changed everywhere.
    public var applied = 0
    /// Refused by the checks, at the request or when applied.
    public var refused = 0
    /// No quorum, or the outcome is unknown.
    public var failed = 0

    public init() {}

    mutating func count(_ reply: ReplicatedNode.ClientReply) {
        switch reply {
        case .result: applied += 1
        case .rejected: refused += 1
        case .failure: failed += 1
        }
    }

    public var description: String { "sent \(sent) applied \(applied) refused \(refused) failed \(failed)" }
}

extension ReplicationSimulation.Driver {
    /// Reconfiguration tokens live far from the workload's and the probes'.
    static let reconfigurationTokenBase: UInt64 = 1 << 62

    /// A random setexpected or setvotes at a random up node, during the faults: the checks of
    /// `ReplicationChecks` then show whether two sides ever committed different entries.
    mutating func sendReconfiguration(_ cluster: inout ReplicationCluster) {
        guard random.next() % 12 == 0 else { return }
        let n = UInt64(cluster.nodeCount)
        let up = (0..<cluster.nodeCount).filter { cluster.isUp($0) && !cluster.isPaused($0) }
        guard !up.isEmpty else { return }
        let at = up[Int(random.next() % UInt64(up.count))]
        let change: Reconfiguration
        if random.next() % 2 == 0 {
            change = .expectedVotes(Votes(UInt32(1 + random.next() % (2 * n))))
        } else {
            change = .nodeVotes(NodeID(UInt32(1 + random.next() % n)), Votes(UInt32(random.next() % 3)))
        }
        reconfigurations.sent += 1
        let token = ClientToken(Self.reconfigurationTokenBase + UInt64(reconfigurations.sent))
        reconfigurationTokens.insert(token)
        cluster.note("reconfigure \(change) at n\(at + 1)")
        _ = cluster.request(token, .reconfigure(change), at: at)
    }
}
