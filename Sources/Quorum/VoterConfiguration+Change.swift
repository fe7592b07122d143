import Basics

/// TotemKV's rule for changing the voter configuration (DESIGN.md section 4 rule 8): a change
/// is accepted only if no set of nodes holding a majority of the old configuration can be
/// disjoint from a set holding a majority of the new one. Otherwise the nodes still using the
/// old configuration and those already using the new one could commit different entries at
/// the same index.
///
/// The rule: **at most one voter's votes change** (adding a voter is 0 → v, removing one is
/// v → 0), the expected-votes override may change freely, and
///
///     M_old + M_new > R + max(a, b)
///
/// where M is `majorityVotes` of each configuration, R the votes of the voters that did not
/// change, and a → b the changed voter's votes (0 → 0 when none changed).
///
/// Proof. Let S be an old majority and T a new majority with S ∩ T = ∅. Only real voters can
/// be in S or T; the override adds "phantom" votes (basis − total) that nobody holds, which
/// only raises M. The changed voter x is in at most one of S and T, so
/// old(S) + new(T) ≤ R + max(a, b): the unchanged voters of S and T are disjoint and weigh the
/// same in both configurations, and x adds a (if in S) or b (if in T) or nothing. But
/// old(S) + new(T) ≥ M_old + M_new > R + max(a, b). Contradiction, so S and T intersect. ∎
///
/// Consequences (each checked by `VoterChangeTests`, by brute force over all subsets):
/// - Changing one voter by one vote is always accepted, Raft's single-server change: with
///   M ≥ (basis + 1) / 2 and basis ≥ R + a (resp. R + b), M_old + M_new ≥ R + 1 + (a + b)/2,
///   which exceeds R + max(a, b) when |a − b| ≤ 1.
/// - Changing only the expected-votes override is always accepted: each M exceeds R / 2.
/// - The rule is sufficient, not necessary: some larger steps are safe but refused. An
///   administrator reaches them one vote at a time, each step committed before the next.
extension VoterConfiguration {
    /// Nil if `new` may follow `self`; otherwise why not.
    public func refusalOfChange(to new: VoterConfiguration) -> VoterChangeRefusal? {
        var changed: [(node: NodeID, old: Votes, new: Votes)] = []
        var unchangedVotes: UInt64 = 0
        var i = 0
        var j = 0
        // Merge the two ascending voter lists; a voter missing on one side has 0 votes there.
        while i < voters.count || j < new.voters.count {
            let node: NodeID
            if j == new.voters.count || (i < voters.count && voters[i].nodeID < new.voters[j].nodeID) {
                node = voters[i].nodeID
            } else {
                node = new.voters[j].nodeID
            }
            var before = Votes.zero
            var after = Votes.zero
            if i < voters.count, voters[i].nodeID == node { before = voters[i].votes; i += 1 }
            if j < new.voters.count, new.voters[j].nodeID == node { after = new.voters[j].votes; j += 1 }
            if before == after {
                unchangedVotes += UInt64(before.rawValue)
            } else {
                changed.append((node, before, after))
            }
        }
        guard changed.count <= 1 else {
            let nodes = changed.map { "\($0.node)" }.joined(separator: ", ")
            return VoterChangeRefusal(
                reason: "the change touches \(changed.count) voters (\(nodes)); "
                    + "change one voter at a time so old and new majorities always intersect")
        }
        let largest = changed.first.map { UInt64(max($0.old, $0.new).rawValue) } ?? 0
        let majorities = UInt64(majorityVotes.rawValue) + UInt64(new.majorityVotes.rawValue)
        guard majorities > unchangedVotes + largest else {
            let step = changed.first.map { "node \($0.node) from \($0.old) to \($0.new) votes" } ?? "it"
            return VoterChangeRefusal(
                reason: "changing \(step) is too large a step: a majority of the old "
                    + "configuration (\(majorityVotes) votes) and one of the new "
                    + "(\(new.majorityVotes) votes) could be disjoint; change votes by one at a time")
        }
        return nil
    }
}

/// A refused change, with the reason to give the administrator.
public struct VoterChangeRefusal: Error, Hashable, Sendable, CustomStringConvertible {
    public var reason: String
    public init(reason: String) { self.reason = reason }
    public var description: String { reason }
}
