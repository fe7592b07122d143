#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Basics
import NIOCore
import NIOPosix
import Testing
import Totem
import TotemConfig
@testable import Node

/// Whether this host lets a socket join a multicast group on the loopback (127.0.0.1). Linux
/// usually does even without `ip link set lo multicast on`, when the sender names the
/// interface (IP_MULTICAST_IF), which the transport does.
func multicastOnLoopbackWorks() -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var request = ip_mreq()
    request.imr_multiaddr.s_addr = UInt32(0xEFFF_2A01).bigEndian  // 239.255.42.1
    request.imr_interface.s_addr = UInt32(0x7F00_0001).bigEndian  // 127.0.0.1
    let result = setsockopt(fd, Int32(IPPROTO_IP), IP_ADD_MEMBERSHIP, &request,
                            socklen_t(MemoryLayout<ip_mreq>.size))
    return result == 0
}

@Suite("UDP transport: udp (IP multicast)")
struct UDPTransportMulticastTests {
    @Test("three nodes on 127.0.0.2-4 exchange multicast broadcasts and unicasts",
          .enabled(if: multicastOnLoopbackWorks(),
                   "joining a multicast group on lo failed here; the udp mode test needs it"))
    func multicastBroadcast() async throws {
        try await withLoops(1) { group in
            let loop = group.next()
            let probe = try await DatagramBootstrap(group: loop).bind(host: "127.0.0.2", port: 0).get()
            let port = UInt16(probe.localAddress?.port ?? 0)
            try await probe.close().get()
            // A group of its own per run, derived from the port.
            let groupAddress = "239.255.\(port >> 8).\(port & 0xFF)"
            let interface = TotemOptions.Interface(ringNumber: 0, mcastAddr: groupAddress, mcastPort: port, ttl: 1)
            let members = (2...4).map { UDPTransport.Member(nodeID: NodeID(UInt32($0)), ring0Address: "127.0.0.\($0)") }
            var nodes: [TestNode] = []
            for id in 2...4 {
                let inbox = Inbox()
                let transport = try await UDPTransport.bind(
                    UDPTransport.Configuration(localNodeID: NodeID(UInt32(id)), mode: .udp,
                                               interfaces: [interface], members: members),
                    on: loop, receiver: inbox.receiver)
                nodes.append(TestNode(id: NodeID(UInt32(id)), transport: transport, inbox: inbox))
            }
            let (a, b, c) = (nodes[0], nodes[1], nodes[2])

            a.transport.send(mcast(from: 2, seq: 1), to: .broadcast, onRing: 0)
            let atB = try await b.inbox.wait(forCount: 1)
            #expect(atB.map(\.packet) == [mcast(from: 2, seq: 1)])
            #expect(atB[0].source == a.transport.localAddresses[0])
            #expect(try await c.inbox.wait(forCount: 1).map(\.packet) == [mcast(from: 2, seq: 1)])
            // One datagram for the whole group.
            #expect(try await counters(a).datagramsSent == 1)

            // B's broadcast reaches A on the multicast socket, behind A's own looped-back copy.
            b.transport.send(mcast(from: 3, seq: 2), to: .broadcast, onRing: 0)
            #expect(try await a.inbox.wait(forCount: 1).map(\.packet) == [mcast(from: 3, seq: 2)])
            #expect(try await counters(a)[drop: .ownPacket] == 1)

            c.transport.send(mcast(from: 4, seq: 3), to: .node(NodeID(2)), onRing: 0)
            let atA = try await a.inbox.wait(forCount: 2)
            #expect(atA[1].packet == mcast(from: 4, seq: 3))
            await closeAll(nodes)
        }
    }

    @Test("udp mode refuses a non-multicast group address")
    func badGroupAddress() async throws {
        try await withLoops(1) { group in
            let interface = TotemOptions.Interface(ringNumber: 0, mcastAddr: "10.1.2.3", mcastPort: 0)
            let me = UDPTransport.Member(nodeID: NodeID(1), ring0Address: "127.0.0.1", port: 0)
            await #expect(throws: UDPTransportError.self) {
                let transport = try await UDPTransport.bind(
                    UDPTransport.Configuration(localNodeID: NodeID(1), mode: .udp, interfaces: [interface],
                                               members: [me]),
                    on: group.next()) { _ in }
                await transport.close()
            }
        }
    }
}
