import Basics
import Foundation
import Replication
import Simulation
import Testing
import TotemConfig

@Suite struct ProcessGroupSimulationTests {
    /// 100 seeds in CI (about 4 minutes on a busy 2-core machine); 1...300 passed by hand.
    /// `TOTEMKV_CPG_SEEDS=A..B` runs others.
    static var seeds: ClosedRange<UInt64> {
        if let text = ProcessInfo.processInfo.environment["TOTEMKV_CPG_SEEDS"] {
            let parts = text.split(separator: ".").compactMap { UInt64($0) }
            if parts.count == 2, parts[0] <= parts[1] { return parts[0]...parts[1] }
        }
        return 1...100
    }

    /// Messages and join/leave events in the same order at every member, across crashes,
    /// pauses and partition heals; views agree after the faults stop; a final round reaches
    /// every member, the senders included.
    @Test func seedsPass() {
        var failures: [String] = []
        var deliveries = 0, sent = 0
        for seed in Self.seeds {
            let r = ProcessGroupSimulation.run(seed: seed)
            deliveries += r.deliveries
            sent += r.messagesSent
            if !r.passed {
                failures.append("seed \(seed): \(r.profile)\n  " + r.problems.prefix(5).joined(separator: "\n  "))
            }
        }
        #expect(failures.isEmpty, "\(failures.count) seeds failed:\n\(failures.prefix(5).joined(separator: "\n"))")
        // The runs did exercise the groups.
        #expect(sent > 1000 && deliveries > sent)
    }

    @Test func theSameSeedGivesTheSameRun() {
        let a = ProcessGroupSimulation.run(seed: 42), b = ProcessGroupSimulation.run(seed: 42)
        #expect(a.traceHash == b.traceHash)
        #expect(a.deliveries == b.deliveries)
    }

    static func calmCluster(nodes: Int) -> ReplicationCluster {
        var settings = TotemOptions.Settings()
        settings.token = 300
        settings.tokenCoefficient = 0
        var cluster = ReplicationCluster(nodeCount: nodes, options: TotemOptions(settings, nodeCount: nodes),
                                         conditions: .calm, random: SeededGenerator(seed: 9))
        for i in 0..<nodes { cluster.start(i) }
        return cluster
    }

    static func member(_ node: UInt32, _ connection: UInt64) -> ProcessGroupMember {
        ProcessGroupMember(node: NodeID(node), connection: ConnectionID(connection))
    }

    /// CPG needs no quorum: in a minority partition of a five-node cluster (no writes can
    /// commit there) members still exchange messages and see the others leave as node down.
    @Test func groupsWorkInANonQuorateRing() throws {
        var cluster = Self.calmCluster(nodes: 5)
        let group = try ProcessGroupName("minority")
        cluster.run(until: .milliseconds(2_000)) { _, _ in }
        for i in 0..<5 {
            let sent = cluster.processGroupRequest(.join(group, ConnectionID(1)), token: nil, at: i)
            #expect(sent)
        }
        cluster.run(until: .milliseconds(2_500)) { _, _ in }
        #expect(cluster.core(0)?.processGroups.members(of: group).count == 5)
        cluster.network.partition([[0, 1], [2, 3, 4]], symmetric: true)
        cluster.run(until: .milliseconds(5_000)) { _, _ in }
        #expect(cluster.core(0)?.replica.phase == .inactive, "the minority is not quorate")
        #expect(cluster.core(0)?.processGroups.members(of: group) == [Self.member(1, 1), Self.member(2, 1)])
        let sent = cluster.processGroupRequest(.mcast(group, ConnectionID(1), payload: [7]), token: ClientToken(1), at: 1)
        #expect(sent)
        #expect(cluster.processGroupRecord.replies[ClientToken(1)] == .accepted)
        cluster.run(until: .milliseconds(5_500)) { _, _ in }
        for node: UInt32 in [1, 2] {
            let key = ProcessGroupRecord.Key(member: Self.member(node, 1), group: group)
            let got = cluster.processGroupRecord.deliveries[key] ?? []
            #expect(got.last == .message(from: Self.member(2, 1), payload: [7]), "node \(node)")
            let nodeDown = got.contains { n in
                if case .membership(let c) = n { return c.left.contains { $0.reason == .nodeDown } } else { return false }
            }
            #expect(nodeDown)
        }
        // The majority side never saw the minority's message.
        let majority = cluster.processGroupRecord.deliveries[ProcessGroupRecord.Key(member: Self.member(3, 1), group: group)] ?? []
        #expect(!majority.contains(.message(from: Self.member(2, 1), payload: [7])))
        // Healed: every node agrees on all five members again (announced as node up).
        cluster.network.healAll()
        cluster.run(until: .milliseconds(9_000)) { _, _ in }
        for i in 0..<5 { #expect(Set(cluster.core(i)?.processGroups.members(of: group) ?? []).count == 5, "node \(i + 1)") }
    }

    /// A crashed node's members leave, as node down, on every survivor at the same point of
    /// the order; messages before and after are in the same order everywhere.
    @Test func aCrashedNodesMembersLeaveAsNodeDownOnTheSurvivors() throws {
        var cluster = Self.calmCluster(nodes: 3)
        let group = try ProcessGroupName("crash")
        cluster.run(until: .milliseconds(2_000)) { _, _ in }
        for i in 0..<3 { _ = cluster.processGroupRequest(.join(group, ConnectionID(5)), token: nil, at: i) }
        cluster.run(until: .milliseconds(2_300)) { _, _ in }
        _ = cluster.processGroupRequest(.mcast(group, ConnectionID(5), payload: [1]), token: nil, at: 0)
        cluster.run(until: .milliseconds(2_400)) { _, _ in }
        cluster.crash(2, mode: .loseUnsynced)
        cluster.run(until: .milliseconds(4_000)) { _, _ in }
        _ = cluster.processGroupRequest(.mcast(group, ConnectionID(5), payload: [2]), token: nil, at: 1)
        cluster.run(until: .milliseconds(4_500)) { _, _ in }
        let one = cluster.processGroupRecord.deliveries[ProcessGroupRecord.Key(member: Self.member(1, 5), group: group)] ?? []
        let two = cluster.processGroupRecord.deliveries[ProcessGroupRecord.Key(member: Self.member(2, 5), group: group)] ?? []
        let down = ProcessGroupNotification.membership(ProcessGroupChange(
            members: [Self.member(1, 5), Self.member(2, 5)], joined: [],
            left: [ProcessGroupMemberChange(Self.member(3, 5), .nodeDown)]))
        #expect(one.suffix(3) == [.message(from: Self.member(1, 5), payload: [1]), down,
                                  .message(from: Self.member(2, 5), payload: [2])])
        #expect(one.suffix(3) == two.suffix(3))
        #expect(ProcessGroupChecks.order(cluster.processGroupRecord).isEmpty)
    }
}
