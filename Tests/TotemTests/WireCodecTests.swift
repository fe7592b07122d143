import Basics
import Testing
import Totem

/// Builds packets byte by byte, independently of the encoder, following docs/wire-format.md.
enum WireBytes {
    struct Body {
        var bytes: [UInt8] = []
        mutating func u8(_ v: UInt8) { bytes.append(v) }
        mutating func u16(_ v: UInt16) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
        mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
        mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
        mutating func ringID(_ representative: UInt32, _ seq: UInt64) { u32(representative); u64(seq) }
    }

    static func packet(magic: UInt16 = 0x4B54, version: UInt8 = 1, type: UInt8, ringNumber: UInt8 = 0,
                       flags: UInt8 = 0, reserved: UInt16 = 0, sender: UInt32 = 1, body: Body) -> [UInt8] {
        var h = Body()
        h.u16(magic)
        h.u8(version)
        h.u8(type)
        h.u8(ringNumber)
        h.u8(flags)
        h.u16(reserved)
        h.u32(sender)
        h.u32(UInt32(body.bytes.count))
        h.u32(0)
        var bytes = h.bytes + body.bytes
        fixLengthAndChecksum(&bytes)
        return bytes
    }

    /// CRC32C over bytes 0..<16 and the body (docs/wire-format.md).
    static func checksum(_ b: [UInt8]) -> UInt32 {
        CRC32C.checksum(b[20...], continuing: CRC32C.checksum(b[0..<16]))
    }

    /// Rewrites the body length and the checksum of anything at least a header long.
    static func fixLengthAndChecksum(_ b: inout [UInt8]) {
        guard b.count >= 20 else { return }
        let length = UInt32(b.count - 20)
        for i in 0..<4 { b[12 + i] = UInt8(truncatingIfNeeded: length >> (8 * UInt32(i))) }
        let crc = checksum(b)
        for i in 0..<4 { b[16 + i] = UInt8(truncatingIfNeeded: crc >> (8 * UInt32(i))) }
    }

    static func mergeDetectBody(bytes count: Int = 12) -> Body {
        var b = Body()
        b.ringID(1, 7)
        b.bytes = Array(b.bytes.prefix(count)) + [UInt8](repeating: 0, count: max(0, count - 12))
        return b
    }

    static func tokenBody(requestCount: UInt16, requestsWritten: Int) -> Body {
        var b = Body()
        b.ringID(1, 7)
        b.u64(1); b.u64(2); b.u64(2); b.u32(0); b.u32(0); b.u32(0)
        b.u16(requestCount)
        for i in 0..<requestsWritten { b.ringID(1, 7); b.u64(UInt64(i)) }
        return b
    }

    static func joinBody(proc: [UInt32], failed: [UInt32] = []) -> Body {
        var b = Body()
        b.u64(3)
        b.u16(UInt16(proc.count))
        b.u16(UInt16(failed.count))
        for n in proc + failed { b.u32(n) }
        return b
    }

    static func commitBody(members: [UInt32], infoCount: Int? = nil, memberIndex: UInt32 = 0,
                           presence: UInt8 = 0) -> Body {
        var b = Body()
        b.ringID(1, 8)
        b.u64(1)
        b.u32(memberIndex)
        b.u16(UInt16(members.count))
        b.u16(UInt16(infoCount ?? members.count))
        for n in members { b.u32(n) }
        for _ in 0..<(infoCount ?? members.count) { b.u8(presence) }
        return b
    }

    static func mcastBody(originator: UInt32 = 1, innerFlags: UInt8? = nil) -> Body {
        var b = Body()
        b.ringID(1, 7); b.u32(originator); b.u64(5)
        if let innerFlags { b.u8(innerFlags); b.ringID(1, 6); b.u32(2); b.u64(4) }
        b.bytes += [0xAA, 0xBB]
        return b
    }
}

@Suite struct WireCodecTests {
    static let mergeDetect = TotemPacket(sender: NodeID(3), message: .mergeDetect(MergeDetect(
        ringID: RingID(representative: NodeID(1), seq: 7))))

    @Test func headerLayoutIsAsDocumented() {
        let bytes = WireCodec.encode(Self.mergeDetect, ringNumber: 1)
        #expect(bytes.count == 20 + 12)
        #expect(Array(bytes[0..<8]) == [0x54, 0x4B, 1, 2, 1, 0, 0, 0])
        #expect(Array(bytes[8..<16]) == [3, 0, 0, 0, 12, 0, 0, 0])
        #expect(WireBytes.checksum(bytes) == UInt32(bytes[16]) | UInt32(bytes[17]) << 8
                    | UInt32(bytes[18]) << 16 | UInt32(bytes[19]) << 24)
        #expect(Array(bytes[20...]) == [1, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0])
    }

    @Test func independentlyBuiltPacketDecodes() {
        let bytes = WireBytes.packet(type: 2, ringNumber: 1, sender: 3, body: WireBytes.mergeDetectBody())
        #expect(WireCodec.decode(bytes) == .success(WireCodec.Frame(packet: Self.mergeDetect, ringNumber: 1)))
    }

    /// One malformed packet per rejection reason; the table must cover every reason.
    static let malformed: [(WireRejection, [UInt8])] = {
        typealias B = WireBytes
        let valid = B.packet(type: 2, body: B.mergeDetectBody())
        var badChecksum = valid
        badChecksum[25] ^= 0x10
        return [
            (.truncatedHeader, Array(valid.prefix(19))),
            (.truncatedHeader, []),
            (.oversized, [UInt8](repeating: 0, count: WireCodec.packetBytesMax + 1)),
            (.badMagic, B.packet(magic: 0xC070, type: 2, body: B.mergeDetectBody())),
            (.unsupportedVersion, B.packet(version: 2, type: 2, body: B.mergeDetectBody())),
            (.reservedNotZero, B.packet(type: 2, reserved: 1, body: B.mergeDetectBody())),
            (.truncatedBody, Array(valid.dropLast())),
            (.trailingBytes, valid + [0]),
            (.badChecksum, badChecksum),
            (.unknownType, B.packet(type: 7, body: B.mergeDetectBody())),
            (.unknownFlags, B.packet(type: 0, flags: 0x02, body: B.tokenBody(requestCount: 0, requestsWritten: 0))),
            (.unknownFlags, B.packet(type: 2, flags: 0x01, body: B.mergeDetectBody())),
            (.unknownFlags, B.packet(type: 1, flags: 0x01, body: B.mcastBody(innerFlags: 0x04))),
            (.bodyTooShort, B.packet(type: 2, body: B.mergeDetectBody(bytes: 11))),
            (.bodyTooShort, B.packet(type: 0, body: B.tokenBody(requestCount: 3, requestsWritten: 2))),
            (.bodyTooShort, B.packet(type: 3, body: { var b = B.joinBody(proc: [1, 2]); b.bytes.removeLast(); return b }())),
            (.bodyTooLong, B.packet(type: 2, body: B.mergeDetectBody(bytes: 13))),
            (.countOverLimit, B.packet(type: 0, body: B.tokenBody(requestCount: 31, requestsWritten: 31))),
            (.countOverLimit, B.packet(type: 3, body: B.joinBody(proc: (1...385).map { UInt32($0) }))),
            (.zeroNodeID, B.packet(type: 2, sender: 0, body: B.mergeDetectBody())),
            (.zeroNodeID, B.packet(type: 1, body: B.mcastBody(originator: 0))),
            (.zeroNodeID, B.packet(type: 3, body: B.joinBody(proc: [1], failed: [0]))),
            (.nestingTooDeep, B.packet(type: 1, flags: 0x01, body: B.mcastBody(innerFlags: 0x01))),
            (.memberInfoCountMismatch, B.packet(type: 4, body: B.commitBody(members: [1, 2], infoCount: 1))),
            (.membersNotInRingOrder, B.packet(type: 4, body: B.commitBody(members: [3, 2]))),
            (.membersNotInRingOrder, B.packet(type: 4, body: B.commitBody(members: [2, 2]))),
            (.duplicateNode, B.packet(type: 3, body: B.joinBody(proc: [2, 5, 2]))),
            (.memberIndexOutOfRange, B.packet(type: 4, body: B.commitBody(members: [1, 2], memberIndex: 3))),
            (.invalidEnumValue, B.packet(type: 4, body: B.commitBody(members: [1, 2], presence: 2))),
            (.invalidEnumValue, B.packet(type: 6, body: { var b = B.Body(); b.u8(2); b.u8(0); b.u32(1); return b }())),
        ]
    }()

    @Test func everyMalformedPacketGivesItsReason() {
        for (reason, bytes) in Self.malformed {
            #expect(WireCodec.decode(bytes) == .failure(reason), "expected \(reason)")
        }
    }

    @Test func malformedTableCoversEveryReason() {
        let covered = Set(Self.malformed.map(\.0))
        #expect(WireRejection.allCases.filter { !covered.contains($0) } == [])
    }

    @Test func theSameBodiesWithValidValuesAreAccepted() {
        typealias B = WireBytes
        // Controls for the table above: the builders produce packets the decoder accepts.
        #expect((try? WireCodec.decode(B.packet(type: 0, body: B.tokenBody(requestCount: 30, requestsWritten: 30))).get()) != nil)
        #expect((try? WireCodec.decode(B.packet(type: 3, body: B.joinBody(proc: (1...384).map { UInt32($0) }))).get()) != nil)
        #expect((try? WireCodec.decode(B.packet(type: 4, body: B.commitBody(members: [1, 2], memberIndex: 2))).get()) != nil)
        #expect((try? WireCodec.decode(B.packet(type: 1, flags: 0x01, body: B.mcastBody(innerFlags: 0))).get()) != nil)
    }

    @Test func countersCountPerReason() {
        var counters = WireRejectionCounters()
        #expect(WireCodec.decode([1, 2, 3], counting: &counters) == nil)
        #expect(WireCodec.decode(Array(repeating: 0, count: 40), counting: &counters) == nil)
        #expect(WireCodec.decode(Array(repeating: 0, count: 40), counting: &counters) == nil)
        #expect(WireCodec.decode(WireCodec.encode(Self.mergeDetect, ringNumber: 0), counting: &counters) != nil)
        #expect(counters[.truncatedHeader] == 1)
        #expect(counters[.badMagic] == 2)
        #expect(counters.total == 3)
        #expect(counters.all.count == WireRejection.allCases.count)
    }

    @Test func validateNamesTheDefectEncodeWouldTrapOn() {
        let ring = RingID(representative: NodeID(1), seq: 1)
        let inner = Mcast(ringID: ring, originator: NodeID(1), seq: 1, body: .application([]))
        let nested = Mcast(ringID: ring, originator: NodeID(1), seq: 2,
                           body: .recovered(Mcast(ringID: ring, originator: NodeID(1), seq: 3, body: .recovered(inner))))
        #expect(WireCodec.validate(TotemPacket(sender: NodeID(1), message: .mcast(nested))) == .nestingTooDeep)
        let token = OrderingToken(ringID: ring, tokenSeq: 1, seq: 1, aru: 1, aruAddress: NodeID(0), fcc: 0,
                                  backlog: 0, isRetransmitting: false, retransmitRequests: [])
        #expect(WireCodec.validate(TotemPacket(sender: NodeID(1), message: .token(token))) == .zeroNodeID)
        let commit = CommitToken(ringID: ring, tokenSeq: 1, memberIndex: 0, members: [NodeID(1)], memberInfo: [])
        #expect(WireCodec.validate(TotemPacket(sender: NodeID(1), message: .commitToken(commit))) == .memberInfoCountMismatch)
        let big = Mcast(ringID: ring, originator: NodeID(1), seq: 1,
                        body: .application([UInt8](repeating: 0, count: WireCodec.packetBytesMax)))
        #expect(WireCodec.validate(TotemPacket(sender: NodeID(1), message: .mcast(big))) == .oversized)
        #expect(WireCodec.validate(Self.mergeDetect) == nil)
    }

    @Test func largestPayloadRoundTrips() {
        let payloadBytes = WireCodec.packetBytesMax - WireCodec.headerBytes - 24
        let mcast = Mcast(ringID: RingID(representative: NodeID(1), seq: 1), originator: NodeID(2), seq: 9,
                          body: .application([UInt8](repeating: 0x5A, count: payloadBytes)))
        let packet = TotemPacket(sender: NodeID(2), message: .mcast(mcast))
        let bytes = WireCodec.encode(packet, ringNumber: 0)
        #expect(bytes.count == WireCodec.packetBytesMax)
        #expect(WireCodec.decode(bytes) == .success(WireCodec.Frame(packet: packet, ringNumber: 0)))
    }
}
