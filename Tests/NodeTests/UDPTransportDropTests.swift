import Basics
import NIOCore
import NIOPosix
import Testing
import Totem
import TotemConfig
@testable import Node

/// A plain UDP socket for sending whatever bytes a test wants.
struct RawSender {
    let channel: any Channel

    static func bind(host: String, on loop: any EventLoop) async throws -> RawSender {
        RawSender(channel: try await DatagramBootstrap(group: loop).bind(host: host, port: 0).get())
    }

    /// Returns once the datagram has been handed to the kernel (on loopback: once it sits in
    /// the receiver's socket queue).
    func send(_ bytes: [UInt8], to address: SocketAddress) async throws {
        let buffer = channel.allocator.buffer(bytes: bytes)
        try await channel.writeAndFlush(AddressedEnvelope(remoteAddress: address, data: buffer)).get()
    }

    func close() async {
        try? await channel.close().get()
    }
}

/// Re-reads a ring's counters on its loop until `condition` holds: for a datagram that is
/// already in a socket queue, or a rebind timer, whose effect no delivery reveals (the
/// counters have no change notification). Each read is one loop turn, which also reads the
/// sockets; between reads the task waits a millisecond rather than `Task.yield()`, which under
/// a full test run kept a cooperative thread spinning and starved the tasks it waited for.
/// Bounded by `Inbox.timeout`.
func waitForCounters(_ node: TestNode, ring: Int,
                     until condition: @escaping @Sendable (UDPTransportCounters) -> Bool) async throws -> UDPTransportCounters {
    let deadline = ContinuousClock.now + Inbox.timeout
    while true {
        let counts = try await counters(node, ring: ring)
        if condition(counts) { return counts }
        guard ContinuousClock.now < deadline else {
            Issue.record("counters never matched: \(counts)")
            return counts
        }
        try await Task.sleep(for: .milliseconds(1))
    }
}

@Suite("UDP transport: dropped traffic")
struct UDPTransportDropTests {
    @Test("foreign and malformed datagrams are counted by reason and never delivered")
    func garbageIsCountedAndDropped() async throws {
        try await withLoops(1) { group in
            let loop = group.next()
            let nodes = try await bindCluster([1, 2], loops: [loop])
            let (a, b) = (nodes[0], nodes[1])
            let target = b.transport.localAddresses[0]
            let listed = try await RawSender.bind(host: "127.0.0.1", on: loop)
            let unlisted = try await RawSender.bind(host: "127.0.0.9", on: loop)
            let valid = WireCodec.encode(mcast(from: 1, seq: 7), ringNumber: 0)

            try await unlisted.send(valid, to: target)
            try await listed.send([UInt8](repeating: 0xDE, count: 100), to: target)
            try await listed.send(Array(valid.prefix(valid.count / 2)), to: target)
            try await listed.send([0x54, 0x4B, 1, 1, 0], to: target)
            try await listed.send(WireCodec.encode(mcast(from: 1, seq: 7), ringNumber: 1), to: target)
            try await listed.send(WireCodec.encode(mcast(from: 9, seq: 7), ringNumber: 0), to: target)
            try await listed.send(WireCodec.encode(mcast(from: 2, seq: 7), ringNumber: 0), to: target)
            // A replay from a listed address is delivered: without secauth the transport cannot
            // tell it from the original, and the protocol core drops duplicates.
            try await listed.send(valid, to: target)
            a.transport.send(mcast(from: 1, seq: 8), to: .node(NodeID(2)), onRing: 0)

            let received = try await b.inbox.wait(forCount: 2)
            #expect(received.map(\.packet) == [mcast(from: 1, seq: 7), mcast(from: 1, seq: 8)])
            let counts = try await counters(b)
            #expect(counts.datagramsReceived == 9)
            #expect(counts.packetsDelivered == 2)
            #expect(counts[drop: .unlistedSource] == 1)
            #expect(counts[drop: .malformed] == 3)
            #expect(counts.malformed[.badMagic] == 1)
            #expect(counts.malformed[.truncatedBody] == 1)
            #expect(counts.malformed[.truncatedHeader] == 1)
            #expect(counts[drop: .ringMismatch] == 1)
            #expect(counts[drop: .senderMismatch] == 2)
            #expect(counts.receiveDropsTotal == 7)
            await listed.close()
            await unlisted.close()
            await closeAll(nodes)
        }
    }

    @Test("with block_unlisted_ips off, any source is accepted")
    func unlistedAllowedWhenNotBlocking() async throws {
        try await withLoops(1) { group in
            let loop = group.next()
            let inbox = Inbox()
            let transport = try await UDPTransport.bind(
                UDPTransport.Configuration(localNodeID: NodeID(2),
                                           interfaces: [TotemOptions.Interface(ringNumber: 0, mcastPort: 0)],
                                           members: [.init(nodeID: NodeID(2), ring0Address: "127.0.0.1", port: 0)],
                                           blockUnlistedIPs: false),
                on: loop, receiver: inbox.receiver)
            let stranger = try await RawSender.bind(host: "127.0.0.9", on: loop)
            try await stranger.send(WireCodec.encode(mcast(from: 9, seq: 1), ringNumber: 0),
                                    to: transport.localAddresses[0])
            #expect(try await inbox.wait(forCount: 1)[0].packet == mcast(from: 9, seq: 1))
            await stranger.close()
            await transport.close()
        }
    }

    @Test("a blocked ring drops its traffic both ways while the other ring keeps working")
    func blockedRing() async throws {
        try await withLoops(1) { group in
            let nodes = try await bindCluster([1, 2], rings: [0, 1], loops: [group.next()])
            let (a, b) = (nodes[0], nodes[1])
            #expect(a.transport.ringNumbers == [0, 1])

            // Receiver side blocked: ring 1's copy is dropped at B, ring 0's arrives.
            try await b.transport.setRingBlocked(1, true).get()
            #expect(try await b.transport.eventLoop.submit { b.transport.isRingBlocked(1) }.get())
            a.transport.send(mcast(from: 1, seq: 1), to: .broadcast, onRing: 1)
            a.transport.send(mcast(from: 1, seq: 1), to: .broadcast, onRing: 0)
            let first = try await b.inbox.wait(forCount: 1)
            #expect(first.map(\.ringNumber) == [0])
            // Ring 1's socket is another queue: wait until B has read that datagram.
            let blocked = try await waitForCounters(b, ring: 1) { $0.datagramsReceived == 1 }
            #expect(blocked[drop: .ringBlocked] == 1)
            #expect(blocked.packetsDelivered == 0)

            // Sender side blocked: nothing leaves A on ring 1.
            try await b.transport.setRingBlocked(1, false).get()
            try await a.transport.setRingBlocked(1, true).get()
            a.transport.send(mcast(from: 1, seq: 2), to: .broadcast, onRing: 1)
            try await a.transport.setRingBlocked(1, false).get()
            a.transport.send(mcast(from: 1, seq: 3), to: .broadcast, onRing: 1)
            let all = try await b.inbox.wait(forCount: 2)
            #expect(all[1].packet == mcast(from: 1, seq: 3))
            #expect(all[1].ringNumber == 1)
            let countsA = try await counters(a, ring: 1)
            #expect(countsA[drop: .sendBlocked] == 1)
            #expect(countsA.datagramsSent == 2)
            let countsB = try await counters(b, ring: 1)
            #expect(countsB.datagramsReceived == 2)
            #expect(countsB.packetsDelivered == 1)
            await closeAll(nodes)
        }
    }

    @Test("a unicast to a node without an address is counted, not sent")
    func unicastToUnknownNode() async throws {
        try await withLoops(1) { group in
            let nodes = try await bindCluster([1], loops: [group.next()])
            nodes[0].transport.send(mcast(from: 1, seq: 1), to: .node(NodeID(5)), onRing: 0)
            let counts = try await counters(nodes[0])
            #expect(counts[drop: .sendToUnknownNode] == 1)
            #expect(counts.datagramsSent == 0)
            await closeAll(nodes)
        }
    }
}
