import Basics
import Quorum
import Testing

/// The quorum arithmetic against naive oracles, and random cluster histories against the
/// invariants the replication layer relies on.
@Suite("quorum properties")
struct QuorumPropertyTests {
    /// The smallest q with 2q > x, found by counting: a different formulation of
    /// floor(x / 2) + 1.
    private func naiveMajority(_ x: UInt32) -> UInt32 {
        var q: UInt32 = 0
        while 2 * UInt64(q) <= UInt64(x) { q += 1 }
        return q
    }

    @Test("QuorumArithmetic.quorum agrees with a naive oracle on random inputs")
    func arithmeticOracle() {
        var rng = SeededGenerator(seed: 0x0A11)
        for _ in 0..<20_000 {
            let highest = UInt32.random(in: 0...200, using: &rng)
            let total = UInt32.random(in: 0...200, using: &rng)
            let members = Int.random(in: 0...8, using: &rng)
            let previous = UInt32.random(in: 0...120, using: &rng)
            let allowDecrease = rng.chance(0.5)
            let twoNode = rng.chance(0.3)
            var expected = max(naiveMajority(highest), naiveMajority(total))
            if !allowDecrease && previous > expected { expected = previous }
            if twoNode && members <= 2 { expected = 1 }
            let got = QuorumArithmetic.quorum(
                highestExpected: Votes(highest), totalVotes: Votes(total), memberCount: members,
                previousQuorum: Votes(previous), allowDecrease: allowDecrease, twoNode: twoNode)
            #expect(got.rawValue == expected)
        }
        #expect(Votes(.max).majority == Votes(UInt32.max / 2 + 1))
        #expect(Votes(.max) + Votes(1) == Votes(.max))  // saturates, never traps
    }

    @Test("isMajority agrees with a naive oracle: 2 × distinct members' votes > max(expected, total)")
    func isMajorityOracle() {
        var rng = SeededGenerator(seed: 0x3A)
        for _ in 0..<5_000 {
            let c = randomConfiguration(&rng)
            let members = (0..<Int.random(in: 0...15, using: &rng)).map { _ in NodeID(UInt32.random(in: 1...40, using: &rng)) }
            var sum: UInt64 = 0
            for node in Set(members) {  // order does not matter for a sum
                sum += UInt64(c.voters.first { $0.nodeID == node }?.votes.rawValue ?? 0)
            }
            let basis = UInt64(max(c.expectedVotesOverride?.rawValue ?? 0, c.totalVotes.rawValue))
            #expect(c.isMajority(of: members) == (2 * sum > basis))
            #expect(c.isMajority(of: members) == c.isMajority(of: members.shuffled(using: &rng)))
        }
    }

    @Test("member order and duplicates in a membership change do not change any output")
    func membershipOrderIrrelevant() throws {
        let config = try VoterConfiguration(nodes: ids(1, 2, 3, 4))
        var a = VoteQuorumState(localNode: id(2), configuration: config, options: EffectiveQuorumOptions())
        var b = a
        let ring = RingID(representative: id(1), seq: 8)
        #expect(a.step(.membershipChanged(ringID: ring, members: ids(1, 2, 3), at: .zero))
            == b.step(.membershipChanged(ringID: ring, members: ids(3, 2, 1, 3), at: .zero)))
        #expect(a.members == b.members && a.members == ids(1, 2, 3))
    }

    /// One random history; returns a trace of every action for the determinism check.
    private func randomHistory(seed: UInt64, check: Bool) -> [String] {
        var rng = SeededGenerator(seed: seed)
        let n = Int.random(in: 2...6, using: &rng)
        let nodes = (1...n).map { NodeID(UInt32($0)) }
        let oneVote = rng.chance(0.6)
        let votes = nodes.map { _ in oneVote ? UInt32(1) : UInt32.random(in: 1...3, using: &rng) }
        let noFlags = rng.chance(0.4)
        var options = QuorumOptions()
        if !noFlags {
            options.twoNode = rng.chance(0.3)
            options.waitForAll = rng.chance(0.5) ? rng.chance(0.5) : nil
            options.lastManStanding = rng.chance(0.4)
            options.autoTieBreaker = rng.chance(0.4)
            options.autoTieBreakerNode = [.lowest, .highest, .list(nodes.shuffled(using: &rng))][Int.random(in: 0...2, using: &rng)]
            options.allowDownscale = rng.chance(0.3)
        }
        let configuration = try! VoterConfiguration(
            voters: zip(nodes, votes).map { .init($0, votes: Votes($1)) })
        guard (try? options.resolved(for: configuration)) != nil else { return [] }
        var c = Cluster(voters: nodes, votes: votes, options: options)
        // setexpected may lower votequorum's quorum below the store's majority on purpose.
        var reconfigured = false
        for _ in 0..<40 {
            switch Int.random(in: 0...9, using: &rng) {
            case 0...4:  // a new membership: some nodes down, the rest split into rings
                var up = nodes.filter { _ in rng.chance(0.75) }
                up.shuffle(using: &rng)
                var rings: [[NodeID]] = []
                while !up.isEmpty {
                    let size = Int.random(in: 1...up.count, using: &rng)
                    rings.append(Array(up.prefix(size)))
                    up.removeFirst(size)
                }
                for node in nodes where !rings.joined().contains(node) && rng.chance(0.3) { c.start(node) }
                c.form(rings)
            case 5, 6:
                c.advance(by: UInt32.random(in: 0...15_000, using: &rng))
            case 7:
                let node = nodes[Int.random(in: 0..<n, using: &rng)]
                let target = nodes[Int.random(in: 0..<n, using: &rng)]
                let change: Reconfiguration = rng.chance(0.5)
                    ? .nodeVotes(target, Votes(UInt32.random(in: 0...3, using: &rng)))
                    : .expectedVotes(Votes(UInt32.random(in: 1...12, using: &rng)))
                let refusal: QuorumRefusal?
                switch change {
                case .nodeVotes(let t, let v): refusal = c[node].validateSetVotes(t, votes: v)
                case .expectedVotes(let e): refusal = c[node].validateSetExpected(e)
                case .cancelWaitForAll: refusal = nil
                }
                // The store only commits a reconfiguration in a store-quorate ring.
                if refusal == nil && c[node].storeIsQuorate {
                    c.reconfigure(change, from: node)
                    reconfigured = true
                }
            case 8:
                if let ring = c.rings.randomElement(using: &rng), let node = ring.randomElement(using: &rng) {
                    c.shutDown(node)
                }
            default:
                if let ring = c.rings.randomElement(using: &rng), let node = ring.first { c.reconfigure(.cancelWaitForAll, from: node) }
            }
            if check { checkInvariants(c, noFlags: noFlags, reconfigured: reconfigured, seed: seed) }
        }
        return nodes.flatMap { node in (c.actions[node] ?? []).map { "\(node) \($0)" } }
    }

    private func checkInvariants(_ c: Cluster, noFlags: Bool, reconfigured: Bool, seed: UInt64) {
        var storeQuorateRings = 0
        for ring in c.rings {
            let first = c[ring[0]]
            if first.storeIsQuorate { storeQuorateRings += 1 }
            for node in ring {
                let s = c[node]
                #expect(!s.isSyncInProgress)
                #expect(s.members == ring)
                #expect(s.storeIsQuorate == first.storeIsQuorate)
                #expect(s.configuration == first.configuration)
                if s.storeIsQuorate { #expect(s.storeVotesPresent >= s.configuration.majorityVotes) }
                if noFlags {
                    // Without flags, every member computes the same answer.
                    #expect(s.serviceIsQuorate == first.serviceIsQuorate, "seed \(seed) node \(node)")
                    #expect(s.quorum == first.quorum, "seed \(seed) node \(node)")
                    #expect(s.getinfo(NodeID(0))?.expectedVotes == first.getinfo(NodeID(0))?.expectedVotes)
                }
                if noFlags && !reconfigured {
                    // No flag lets a minority be quorate: votequorum and the store agree.
                    #expect(s.serviceIsQuorate == s.storeIsQuorate, "seed \(seed) node \(node): \(s.quorumNotification)")
                    #expect((s.quorumDisagreement == nil) == (s.serviceIsQuorate == s.storeIsQuorate))
                }
            }
        }
        // Two disjoint rings can never both hold a majority of the configured votes.
        #expect(storeQuorateRings <= 1, "seed \(seed)")
    }

    @Test("random histories: rings agree, at most one ring can commit, no flags means no minority quorum")
    func randomHistories() {
        for seed in 0..<300 as Range<UInt64> { _ = randomHistory(seed: seed, check: true) }
    }

    @Test("the same seed gives the same trace")
    func deterministic() {
        for seed in [UInt64(7), 99, 12_345] {
            #expect(randomHistory(seed: seed, check: false) == randomHistory(seed: seed, check: false))
        }
    }
}
