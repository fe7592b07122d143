import Basics
import Quorum
import Testing

/// The intersection rule of `VoterConfiguration+Change.swift`, checked by brute force: for
/// every accepted change, no old-majority set is disjoint from a new-majority set.
@Suite("voter configuration changes: old and new majorities always intersect")
struct VoterChangeTests {
    /// Nodes 1...universe; bit i of a mask is node i + 1.
    private static func weights(_ c: VoterConfiguration, universe: Int) -> [UInt64] {
        (1...universe).map { UInt64(c.votes(of: NodeID(UInt32($0))).rawValue) }
    }

    /// Is there an old majority S and a new majority T with S ∩ T = ∅? Since votes are never
    /// negative, T may as well be the complement of S, so one pass over all subsets decides.
    static func disjointMajoritiesExist(_ old: VoterConfiguration, _ new: VoterConfiguration, universe: Int) -> Bool {
        let wOld = weights(old, universe: universe)
        let wNew = weights(new, universe: universe)
        let full = (1 << universe) - 1
        for s in 0...full {
            var oldVotes: UInt64 = 0
            var newVotesOutside: UInt64 = 0
            for i in 0..<universe {
                if s & (1 << i) != 0 { oldVotes += wOld[i] } else { newVotesOutside += wNew[i] }
            }
            if oldVotes >= UInt64(old.majorityVotes.rawValue) && newVotesOutside >= UInt64(new.majorityVotes.rawValue) {
                return true
            }
        }
        return false
    }

    @Test("exhaustive: every change of up to 4 voters with 0...2 votes; accepted changes are safe, one-vote steps and expected-only changes are accepted")
    func exhaustiveSmallClusters() throws {
        var accepted = 0
        var refusedButSafe = 0
        var refusedUnsafe = 0
        for code in 0..<256 {  // each of nodes 1...4: absent, or 0, 1, 2 votes
            var voters: [VoterConfiguration.Voter] = []
            for node in 0..<4 {
                let state = (code >> (2 * node)) & 3
                if state > 0 { voters.append(.init(NodeID(UInt32(node + 1)), votes: Votes(UInt32(state - 1)))) }
            }
            guard let base = try? VoterConfiguration(voters: voters) else { continue }
            for override in [nil, Votes(1), base.totalVotes + 1, base.totalVotes + 3] {
                let old = try base.settingExpectedVotes(override)
                var candidates: [(VoterConfiguration, isSmallStep: Bool)] = []
                for node in 1...5 {
                    let before = old.votes(of: NodeID(UInt32(node)))
                    for votes in 0...4 {
                        guard let next = try? old.settingVotes(Votes(UInt32(votes)), for: NodeID(UInt32(node))) else { continue }
                        let step = abs(Int(votes) - Int(before.rawValue))
                        candidates.append((next, step <= 1))
                    }
                }
                for expected in [nil] + (1...old.totalVotes.rawValue + 3).map({ Votes($0) }) {
                    candidates.append((try old.settingExpectedVotes(expected), true))
                }
                for (new, isSmallStep) in candidates {
                    let unsafe = Self.disjointMajoritiesExist(old, new, universe: 5)
                    let refusal = old.refusalOfChange(to: new)
                    if refusal == nil {
                        accepted += 1
                        #expect(!unsafe, "accepted an unsafe change: \(old) -> \(new)")
                    } else if unsafe {
                        refusedUnsafe += 1
                    } else {
                        refusedButSafe += 1
                    }
                    if isSmallStep {
                        #expect(refusal == nil, "refused a one-vote step: \(old) -> \(new)")
                    }
                }
            }
        }
        #expect(accepted > 10_000 && refusedUnsafe > 100)
        #expect(refusedButSafe > 0)  // the rule is sufficient, not necessary (documented)
    }

    @Test("random: larger clusters and arbitrary steps; accepted changes are always safe")
    func randomLargerClusters() {
        var rng = SeededGenerator(seed: 0xC0FFEE)
        var accepted = 0
        for _ in 0..<3_000 {
            let old = randomConfiguration(&rng, maxVoters: 9, maxVotes: 4)
            let node = NodeID(UInt32.random(in: 1...10, using: &rng))
            guard var new = try? old.settingVotes(Votes(UInt32.random(in: 0...6, using: &rng)), for: node) else { continue }
            if rng.chance(0.3) {
                new = (try? new.settingExpectedVotes(Votes(UInt32.random(in: 1...40, using: &rng)))) ?? new
            }
            if old.refusalOfChange(to: new) == nil {
                accepted += 1
                #expect(!Self.disjointMajoritiesExist(old, new, universe: 10), "\(old) -> \(new)")
            }
        }
        #expect(accepted > 500)
    }

    @Test("changing two voters at once is refused, with the voters named")
    func twoVotersRefused() throws {
        let old = try VoterConfiguration(nodes: ids(1, 2, 3))
        let new = try old.settingVotes(2, for: id(1)).settingVotes(2, for: id(2))
        #expect(old.refusalOfChange(to: new)?.reason.hasPrefix("the change touches 2 voters (1, 2)") == true)
    }

    @Test("the refused 1 -> 3 step really is unsafe: {2, 3} and {1} are disjoint majorities")
    func refusedStepIsUnsafe() throws {
        let old = try VoterConfiguration(nodes: ids(1, 2, 3))
        let new = try old.settingVotes(3, for: id(1))
        #expect(old.refusalOfChange(to: new) != nil)
        #expect(old.isMajority(of: ids(2, 3)) && new.isMajority(of: ids(1)))
    }

    @Test("growing one voter at a time from 1 to 5 nodes, every step accepted")
    func growOneAtATime() throws {
        var c = try VoterConfiguration(nodes: ids(1))
        for node in 2...5 {
            let next = try c.settingVotes(1, for: NodeID(UInt32(node)))
            #expect(c.refusalOfChange(to: next) == nil)
            c = next
        }
        #expect(c.majorityVotes == 3)
    }
}
