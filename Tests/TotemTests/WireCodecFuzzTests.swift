import Basics
import Testing
import Totem

/// Random valid packets, reproducible from a seed.
struct RandomPackets {
    var rng: SeededGenerator

    init(seed: UInt64) { rng = SeededGenerator(seed: seed) }

    mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &rng) }
    mutating func u64() -> UInt64 { rng.chance(0.5) ? UInt64(int(0...1000)) : rng.next() }
    mutating func u32() -> UInt32 { UInt32(truncatingIfNeeded: u64()) }
    mutating func bool() -> Bool { rng.chance(0.5) }

    mutating func node() -> NodeID {
        rng.chance(0.7) ? NodeID(UInt32(int(1...16))) : NodeID(UInt32.random(in: 1...UInt32.max, using: &rng))
    }

    mutating func ringID() -> RingID {
        RingID(representative: rng.chance(0.05) ? NodeID(0) : node(), seq: u64())
    }

    /// Distinct node ids in ascending order.
    mutating func ascendingNodes(count: Int) -> [NodeID] {
        var nodes: [NodeID] = []
        var next: UInt32 = 0
        for _ in 0..<count {
            next += UInt32(int(1...1000))
            nodes.append(NodeID(next))
        }
        return nodes
    }

    mutating func count(max: Int) -> Int {
        rng.chance(0.05) ? max : int(0...min(max, 8))
    }

    mutating func payload() -> [UInt8] {
        let size = rng.chance(0.01) ? int(0...70_000) : int(0...300)
        return (0..<size).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
    }

    mutating func applicationMcast() -> Mcast {
        Mcast(ringID: ringID(), originator: node(), seq: u64(), body: .application(payload()))
    }

    mutating func message() -> TotemMessage {
        switch int(0...6) {
        case 0:
            let requests = (0..<count(max: WireCodec.retransmitRequestsMax)).map { _ in
                RetransmitRequest(ringID: ringID(), seq: u64())
            }
            return .token(OrderingToken(
                ringID: ringID(), tokenSeq: u64(), seq: u64(), aru: u64(),
                aruAddress: bool() ? node() : nil, fcc: u32(), backlog: u32(),
                isRetransmitting: bool(), retransmitRequests: requests))
        case 1:
            var mcast = applicationMcast()
            if bool() { mcast = Mcast(ringID: ringID(), originator: node(), seq: u64(), body: .recovered(mcast)) }
            return .mcast(mcast)
        case 2:
            var proc = ascendingNodes(count: count(max: WireCodec.membersMax))
            proc.shuffle(using: &rng)
            let failed = ascendingNodes(count: count(max: WireCodec.membersMax))
            return .join(Join(procSet: proc, failedSet: failed, ringSeq: u64(), isLeave: bool()))
        case 3:
            let members = ascendingNodes(count: count(max: WireCodec.membersMax))
            let info: [CommitMemberInfo?] = members.map { _ in
                bool() ? nil : CommitMemberInfo(oldRingID: ringID(), aru: u64(), highDelivered: u64(),
                                                hasReceivedAll: bool())
            }
            return .commitToken(CommitToken(
                ringID: ringID(), tokenSeq: u64(), memberIndex: UInt32(int(0...members.count)),
                members: members, memberInfo: info))
        case 4:
            return .mergeDetect(MergeDetect(ringID: ringID()))
        case 5:
            return .tokenHoldCancel(TokenHoldCancel(ringID: ringID()))
        default:
            return .ringTest(RingTest(kind: bool() ? .active : .activate,
                                      ringNumber: UInt8(int(0...1)), activator: node()))
        }
    }

    mutating func packet() -> TotemPacket {
        TotemPacket(sender: node(), message: message())
    }

    /// A copy of `bytes` damaged in one of several ways; about half get a fresh checksum so
    /// that the body parser, not only the checksum, sees the damage.
    mutating func mutate(_ bytes: [UInt8]) -> [UInt8] {
        var b = bytes
        switch int(0...5) {
        case 0:  // flip bits
            for _ in 0..<int(1...4) where !b.isEmpty {
                b[int(0...b.count - 1)] ^= UInt8(1) << UInt8(int(0...7))
            }
        case 1:  // truncate
            b.removeLast(int(0...b.count))
        case 2:  // append garbage
            b.append(contentsOf: (0..<int(1...40)).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
        case 3:  // overwrite a random byte with an interesting value
            if !b.isEmpty { b[int(0...b.count - 1)] = [0, 1, 2, 0x7F, 0x80, 0xFF].randomElement(using: &rng)! }
        case 4:  // overwrite a 16-bit count-like field somewhere in the body
            if b.count >= 22 {
                let at = int(20...b.count - 2)
                b[at] = UInt8(truncatingIfNeeded: rng.next())
                b[at + 1] = rng.chance(0.5) ? 0 : 0xFF
            }
        default:  // cut a slice out of the middle
            if b.count > 2 {
                let from = int(0...b.count - 2)
                b.removeSubrange(from..<int(from + 1...b.count))
            }
        }
        if bool() { WireBytes.fixLengthAndChecksum(&b) }
        return b
    }
}

@Suite struct WireCodecFuzzTests {
    @Test func randomPacketsRoundTrip() {
        var random = RandomPackets(seed: 0x5EED_0001)
        for _ in 0..<5_000 {
            let packet = random.packet()
            let ringNumber = UInt8(random.int(0...1))
            let bytes = WireCodec.encode(packet, ringNumber: ringNumber)
            #expect(WireCodec.decode(bytes) == .success(WireCodec.Frame(packet: packet, ringNumber: ringNumber)))
        }
    }

    /// Mutated packets decode or are rejected, never trap; an accepted one is canonical: it
    /// re-encodes to exactly the bytes it came from.
    @Test func mutatedPacketsAreRejectedOrCanonical() {
        var random = RandomPackets(seed: 0x5EED_0002)
        var counters = WireRejectionCounters()
        var accepted = 0
        let rounds = 20_000
        for _ in 0..<rounds {
            let original = WireCodec.encode(random.packet(), ringNumber: UInt8(random.int(0...1)))
            let mutated = random.mutate(original)
            if let frame = WireCodec.decode(mutated, counting: &counters) {
                accepted += 1
                #expect(WireCodec.encode(frame.packet, ringNumber: frame.ringNumber) == mutated)
            }
        }
        #expect(UInt64(accepted) + counters.total == UInt64(rounds))
        // The mutations reach deep into the parser, not just the checksum.
        for reason in [WireRejection.badChecksum, .bodyTooShort, .truncatedBody, .trailingBytes] {
            #expect(counters[reason] > 0, "no \(reason) in \(counters.all)")
        }
    }

    @Test func randomBytesAreRejected() {
        var random = RandomPackets(seed: 0x5EED_0003)
        var counters = WireRejectionCounters()
        for round in 0..<20_000 {
            var bytes = (0..<random.int(0...120)).map { _ in UInt8(truncatingIfNeeded: random.rng.next()) }
            // Half of them carry a valid header so that the body parsers see random bodies.
            if round % 2 == 0, bytes.count >= WireCodec.headerBytes {
                bytes[0] = 0x54; bytes[1] = 0x4B; bytes[2] = WireCodec.formatVersion
                bytes[3] = UInt8(random.int(0...7)); bytes[5] = UInt8(random.int(0...1))
                bytes[6] = 0; bytes[7] = 0
                WireBytes.fixLengthAndChecksum(&bytes)
            }
            if let frame = WireCodec.decode(bytes, counting: &counters) {
                #expect(WireCodec.encode(frame.packet, ringNumber: frame.ringNumber) == bytes)
            }
        }
        #expect(counters.total > 0)
    }
}
