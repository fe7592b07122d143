import Basics
import CMap
import Replication
import Simulation
import Testing
import TotemConfig

/// A write batch through whole simulated nodes (Totem, replica, store): one log entry on
/// every node, applied at one index with each write's own result, the same state everywhere.
@Suite struct WriteBatchSimulationTests {
    struct Scenario {
        var cluster: ReplicationCluster
        var nextToken: UInt64 = 1

        init(nodes: Int, seed: UInt64) {
            var settings = TotemOptions.Settings()
            settings.token = 300
            settings.tokenCoefficient = 0
            cluster = ReplicationCluster(nodeCount: nodes, options: TotemOptions(settings, nodeCount: nodes),
                                         conditions: .calm, random: SeededGenerator(seed: seed))
            for i in 0..<nodes { cluster.start(i) }
        }

        mutating func run(milliseconds: UInt32) {
            cluster.run(until: cluster.now + Milliseconds(milliseconds), eventLimit: 20_000_000) { _, _ in }
        }

        mutating func ask(_ request: ReplicatedNode.ClientRequest, at node: Int) -> ReplicatedNode.ClientReply? {
            let token = ClientToken(nextToken)
            nextToken += 1
            guard cluster.request(token, request, at: node) else { return nil }
            for _ in 0..<120 {
                if let reply = cluster.replies.first(where: { $0.token == token }) {
                    cluster.replies.removeAll { $0.token == token }
                    return reply.reply
                }
                run(milliseconds: 50)
            }
            return nil
        }
    }

    @Test func aBatchIsOneEntryAppliedAlikeOnEveryNode() {
        var s = Scenario(nodes: 3, seed: 11)
        s.run(milliseconds: 3_000)
        let a = CMapKey("a"), b = CMapKey("b")
        guard case .result(.ok, _)? = s.ask(.write(.set(b, .string("x")), clientID: 0, clientSeq: 0), at: 1) else {
            Issue.record("no ring")
            return
        }
        let ops: [CMapOperation] = [.set(a, .string("1")), .incrementBy(a, by: 4), .incrementBy(b, by: 1),
                                    .delete(CMapKey("none")), .delete(b)]
        let reply = s.ask(.writeBatch(ops, clientID: 77, clientSeq: 3), at: 0)
        guard case .result(let result, let index)? = reply else {
            Issue.record("batch: \(String(describing: reply))")
            return
        }
        #expect(result == .batch([.ok, .integer(5), .error(.notAnInteger(key: b)), .notFound, .ok]))
        s.run(milliseconds: 1_000)
        for node in 0..<3 {
            guard let core = s.cluster.core(node) else {
                Issue.record("node \(node) down")
                continue
            }
            #expect(core.store.state.appliedIndex >= index)
            #expect(core.store.state.entry(for: a) == CMapEntry(value: .string("5"), version: index))
            #expect(core.store.state.entry(for: b) == nil)
            let record = core.store.state.duplicateRecord(for: ClientID(77))
            #expect(record == DuplicateRecord(requestID: 3, index: index, result: result))
            // One entry carries the whole batch.
            let entry = s.cluster.logEntries(node)?.first { $0.index == index }
            let decoded = entry.flatMap { try? CMapCodec.decodeEntryOperation($0.op) }
            #expect(decoded == .batch(ops))
        }
        #expect(Set((0..<3).compactMap { s.cluster.core($0)?.store.state.stateHash }).count == 1)
    }

    @Test func aBatchTheNodeCannotTakeIsRefusedWhole() {
        var s = Scenario(nodes: 1, seed: 5)
        s.run(milliseconds: 2_000)
        let a = CMapKey("a")
        let refused: [[CMapOperation]] = [
            [],
            [.set(a, .uint8(1)), .get(a)],
            [.set(a, .uint8(1)), .set(CMapKey("totemkv.quorum.voters"), .uint8(1))],
            Array(repeating: .delete(a), count: CMapBatch.operationsMax + 1),
            // Past the batch's byte bound, though each value is within the store's limit.
            Array(repeating: .set(a, .binary(Array(repeating: 7, count: CMapBatch.encodedBytesMax / 2))), count: 2),
        ]
        for ops in refused {
            let reply = s.ask(.writeBatch(ops, clientID: 0, clientSeq: 0), at: 0)
            guard case .rejected? = reply else {
                Issue.record("\(ops.count) ops: \(String(describing: reply))")
                continue
            }
        }
        #expect(s.cluster.core(0)?.store.state.entry(for: a) == nil)
    }
}
