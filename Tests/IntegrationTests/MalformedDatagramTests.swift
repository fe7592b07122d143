import Basics
import Foundation
import NIOCore
import NIOPosix
import RESP
import Testing
import Totem

/// Junk sent to a real node's Totem port: random bytes, truncated packets, and well-formed
/// packets replayed (from a member's address, and from an address that is no member's).
/// Every datagram is counted as rejected (METRICS and INFO) and the ring keeps committing.
@Suite(.serialized)
struct MalformedDatagramTests {
    static let randomCount = 40
    static let replayCount = 15

    @Test(.timeLimit(.minutes(5))) func junkIsCountedAndTheRingKeepsCommitting() async throws {
        let (cluster, formed) = try await ProcessCluster.formed()
        defer { cluster.stopAll() }
        #expect(formed, "\(formed ? "" : cluster.logTails())")
        guard formed else { return }
        for n in 0..<5 { #expect(await cluster.setAcknowledged(1, "before.\(n)", "v") == .ok) }
        // The ring to replay packets of: one in which node 1 has delivered a write of its own
        // (so its first sequence numbers are delivered and it has held the token), unchanged
        // across that write.
        var ring: RingID?
        for attempt in 0..<20 where ring == nil {
            let first = try await cluster.call(1, ["INFO", "replication"]).infoField("ring_id")
            guard await cluster.setAcknowledged(1, "probe.\(attempt)", "v") == .ok else { continue }
            let second = try await cluster.call(1, ["INFO", "replication"]).infoField("ring_id")
            guard let first, first == second else { continue }
            let parts = first.split(separator: ".")
            if parts.count == 2, let rep = UInt32(parts[0]), let seq = UInt64(parts[1]) {
                ring = RingID(representative: NodeID(rep), seq: seq)
            }
        }
        let current = try #require(ring, "the ring never stayed the same across one write")

        let before = PrometheusSamples(try await cluster.call(1, ["METRICS"]))
        let infoBefore = UInt64(try await cluster.call(1, ["INFO", "stats"]).infoField("packets_rejected") ?? "") ?? 0

        // From node 2's address (so the transport's address check passes) to node 1.
        let member = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.2", port: 0).get()
        let stranger = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.9", port: 0).get()
        defer {
            member.close(promise: nil)
            stranger.close(promise: nil)
        }
        let target = try SocketAddress(ipAddress: "127.0.0.1", port: cluster.totemPort)
        func send(_ bytes: [UInt8], from channel: any Channel) async throws {
            var buffer = ByteBuffer()
            buffer.writeBytes(bytes)
            try await channel.writeAndFlush(AddressedEnvelope(remoteAddress: target, data: buffer)).get()
        }

        // 1. Random bytes (seeded: a failure reproduces).
        var random = SeededGenerator(seed: 0x7073_7461_6c6c)
        for _ in 0..<Self.randomCount {
            let count = Int.random(in: 1...300, using: &random)
            try await send((0..<count).map { _ in UInt8.random(in: 0...255, using: &random) }, from: member)
        }
        // 2. Truncated packets: prefixes of a well-formed mcast.
        let mcast = WireCodec.encode(TotemPacket(sender: NodeID(2), message: .mcast(
            Mcast(ringID: current, originator: NodeID(2), seq: 1, body: .application(Array("replayed".utf8))))), ringNumber: 0)
        let cuts = Array(stride(from: 1, to: mcast.count, by: max(1, mcast.count / 12)))
        for cut in cuts { try await send(Array(mcast.prefix(cut)), from: member) }
        // 3. Replays of well-formed packets of the current ring: an old mcast and an old token
        //    (Totem drops both as already seen), and the same from a stranger's address.
        let token = WireCodec.encode(TotemPacket(sender: NodeID(2), message: .token(OrderingToken(
            ringID: current, tokenSeq: 0, seq: 0, aru: 0, aruAddress: nil, fcc: 0, backlog: 0,
            isRetransmitting: false, retransmitRequests: []))), ringNumber: 0)
        for _ in 0..<Self.replayCount {
            try await send(mcast, from: member)
            try await send(token, from: member)
            try await send(mcast, from: stranger)
        }

        let malformed = Double(Self.randomCount + cuts.count)
        // The replayed tokens always land in a Totem counter (stale, foreign, or discarded
        // while the ring re-forms); the replayed mcasts do only while the ring is the one they
        // name (a message of another ring makes Totem look for members instead).
        let totemReplays = Double(Self.replayCount)
        let counted = await cluster.eventually(attempts: 300) {
            guard let after = try? PrometheusSamples(await cluster.call(1, ["METRICS"])) else { return false }
            let family = "totemkv_packets_rejected_total"
            let transport = [#"layer="transport""#]
            return after.sum(family, where: transport + [#"reason="malformed""#])
                    - before.sum(family, where: transport + [#"reason="malformed""#]) >= malformed
                && after.sum(family, where: transport + [#"reason="unlisted_source""#])
                    - before.sum(family, where: transport + [#"reason="unlisted_source""#]) >= Double(Self.replayCount)
                && after.sum(family, where: [#"layer="totem""#]) - before.sum(family, where: [#"layer="totem""#]) >= totemReplays
        }
        let after = PrometheusSamples(try await cluster.call(1, ["METRICS"]))

        #expect(counted, "METRICS after the junk:\n\(after.text)")
        // The codec says why: a reason per malformed datagram.
        #expect(after.sum("totemkv_packets_malformed_total") - before.sum("totemkv_packets_malformed_total") >= malformed)
        let infoAfter = UInt64(try await cluster.call(1, ["INFO", "stats"]).infoField("packets_rejected") ?? "") ?? 0
        #expect(infoAfter >= infoBefore + UInt64(malformed + totemReplays) + UInt64(Self.replayCount))

        // The ring keeps committing: writes through every node, read back everywhere.
        for n in 0..<9 {
            let id = n % 3 + 1
            let reply = await cluster.setAcknowledged(id, "after.\(n)", "value-\(n)")
            #expect(reply == .ok, "SET after.\(n) at node \(id): \(reply?.cliText() ?? "no reply")")
        }
        for id in 1...3 {
            for n in 0..<9 {
                let reply = await cluster.getAnswered(id, "after.\(n)")
                #expect(reply?.string == "value-\(n)", "GET after.\(n) at node \(id): \(reply?.cliText() ?? "no reply")")
            }
        }
    }
}
