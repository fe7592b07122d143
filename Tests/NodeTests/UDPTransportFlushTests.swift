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
}
