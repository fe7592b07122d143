import Basics
import Testing
import Totem
import TotemConfig
@testable import Simulation

@Suite struct TotemClusterTests {
    func formedCluster(nodes: Int, conditions: NetworkConditions = .calm) -> TotemCluster {
        var cluster = TotemCluster(nodeCount: nodes, options: TotemOptions(nodeCount: nodes),
                                   conditions: conditions, random: SeededGenerator(seed: 99))
        for i in 0..<nodes { cluster.start(i) }
        cluster.run(until: .milliseconds(3_000)) { _, _ in }
        return cluster
    }

    func delivered(_ cluster: TotemCluster, _ i: Int) -> [UInt64] {
        (cluster.records[cluster.incarnation(i)] ?? []).compactMap {
            if case .delivered(_, _, _, let id, let intact) = $0.entry, intact { id } else { nil }
        }
    }

    @Test func aRingOfAllNodesFormsOnACalmNetwork() {
        let cluster = formedCluster(nodes: 5)
        let all = (1...5).map { NodeID(UInt32($0)) }
        for i in 0..<5 {
            #expect(cluster.instance(i)?.state == .operational)
            #expect(cluster.instance(i)?.currentMembers == all)
        }
    }

    @Test func aOneMebibytePayloadIsDeliveredWholeEverywhere() {
        var cluster = formedCluster(nodes: 3)
        let big = WorkloadPayload.make(id: 42, byteCount: Packing.payloadBytesMax)
        let acceptedBig = cluster.submit(big, at: 1)
        let acceptedSmall = cluster.submit(WorkloadPayload.make(id: 43, byteCount: 30), at: 2)
        #expect(acceptedBig && acceptedSmall)
        cluster.run(until: .milliseconds(8_000)) { _, _ in }
        for i in 0..<3 { #expect(Set(delivered(cluster, i)) == [42, 43]) }
    }

    @Test func lostMcastsAreRetransmittedAndEverybodyDeliversEverything() {
        var cluster = formedCluster(nodes: 4, conditions: NetworkConditions(lossProbability: 0.1))
        for id: UInt64 in 1...200 {
            cluster.submit(WorkloadPayload.make(id: id, byteCount: 100), at: Int(id % 4))
        }
        cluster.run(until: .milliseconds(30_000)) { _, _ in }
        let retransmitted = (0..<4).compactMap { cluster.instance($0)?.stats.mcastsRetransmitted }.reduce(0, +)
        #expect(retransmitted > 0)
        let reference = delivered(cluster, 0)
        #expect(Set(reference) == Set(1...200))
        // Nodes that stayed in one ring deliver the same order.
        let stayed = (0..<4).filter { cluster.instance($0)?.stats.operationalEntered == cluster.instance(0)?.stats.operationalEntered }
        for i in stayed { #expect(delivered(cluster, i) == reference) }
    }

    @Test func theEventQueueBreaksTiesInSchedulingOrder() {
        var queue = EventQueue<Int>()
        for i in 0..<10 { queue.schedule(i, at: .milliseconds(5)) }
        queue.schedule(-1, at: .milliseconds(1))
        var order: [Int] = []
        while let (_, e) = queue.popNext() { order.append(e) }
        #expect(order == [-1] + Array(0..<10))
    }
}
