import Foundation
import Testing

/// kill -9 of a majority and of the whole cluster, with real processes: nothing
/// acknowledged is ever lost, and a minority refuses writes with -NOQUORUM instead of
/// accepting what it cannot commit. Every wait is a bounded poll (`waitUntil`, `poll`).
@Suite(.serialized)
struct CrashRecoveryTests {
    /// Writes `count` keys through the nodes in turn, overwriting some (a key per `count / 2`),
    /// so the last acknowledged value is what must survive. Returns key → value.
    private func writeAcknowledged(_ cluster: ProcessCluster, prefix: String, count: Int) -> [String: String] {
        var acknowledged: [String: String] = [:]
        for n in 0..<count {
            let key = "\(prefix):\(n % (count / 2))"
            let value = "v\(n)-" + String(repeating: "x", count: n % 7)
            let node = n % cluster.nodeCount + 1
            if cluster.acknowledgedSet(key, value, on: node) { acknowledged[key] = value }
            #expect(acknowledged[key] == value, "SET \(key) through node \(node) was never acknowledged")
        }
        return acknowledged
    }

    /// Every acknowledged key reads back with its last value on every running node.
    private func expectReadable(_ acknowledged: [String: String], on nodes: [Int], _ cluster: ProcessCluster) {
        for key in acknowledged.keys.sorted() {
            for node in nodes {
                let reply = cluster.confirmedGet(key, on: node)
                #expect(reply == .text(acknowledged[key] ?? ""), "GET \(key) on node \(node)")
            }
        }
    }

    @Test(.timeLimit(.minutes(6))) func killNineOfTwoOfThreeRefusesWritesWithNoQuorumAndLosesNothing() throws {
        let cluster = try ProcessCluster.startedQuorate()
        defer { cluster.stopAll() }
        let acknowledged = writeAcknowledged(cluster, prefix: "maj", count: 30)

        cluster.kill9(2)
        cluster.kill9(3)
        // The survivor learns it is alone (token loss, then a one-member ring without quorum).
        let alone = cluster.waitUntil {
            guard let s = cluster.status(of: 1) else { return false }
            return s["quorate"] as? Bool == false && (s["members"] as? [Int]) == [1]
        }
        try #require(alone, "node 1 never saw itself alone without quorum\n\(cluster.logTails())")

        // Every write is refused at once, and says nothing was written.
        let survivor = try cluster.connect(to: 1)
        for n in 0..<5 {
            let reply = try survivor.call(["SET", "maj:refused:\(n)", "never"])
            #expect(reply.errorCode == "NOQUORUM", "SET on the survivor answered \(reply)")
            if case .error(let message) = reply { #expect(message.contains("nothing was written")) }
        }
        // A stale read still answers from the survivor's state: nothing was lost there.
        #expect(try survivor.call(["READMODE", "stale"]) == .simple("OK"))
        for key in acknowledged.keys.sorted() {
            #expect(try survivor.call(["GET", key]) == .text(acknowledged[key] ?? ""), "stale GET \(key) on the survivor")
        }

        try cluster.start(2)
        try cluster.start(3)
        let healed = cluster.waitUntil { cluster.allQuorate(members: [1, 2, 3]) }
        try #require(healed, "\(cluster.logTails())")
        expectReadable(acknowledged, on: [1, 2, 3], cluster)
        // The refused writes were not applied anywhere.
        for node in 1...3 {
            for n in 0..<5 {
                #expect(cluster.confirmedGet("maj:refused:\(n)", on: node) == .bulk(nil), "refused key \(n) on node \(node)")
            }
        }
        // And the healed cluster takes writes again, through the node that was alone.
        #expect(cluster.acknowledgedSet("maj:after", "1", on: 1))
    }

    @Test(.timeLimit(.minutes(6))) func killNineOfAllThreeAndRestartKeepsEveryAcknowledgedWrite() throws {
        let cluster = try ProcessCluster.startedQuorate()
        defer { cluster.stopAll() }
        let acknowledged = writeAcknowledged(cluster, prefix: "all", count: 40)
        let ringBefore = cluster.status(of: 1)?["ring_seq"] as? Int ?? 0

        // No SIGTERM, no chance to flush: the last acknowledgement came just before.
        for id in 1...3 { cluster.kill9(id) }
        for id in 1...3 { try cluster.start(id) }
        let reformed = cluster.waitUntil { cluster.allQuorate(members: [1, 2, 3]) }
        try #require(reformed, "\(cluster.logTails())")
        #expect((cluster.status(of: 1)?["ring_seq"] as? Int ?? 0) > ringBefore)
        expectReadable(acknowledged, on: [1, 2, 3], cluster)
    }
}
