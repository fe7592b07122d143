import Basics
import CMap
import Foundation
import Quorum
import Replication
import Simulation
import Testing
import TotemConfig

/// Whole nodes in the simulator, checked for the quorum service (DESIGN.md sections 4 rule 8
/// and 7): every node computes the same quorum in the same ring, a minority is quorate only
/// when a flag says so and never commits, and setexpected / setvotes never let two sides
/// commit.
@Suite struct QuorumSimulationTests {
    /// A cluster driven by hand: a short token, so partitions change rings quickly.
    struct Scenario {
        var cluster: ReplicationCluster
        var nextToken: UInt64 = 1

        init(nodes: Int, seed: UInt64, options quorum: EffectiveQuorumOptions = EffectiveQuorumOptions()) {
            var settings = TotemOptions.Settings()
            settings.token = 300
            settings.tokenCoefficient = 0
            cluster = ReplicationCluster(nodeCount: nodes, options: TotemOptions(settings, nodeCount: nodes),
                                         conditions: .calm, random: SeededGenerator(seed: seed))
            cluster.quorumOptions = quorum
            for i in 0..<nodes { cluster.start(i) }
        }

        mutating func run(milliseconds: UInt32) {
            cluster.run(until: cluster.now + Milliseconds(milliseconds), eventLimit: 20_000_000) { _, _ in }
        }

        /// Sends a request and runs until it is answered (or `milliseconds` pass).
        mutating func ask(_ request: ReplicatedNode.ClientRequest, at node: Int,
                          milliseconds: UInt32 = 6_000) -> ReplicatedNode.ClientReply? {
            let token = ClientToken(nextToken)
            nextToken += 1
            guard cluster.request(token, request, at: node) else { return nil }
            var waited: UInt32 = 0
            while waited < milliseconds {
                if let reply = cluster.replies.first(where: { $0.token == token }) {
                    cluster.replies.removeAll { $0.token == token }
                    return reply.reply
                }
                run(milliseconds: 50)
                waited += 50
            }
            return nil
        }

        mutating func write(at node: Int, _ key: String = "k") -> ReplicatedNode.ClientReply? {
            ask(.write(.set(CMapKey(key), .string("v")), clientID: 0, clientSeq: 0), at: node)
        }

        func info(_ node: Int) -> QuorumInfo? { cluster.core(node)?.quorumService.info(NodeID(0)) }
    }

    static func isResult(_ reply: ReplicatedNode.ClientReply?) -> Bool {
        if case .result? = reply { return true }
        return false
    }

    /// The cluster-wide part of a notification, which every member of a ring must agree on
    /// when its membership sync ends.
    struct Agreed: Hashable, CustomStringConvertible {
        var quorate: Bool
        var storeQuorate: Bool
        var quorum: Votes
        var members: [NodeID]
        var memberVotes: [String]

        init(_ n: QuorumNotification) {
            quorate = n.isQuorate
            storeQuorate = n.isStoreQuorate
            quorum = n.quorum
            members = n.members
            memberVotes = n.nodes.filter { n.members.contains($0.nodeID) }
                .map { "\($0.nodeID):\($0.votes):\($0.expectedVotes)" }
        }

        var description: String { "quorate \(quorate) store \(storeQuorate) quorum \(quorum) members \(members) \(memberVotes)" }
    }

    /// Random partitions, crashes and restarts on 3 to 5 nodes without flags: after every
    /// configuration change, every node that finished the ring's membership sync reports the
    /// same quorum, members and votes; votequorum is quorate exactly when the members hold a
    /// majority of the configured votes (a minority never is); and once healed, getinfo's
    /// cluster-wide fields agree on every node.
    @Test(arguments: UInt64(1)...24)
    func everyNodeAgreesAfterEveryConfigurationChange(seed: UInt64) {
        var random = SeededGenerator(seed: seed &* 7919)
        let n = 3 + Int(random.next() % 3)
        var s = Scenario(nodes: n, seed: seed)
        s.run(milliseconds: 2_000)
        for _ in 0..<8 {
            switch random.next() % 3 {
            case 0:
                var groups: [[Int]] = [[], []]
                for i in 0..<n { groups[Int(random.next() % 2)].append(i) }
                s.cluster.network.partition(groups, symmetric: true)
            case 1:
                let up = (0..<n).filter { s.cluster.isUp($0) }
                if up.count > 1 { s.cluster.crash(up[Int(random.next() % UInt64(up.count))], mode: .loseUnsynced) }
            default:
                s.cluster.network.healAll()
                for i in 0..<n where !s.cluster.isUp(i) { s.cluster.start(i) }
            }
            s.run(milliseconds: 600 + UInt32(random.next() % 1_500))
        }
        s.cluster.network.healAll()
        for i in 0..<n where !s.cluster.isUp(i) { s.cluster.start(i) }
        s.run(milliseconds: 4_000)

        // Per ring, the first notification of each node is the one that ended its sync.
        var firstByRing: [RingID: [(node: Int, agreed: Agreed)]] = [:]
        var seen = Set<String>()
        for (node, notification) in s.cluster.quorumNotifications {
            #expect(notification.isQuorate == notification.isStoreQuorate,
                    "seed \(seed): node \(node + 1) quorate \(notification.isQuorate) but store \(notification.isStoreQuorate) with members \(notification.members)")
            guard let ring = notification.ringID, seen.insert("\(ring)/\(node)").inserted else { continue }
            firstByRing[ring, default: []].append((node, Agreed(notification)))
        }
        #expect(firstByRing.count >= 2, "seed \(seed): too few rings to say anything")
        for (ring, reports) in firstByRing.sorted(by: { $0.key < $1.key }) {
            let distinct = Set(reports.map(\.agreed))
            #expect(distinct.count == 1, "seed \(seed) ring \(ring): \(reports.map { "n\($0.node + 1): \($0.agreed)" })")
        }
        let infos = (0..<n).compactMap { s.info($0)?.info }
        #expect(infos.count == n)
        #expect(Set(infos.map { "\($0.quorum) \($0.totalVotes) \($0.highestExpected) \($0.flags.rawValue)" }).count == 1,
                "seed \(seed): \(infos)")
        #expect(infos.allSatisfy { $0.flags.contains(.quorate) })
    }

    /// two_node: each node of a split two-node cluster stays quorate for votequorum (fencing
    /// decides, in corosync), but holds half the votes: the store refuses every write on both.
    @Test func twoNodeSplitIsQuorateButNeverCommits() {
        var s = Scenario(nodes: 2, seed: 3, options: EffectiveQuorumOptions(twoNode: true, waitForAll: true))
        s.run(milliseconds: 2_000)
        #expect(Self.isResult(s.write(at: 0)))
        s.cluster.network.partition([[0], [1]], symmetric: true)
        s.run(milliseconds: 3_000)
        for i in 0..<2 {
            let info = s.info(i)
            #expect(info?.notification.members == [NodeID(UInt32(i + 1))])
            #expect(info?.info.flags.contains(.quorate) == true)
            #expect(info?.info.quorum == 1)
            #expect(info?.isStoreQuorate == false)
            #expect(info?.disagreement?.contains("two_node") == true)
            let reply = s.write(at: i, "split\(i)")
            #expect(!Self.isResult(reply), "node \(i + 1) committed a write alone: \(String(describing: reply))")
            #expect(s.cluster.core(i)?.replica.phase == .inactive)
        }
        // The service said quorate on both sides; the store committed on neither.
        let splitReports = s.cluster.quorumNotifications.filter { $0.notification.members.count == 1 }
        #expect(!splitReports.isEmpty && splitReports.allSatisfy { $0.notification.isQuorate && !$0.notification.isStoreQuorate })
        s.cluster.network.healAll()
        s.run(milliseconds: 3_000)
        #expect(Self.isResult(s.write(at: 1, "healed")))
    }

    /// last_man_standing: after the window, a quorate partition's expected votes drop to its
    /// members, so it stays quorate as it shrinks further, down to a minority of the cluster;
    /// the store still needs 3 of the 5 configured votes.
    @Test func lastManStandingShrinksTheServiceNotTheStore() {
        var s = Scenario(nodes: 5, seed: 5, options: EffectiveQuorumOptions(lastManStanding: true, lastManStandingWindow: 1_000))
        s.run(milliseconds: 2_000)
        s.cluster.network.partition([[0, 1, 2], [3, 4]], symmetric: true)
        s.run(milliseconds: 3_000)
        #expect(s.info(0)?.info.flags.contains(.quorate) == true)
        #expect(s.info(0)?.info.expectedVotes == 3)
        #expect(Self.isResult(s.write(at: 0, "three")))
        s.cluster.network.partition([[0, 1], [2], [3, 4]], symmetric: true)
        s.run(milliseconds: 3_000)
        let info = s.info(0)
        #expect(info?.notification.members == [NodeID(1), NodeID(2)])
        #expect(info?.info.flags.contains(.quorate) == true)
        #expect(info?.isStoreQuorate == false)
        #expect(info?.disagreement?.contains("last_man_standing") == true)
        #expect(!Self.isResult(s.write(at: 0, "two")))
        #expect(s.info(3)?.info.flags.contains(.quorate) == false)
    }

    /// setexpected and setvotes through the log: applied on every node, refused with a
    /// reason when unsafe, and the voters survive a restart.
    @Test func reconfigurationsApplyEverywhereAndSurviveRestart() {
        var s = Scenario(nodes: 3, seed: 11)
        s.run(milliseconds: 2_000)
        #expect(Self.isResult(s.ask(.reconfigure(.nodeVotes(NodeID(3), 2)), at: 0)))
        s.run(milliseconds: 1_000)
        for i in 0..<3 {
            #expect(s.cluster.core(i)?.replica.configuration.voters.votes(of: NodeID(3)) == 2, "node \(i + 1)")
            #expect(s.info(i)?.info.totalVotes == 4)
        }
        // 1 → 4 votes: an old majority (3 of 4) and a new one (4 of 7) could be disjoint.
        guard case .rejected(let reason)? = s.ask(.reconfigure(.nodeVotes(NodeID(1), 4)), at: 0) else {
            Issue.record("a three-vote step was accepted")
            return
        }
        #expect(reason.hasPrefix("UNSAFE"), "\(reason)")
        guard case .rejected(let low)? = s.ask(.reconfigure(.expectedVotes(2)), at: 0) else {
            Issue.record("expected votes below the members' votes was accepted")
            return
        }
        #expect(low.hasPrefix("INVALID_PARAM"), "\(low)")
        #expect(Self.isResult(s.ask(.reconfigure(.expectedVotes(6)), at: 2)))
        s.run(milliseconds: 500)
        #expect(s.cluster.core(0)?.replica.configuration.voters.majorityVotes == 4)
        s.cluster.crash(1, mode: .keepUnsynced)
        s.run(milliseconds: 500)
        s.cluster.start(1)
        s.run(milliseconds: 3_000)
        #expect(s.cluster.core(1)?.replica.configuration.voters == s.cluster.core(0)?.replica.configuration.voters)
        #expect(s.cluster.core(1)?.quorumService.state?.configuration == s.cluster.core(0)?.quorumService.state?.configuration)
        #expect(Self.isResult(s.write(at: 1)))
    }

    /// The swarm of `ReplicationSimulationTests` with random setexpected / setvotes sent
    /// during partitions, crashes and pauses: the log-matching, durability, state and
    /// linearizability checks show that no two sides ever committed different entries, and
    /// the liveness probe that no accepted change left the cluster unable to commit.
    /// (Seeds 50136 and 50001 of the first 300-seed run are the regressions: a snapshot
    /// installed in the same step as later reconfigurations, and two changes checked at once
    /// that together left a majority above the total votes.)
    @Test func reconfigurationsUnderFaultsNeverSplitCommits() {
        var settings = ReplicationSimulation.Settings()
        settings.reconfigures = true
        var failures: [String] = []
        var counts = ReconfigurationCounts()
        // 100 seeds in CI (each sends dozens of reconfigurations); TOTEMKV_SIM_SEEDS=A..B for more.
        let seeds = ProcessInfo.processInfo.environment["TOTEMKV_SIM_SEEDS"] == nil ? 1...100 : ReplicationSimulationTests.seeds
        for seed in seeds {
            let r = ReplicationSimulation.run(seed: seed &+ 50_000, settings: settings)
            counts.sent += r.reconfigurations.sent
            counts.applied += r.reconfigurations.applied
            counts.refused += r.reconfigurations.refused
            counts.failed += r.reconfigurations.failed
            if !r.passed { failures.append(ReplicationSimulationTests.describe(r)) }
        }
        print("quorum reconfiguration simulation: \(seeds.count) seeds, \(failures.count) failing, reconfigurations \(counts)")
        #expect(counts.applied > 0 && counts.refused > 0)
        #expect(failures.isEmpty, "\(failures.count) failing seeds:\n\(failures.prefix(3).joined(separator: "\n\n"))")
    }
}
