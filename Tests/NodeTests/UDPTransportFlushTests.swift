import Basics
import NIOCore
import NIOPosix
import Testing
import Totem
@testable import Node

/// When writes leave (UDPTransport.flush): broadcasts at the end of the loop turn, a unicast
/// (the token) at once with every ring's broadcasts written before it.
@Suite("UDP transport: flushing")
struct UDPTransportFlushTests {
    @Test("a unicast flushes the broadcasts pending on every ring, not only its own")
    func unicastFlushesEveryRing() async throws {
        try await withLoops(1) { group in
            let loop = group.next()
            let nodes = try await bindCluster([1, 2], rings: [0, 1], loops: [loop])
            let (a, b) = (nodes[0], nodes[1])
            let pending = try await loop.submit { () -> [Int] in
                // Passive mode: the broadcasts of a visit on ring 1, the token on ring 0.
                a.transport.send(mcast(from: 1, seq: 1), to: .broadcast, onRing: 1)
                a.transport.send(mcast(from: 1, seq: 2), to: .broadcast, onRing: 0)
                let afterBroadcasts = a.transport.state.value.channelsToFlush.count
                a.transport.send(mcast(from: 1, seq: 3), to: .node(NodeID(2)), onRing: 0)
                return [afterBroadcasts, a.transport.state.value.channelsToFlush.count]
            }.get()
            #expect(pending == [2, 0])
            let received = try await b.inbox.wait(forCount: 3)
            #expect(Set(received.map(\.packet)) == [mcast(from: 1, seq: 1), mcast(from: 1, seq: 2), mcast(from: 1, seq: 3)])
            await closeAll(nodes)
        }
    }

    @Test("a token hold cancel goes out at once, with the broadcasts pending before it")
    func holdCancelIsNotBatched() async throws {
        try await withLoops(1) { group in
            let loop = group.next()
            let nodes = try await bindCluster([1, 2], rings: [0], loops: [loop])
            let (a, b) = (nodes[0], nodes[1])
            let cancel = TotemPacket(sender: NodeID(1), message: .tokenHoldCancel(
                TokenHoldCancel(ringID: RingID(representative: NodeID(1), seq: 4))))
            let pending = try await loop.submit { () -> [Int] in
                a.transport.send(mcast(from: 1, seq: 1), to: .broadcast, onRing: 0)
                let afterMessage = a.transport.state.value.channelsToFlush.count
                a.transport.send(cancel, to: .broadcast, onRing: 0)
                return [afterMessage, a.transport.state.value.channelsToFlush.count]
            }.get()
            // The message waits for the end of the turn; the cancel flushes it and itself.
            #expect(pending == [1, 0])
            let received = try await b.inbox.wait(forCount: 2)
            #expect(received.map(\.packet) == [mcast(from: 1, seq: 1), cancel])
            await closeAll(nodes)
        }
    }

    @Test("only messages wait for a token")
    func onlyMessagesWait() {
        let ring = RingID(representative: NodeID(1), seq: 4)
        #expect(UDPTransport.waitsForToken(mcast(from: 1, seq: 1)))
        #expect(!UDPTransport.waitsForToken(TotemPacket(sender: NodeID(1), message: .tokenHoldCancel(TokenHoldCancel(ringID: ring)))))
        #expect(!UDPTransport.waitsForToken(TotemPacket(sender: NodeID(1), message: .mergeDetect(MergeDetect(ringID: ring)))))
    }
}
