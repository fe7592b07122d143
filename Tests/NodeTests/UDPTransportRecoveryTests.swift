import Basics
import NIOCore
import NIOPosix
import Testing
import Totem
@testable import Node

@Suite("UDP transport: socket failure and rebinding")
struct UDPTransportRecoveryTests {
    /// Closes a ring's unicast socket behind the transport's back, as NIO does after a send
    /// error it cannot recover from.
    func failSocket(of node: TestNode) async throws {
        let channel = try await node.transport.eventLoop.submit {
            node.transport.unicastChannel(ringIndex: 0)
        }.get()
        try #require(channel != nil)
        try await channel?.close().get()
    }

    @Test("a failed socket is bound again on the same port and traffic flows both ways")
    func rebindAfterFailure() async throws {
        try await withLoops(1) { group in
            let nodes = try await bindCluster([1, 2], loops: [group.next()], rebindIntervalMilliseconds: 10)
            let (a, b) = (nodes[0], nodes[1])
            let address = b.transport.localAddresses[0]
            try await failSocket(of: b)
            let recovered = try await waitForCounters(b, ring: 0) { $0.socketRebinds == 1 }
            #expect(recovered.socketFailures == 1)
            #expect(b.transport.localAddresses[0] == address)

            a.transport.send(mcast(from: 1, seq: 1), to: .node(NodeID(2)), onRing: 0)
            #expect(try await b.inbox.wait(forCount: 1).map(\.packet) == [mcast(from: 1, seq: 1)])
            b.transport.send(mcast(from: 2, seq: 2), to: .node(NodeID(1)), onRing: 0)
            #expect(try await a.inbox.wait(forCount: 1).map(\.packet) == [mcast(from: 2, seq: 2)])
            await closeAll(nodes)
        }
    }

    @Test("while the socket is down, sends are counted as socketDown")
    func sendsWhileDown() async throws {
        try await withLoops(1) { group in
            // A long interval: the socket stays down for the whole test.
            let nodes = try await bindCluster([1, 2], loops: [group.next()], rebindIntervalMilliseconds: 60_000)
            let b = nodes[1]
            try await failSocket(of: b)
            _ = try await waitForCounters(b, ring: 0) { $0.socketFailures == 1 }
            b.transport.send(mcast(from: 2, seq: 1), to: .broadcast, onRing: 0)
            let counts = try await counters(b)
            #expect(counts[drop: .socketDown] == 1)
            #expect(counts.datagramsSent == 0)
            #expect(counts.socketRebinds == 0)
            await closeAll(nodes)
        }
    }

    @Test("after close, sends are counted and nothing is rebound")
    func closeStopsEverything() async throws {
        try await withLoops(1) { group in
            let nodes = try await bindCluster([1, 2], loops: [group.next()], rebindIntervalMilliseconds: 10)
            await nodes[0].transport.close()
            nodes[0].transport.send(mcast(from: 1, seq: 1), to: .broadcast, onRing: 0)
            let counts = try await counters(nodes[0])
            #expect(counts[drop: .socketDown] == 1)
            #expect(counts.socketFailures == 0)
            await closeAll(nodes)
        }
    }
}
