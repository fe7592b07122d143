import Basics
import CMap
import Quorum
import Testing
@testable import Replication

/// The quorum service's bytes in the replication layer, and the replica's rules for
/// changing its commit voters (Replica+Voters.swift).
@Suite struct ReconfigurationTests {
    @Test func nodeInfoRingMessageRoundTripsAndRejectsGarbage() throws {
        let info = NodeInfo(nodeID: NodeID(3), votes: 2, expectedVotes: 5, flags: [.quorate, .first])
        let message = RingMessage.nodeInfo(ringID: RingID(representative: NodeID(1), seq: 44), info)
        let bytes = message.encoded()
        #expect(RingMessage.isNodeInfo(bytes))
        #expect(try RingMessage(decoding: bytes) == message)
        // Every truncation and every single-byte change decodes or throws; none traps.
        for cut in 0..<bytes.count { #expect(throws: (any Error).self) { try RingMessage(decoding: Array(bytes[..<cut])) } }
        for i in bytes.indices {
            var mutated = bytes
            mutated[i] ^= 0xFF
            _ = try? RingMessage(decoding: mutated)
        }
        #expect(throws: (any Error).self) { try RingMessage(decoding: bytes + [0]) }
    }

    @Test func reconfigurationEntriesAreADistinctKind() throws {
        let change = Reconfiguration.nodeVotes(NodeID(4), 2)
        let op = ReconfigurationEntry.encode(change)
        #expect(ReconfigurationEntry.isReconfiguration(op))
        #expect(try ReconfigurationEntry.decode(op) == change)
        let cmap = CMapCodec.encode(.set(CMapKey("a"), .string("b")))
        #expect(!ReconfigurationEntry.isReconfiguration(cmap))
        #expect(try ReconfigurationEntry.decode(cmap) == nil)
        #expect(throws: DecodeError.self) { try ReconfigurationEntry.decode(Array(op.dropLast())) }
        var badVersion = op
        badVersion[1] = 9
        #expect(throws: DecodeError.self) { try ReconfigurationEntry.decode(badVersion) }
        var badParameter = op
        badParameter[3] = 7
        #expect(throws: DecodeError.self) { try ReconfigurationEntry.decode(badParameter) }
    }

    @Test func clientsCannotWriteTheReservedKeys() {
        #expect(ReconfigurationEntry.touchesReservedKey(.set(ReconfigurationEntry.configurationKey, .string("x"))))
        #expect(ReconfigurationEntry.touchesReservedKey(.delete(CMapKey("totemkv.quorum.other"))))
        #expect(!ReconfigurationEntry.touchesReservedKey(.set(CMapKey("totemkv.quorumx"), .string("x"))))
        #expect(!ReconfigurationEntry.touchesReservedKey(.get(ReconfigurationEntry.configurationKey)))
    }

    @Test func votersCarryTheExpectedVotesOverride() throws {
        let configuration = try VoterConfiguration(nodes: [NodeID(1), NodeID(2), NodeID(3)], expectedVotes: 5)
        let voters = Voters(configuration)
        #expect(voters.majorityVotes == 3)
        #expect(voters.voterConfiguration == configuration)
        #expect(!voters.isMajority([NodeID(1), NodeID(2)]))
        // An override below the total never weakens the majority.
        #expect(Voters(try configuration.settingExpectedVotes(1)).majorityVotes == 2)
    }

    /// Rule 2 of Replica+Voters.swift: the commit index stops at an unapplied
    /// reconfiguration. Here node 4 joins the voters (3 → 4 voters, majority 2 → 3) while
    /// only nodes 1 and 2 are in the ring: the reconfiguration commits under the old voters,
    /// the write after it must wait for a majority of the new ones.
    @Test func commitStopsAtAReconfigurationUntilItIsApplied() {
        var cluster = MiniCluster(nodeIDs: [1, 2, 3])
        cluster.configure([1, 2])
        let first = cluster.write(at: 1, "a=1")
        #expect(cluster.replies[first] == "OK")
        // Both are ordered and appended, and the acknowledgements of the reconfiguration alone
        // are lost (peer messages may be): the acks that arrive cover the write too, and the
        // old voters alone would count it committed.
        cluster.autoDeliver = false
        let token = ClientToken(100)
        cluster.feed(NodeID(1), .writeRequested(token, clientID: 0, clientSeq: 0,
                                                op: ReconfigurationEntry.encode(.nodeVotes(NodeID(4), 1)), at: cluster.now))
        let after = cluster.write(at: 2, "x=1")
        while !cluster.orderQueue.isEmpty {
            let (from, bytes) = cluster.orderQueue.removeFirst()
            for m in cluster.members { cluster.feed(m, .delivered(originator: from, payload: bytes[...], at: cluster.now)) }
        }
        cluster.peerQueue.removeAll {
            if case .ack(_, let durable, _) = $0.2 { return durable < LogIndex(3) }
            return false
        }
        cluster.autoDeliver = true
        cluster.settle()
        #expect(cluster.replies[token] == "OK")
        for id: UInt32 in [1, 2] {
            #expect(cluster.replica(id).configuration.voters.votes(of: NodeID(4)) == 1)
            #expect(cluster.replica(id).commitIndex == LogIndex(2), "node \(id)")
        }
        #expect(cluster.replies[after] == nil)
        // Node 3 brings the ring to 3 of the 4 voters: the write commits.
        cluster.configure([1, 2, 3])
        #expect(cluster.replies[after] == "OK")
        #expect(cluster.replica(3).configuration.voters.votes(of: NodeID(4)) == 1)
    }

    /// A member behind in delivery must not count the others' acknowledgements past its own
    /// log: an entry it has not received may change the voters. Here node 4 joins the voters
    /// (majority 2 → 3) at index 2; nodes 1 and 2 deliver it and a write, and their acks
    /// for index 3 reach node 3, which has neither entry yet. Under the old voters 1 + 2 is
    /// a majority, under the new ones it is not.
    @Test func aLaggingMemberDoesNotCommitPastEntriesItHasNotReceived() {
        var cluster = MiniCluster(nodeIDs: [1, 2, 3])
        cluster.configure([1, 2, 3])
        let first = cluster.write(at: 1, "a=1")
        #expect(cluster.replies[first] == "OK")
        let held = cluster.replica(3).lastIndex
        cluster.autoDeliver = false
        cluster.feed(NodeID(1), .writeRequested(ClientToken(100), clientID: 0, clientSeq: 0,
                                                op: ReconfigurationEntry.encode(.nodeVotes(NodeID(4), 1)), at: cluster.now))
        _ = cluster.write(at: 2, "x=1")
        while !cluster.orderQueue.isEmpty {
            let (from, bytes) = cluster.orderQueue.removeFirst()
            for m: UInt32 in [1, 2] { cluster.feed(NodeID(m), .delivered(originator: from, payload: bytes[...], at: cluster.now)) }
        }
        #expect(cluster.replica(1).lastIndex > held.next)
        let toThree = cluster.peerQueue.filter { $0.to == NodeID(3) }
        cluster.peerQueue.removeAll()
        for (from, to, message) in toThree { cluster.feed(to, .peerMessageReceived(from: from, message, at: cluster.now)) }
        #expect(cluster.replica(3).lastIndex == held)
        #expect(cluster.replica(3).commitIndex <= held)
    }

    /// A reconfiguration that breaks the single-voter rule at the point it is applied
    /// changes nothing.
    @Test func anUnsafeReconfigurationChangesNothingWhenApplied() {
        var cluster = MiniCluster(nodeIDs: [1, 2, 3])
        cluster.configure([1, 2, 3])
        let before = cluster.replica(1).configuration.voters
        cluster.feed(NodeID(1), .writeRequested(ClientToken(7), clientID: 0, clientSeq: 0,
                                                op: ReconfigurationEntry.encode(.nodeVotes(NodeID(2), 4)), at: cluster.now))
        #expect(cluster.replies[ClientToken(7)] == "OK")  // applied, as an entry
        for id: UInt32 in [1, 2, 3] { #expect(cluster.replica(id).configuration.voters == before) }
    }
}
