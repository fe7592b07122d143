import Basics
import Quorum

/// Changing the commit voters (DESIGN.md section 4 rule 8) by committed reconfiguration
/// entries.
///
/// The voters in force for an index are those set by the reconfigurations *before* it in the
/// log: the same on every node holding the same log, whatever it has applied. Three rules
/// make that so, with the change rule of `VoterConfiguration+Change.swift` (old and new
/// majorities always intersect):
///
/// 1. A reconfiguration takes effect when it is applied, in log order, on every node alike;
///    it is checked again there against the configuration in force at that point, so a
///    refused one changes nothing anywhere.
/// 2. The commit index never passes an unapplied reconfiguration under the old voters: it
///    stops at the reconfiguration (which the old voters commit), the reconfiguration is
///    applied, and the commit index is recomputed with the new voters. Without this, a node
///    still using old voters could count an entry after the change as committed by a
///    majority the new voters do not recognise.
/// 3. A configuration is treated as quorate (sync, read barriers) only if its members hold a
///    majority under the applied voters *and* under every configuration the log above them
///    would set. A node that lags behind reconfigurations it holds but has not applied can
///    then not help a set of nodes that the newer voters do not recognise to sync.
extension Replica {
    /// The voter configuration in force at the applied index.
    public var voterConfiguration: VoterConfiguration? { configuration.voters.voterConfiguration }

    /// Whether a reconfiguration is in the log above the applied index (one not yet applied
    /// here: proposing another before it is applied would chain two changes).
    public var hasPendingReconfiguration: Bool {
        tail.contains { ReconfigurationEntry.isReconfiguration($0.op) }
    }

    /// The highest index up to which the current voters may declare entries committed: the
    /// first unapplied reconfiguration below `index`, else `index`; never past this node's
    /// own log. The others' acknowledgements can run ahead of a member that is behind in
    /// delivery, and an entry it has not received may be a reconfiguration: counting past
    /// it with the old voters could commit what the new voters have not (found in review;
    /// `ReconfigurationTests.aLaggingMemberDoesNotCommitPastEntriesItHasNotReceived`). The
    /// next durable append or acknowledgement recomputes the commit, so this only waits.
    func reconfigurationCommitCap(upTo index: LogIndex) -> LogIndex {
        let index = min(index, lastIndex)
        guard index > appliedIndex.next, !tail.isEmpty else { return index }
        let scanned = index.rawValue - appliedIndex.rawValue
        for offset in 0..<Int(scanned) where ReconfigurationEntry.isReconfiguration(tail[offset].op) {
            return min(index, tail[offset].index)
        }
        return index
    }

    /// Rule 3 above: a majority under the applied voters and under each configuration the
    /// unapplied reconfigurations of the log would set, in order.
    func isMajorityInEveryKnownConfiguration(_ nodes: [NodeID]) -> Bool {
        guard configuration.voters.isMajority(nodes) else { return false }
        guard var config = voterConfiguration else { return true }
        for entry in tail where ReconfigurationEntry.isReconfiguration(entry.op) {
            guard let change = try? ReconfigurationEntry.decode(entry.op),
                  case .success(let next) = ReconfigurationEntry.applying(change, to: config) else { continue }
            config = next
            if !config.isMajority(of: nodes) { return false }
        }
        return true
    }

    /// A reconfiguration entry was just applied: the voters change if the change passes the
    /// checks against the configuration in force; then commit is recomputed with them.
    mutating func reconfigurationApplied(_ entry: Entry) {
        guard let current = voterConfiguration,
              let change = try? ReconfigurationEntry.decode(entry.op),
              case .success(let next) = ReconfigurationEntry.applying(change, to: current),
              next != current else { return }
        configuration.voters = Voters(next)
        recomputeCommit()
    }

    /// Installs voters recovered from the store (a snapshot at start-up); the log above is
    /// applied on top of them.
    public mutating func restoreVoters(_ voters: Voters) {
        configuration.voters = voters
    }

    /// The shell decoded a snapshot being offered; its voters are adopted if it is installed.
    public mutating func offerSnapshotVoters(_ voters: Voters?) {
        offeredSnapshotVoters = voters
    }

    mutating func adoptOfferedSnapshotVoters() {
        if let voters = offeredSnapshotVoters { configuration.voters = voters }
        offeredSnapshotVoters = nil
    }
}
