import Basics
import NIOCore
import NIOPosix
import Testing
import Totem
import TotemConfig
@testable import Node

@Suite("UDP transport: secauth")
struct UDPTransportSecAuthTests {
    static let aes256 = PacketProtectionSuite(cipher: .aes256, hash: .sha256)

    @Test("members with the same key exchange encrypted packets",
          arguments: [PacketProtectionSuite(cipher: .aes256, hash: .sha256),
                      PacketProtectionSuite(cipher: .aes128, hash: .none),
                      PacketProtectionSuite(cipher: .none, hash: .sha1)])
    func sameKeyRoundTrip(suite: PacketProtectionSuite) async throws {
        try await withLoops(2) { group in
            let key = try KeyFile.generate()
            let nodes = try await bindCluster([1, 2, 3], loops: [group.next(), group.next()],
                                              suite: suite, keys: [key, key, key])
            let packet = mcast(from: 1, seq: 1, payload: Array("secret value".utf8))
            nodes[0].transport.send(packet, to: .broadcast, onRing: 0)
            #expect(try await nodes[1].inbox.wait(forCount: 1)[0].packet == packet)
            #expect(try await nodes[2].inbox.wait(forCount: 1)[0].packet == packet)
            let sent = try await counters(nodes[0])
            let datagramBytes = WireCodec.encode(packet, ringNumber: 0).count + suite.overheadByteCount
            #expect(sent.bytesSent == UInt64(2 * datagramBytes))
            await closeAll(nodes)
        }
    }

    @Test("a node with another key cannot join: its packets are rejected and counted, both ways")
    func wrongKeyIsRejected() async throws {
        try await withLoops(1) { group in
            let key = try KeyFile.generate()
            let otherKey = try KeyFile.generate()
            let nodes = try await bindCluster([1, 2, 3], loops: [group.next()], suite: Self.aes256,
                                              keys: [key, key, otherKey])
            let (a, b, intruder) = (nodes[0], nodes[1], nodes[2])
            intruder.transport.send(mcast(from: 3, seq: 1), to: .broadcast, onRing: 0)
            a.transport.send(mcast(from: 1, seq: 2), to: .broadcast, onRing: 0)
            // B's socket got the intruder's datagram first, then A's.
            #expect(try await b.inbox.wait(forCount: 1).map(\.packet) == [mcast(from: 1, seq: 2)])
            #expect(try await counters(b)[drop: .authenticationFailed] == 1)
            // The intruder hears A's broadcast and rejects it in turn.
            let atIntruder = try await waitForCounters(intruder, ring: 0) { $0.datagramsReceived == 1 }
            #expect(atIntruder[drop: .authenticationFailed] == 1)
            #expect(intruder.inbox.received.isEmpty)
            await closeAll(nodes)
        }
    }

    @Test("tampered, unprotected and differently protected datagrams are rejected before parsing")
    func tamperedDatagrams() async throws {
        try await withLoops(1) { group in
            let loop = group.next()
            let key = try KeyFile.generate()
            let nodes = try await bindCluster([1, 2], loops: [loop], suite: Self.aes256, keys: [key, key])
            let b = nodes[1]
            let target = b.transport.localAddresses[0]
            let raw = try await RawSender.bind(host: "127.0.0.1", on: loop)
            var forger = try PacketProtection(suite: Self.aes256, key: key)
            let plain = WireCodec.encode(mcast(from: 1, seq: 1), ringNumber: 0)

            var flippedBody = forger.seal(plain)
            flippedBody[40] ^= 0x01
            try await raw.send(flippedBody, to: target)
            var flippedTag = forger.seal(plain)
            flippedTag[flippedTag.count - 1] ^= 0x80
            try await raw.send(flippedTag, to: target)
            var flippedCounter = forger.seal(plain)
            flippedCounter[PacketProtection.headerByteCount + PacketProtection.sessionSaltByteCount] ^= 0x01
            try await raw.send(flippedCounter, to: target)
            var otherHash = forger.seal(plain)
            otherHash[2] = PacketProtectionSuite.Hash.sha1.rawValue
            try await raw.send(otherHash, to: target)
            try await raw.send(plain, to: target)
            try await raw.send(Array(forger.seal(plain).prefix(20)), to: target)
            // An authentic packet, sealed by the forger who has the key, is accepted.
            try await raw.send(forger.seal(WireCodec.encode(mcast(from: 1, seq: 2), ringNumber: 0)), to: target)

            #expect(try await b.inbox.wait(forCount: 1).map(\.packet) == [mcast(from: 1, seq: 2)])
            let counts = try await counters(b)
            #expect(counts[drop: .authenticationFailed] == 3)
            #expect(counts[drop: .suiteMismatch] == 1)
            #expect(counts[drop: .notProtected] == 1)
            #expect(counts[drop: .protectionTooShort] == 1)
            #expect(counts[drop: .malformed] == 0)
            #expect(counts.malformed.total == 0)
            await raw.close()
            await closeAll(nodes)
        }
    }

    @Test("a node without secauth and a node with it do not understand each other")
    func mixedConfiguration() async throws {
        try await withLoops(1) { group in
            let key = try KeyFile.generate()
            let loop = group.next()
            let plainNodes = try await bindCluster([1], loops: [loop])
            let secureNodes = try await bindCluster([2], loops: [loop], suite: Self.aes256, keys: [key])
            let plainNode = plainNodes[0]
            let secureNode = secureNodes[0]
            let members = [
                UDPTransport.Member(nodeID: NodeID(1), ring0Address: "127.0.0.1",
                                    port: UInt16(plainNode.transport.localAddresses[0].port ?? 0)),
                UDPTransport.Member(nodeID: NodeID(2), ring0Address: "127.0.0.1",
                                    port: UInt16(secureNode.transport.localAddresses[0].port ?? 0)),
            ]
            try await plainNode.transport.updateMembers(members).get()
            try await secureNode.transport.updateMembers(members).get()
            plainNode.transport.send(mcast(from: 1, seq: 1), to: .broadcast, onRing: 0)
            secureNode.transport.send(mcast(from: 2, seq: 1), to: .broadcast, onRing: 0)
            let atSecure = try await waitForCounters(secureNode, ring: 0) { $0.datagramsReceived == 1 }
            #expect(atSecure[drop: .notProtected] == 1)
            let atPlain = try await waitForCounters(plainNode, ring: 0) { $0.datagramsReceived == 1 }
            #expect(atPlain[drop: .malformed] == 1)
            #expect(atPlain.malformed[.badMagic] == 1)
            #expect(plainNode.inbox.received.isEmpty && secureNode.inbox.received.isEmpty)
            await closeAll(plainNodes + secureNodes)
        }
    }
}
