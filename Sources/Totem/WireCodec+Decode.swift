import Basics

extension WireCodec {
    /// A decoded packet and the redundant ring it says it was sent on.
    public struct Frame: Hashable, Sendable {
        public var packet: TotemPacket
        public var ringNumber: UInt8
        public init(packet: TotemPacket, ringNumber: UInt8) {
            self.packet = packet
            self.ringNumber = ringNumber
        }
    }

    /// Decodes one datagram. Never traps: any defect is a `WireRejection`.
    public static func decode(_ bytes: UnsafeRawBufferPointer) -> Result<Frame, WireRejection> {
        do {
            return .success(try decodeFrame(bytes))
        } catch {
            return .failure(error)
        }
    }

    public static func decode(_ bytes: [UInt8]) -> Result<Frame, WireRejection> {
        bytes.withUnsafeBytes { decode($0) }
    }

    /// Decodes one datagram, counting a rejection in `counters` and returning nil for it:
    /// the shape the receive path wants.
    public static func decode(_ bytes: [UInt8], counting counters: inout WireRejectionCounters) -> Frame? {
        bytes.withUnsafeBytes { decode($0, counting: &counters) }
    }

    /// The same over raw bytes (a receive buffer, decoded without copying it first).
    public static func decode(_ bytes: UnsafeRawBufferPointer, counting counters: inout WireRejectionCounters) -> Frame? {
        switch decode(bytes) {
        case .success(let frame):
            return frame
        case .failure(let reason):
            counters.record(reason)
            return nil
        }
    }

    // The order of the checks is part of the format (docs/wire-format.md, "Validation"):
    // framing and checksum first, so a corrupt packet is reported as such rather than as
    // whatever its corrupted type byte happens to mean.
    static func decodeFrame(_ bytes: UnsafeRawBufferPointer) throws(WireRejection) -> Frame {
        guard bytes.count >= headerBytes else { throw .truncatedHeader }
        guard bytes.count <= packetBytesMax else { throw .oversized }
        var h = WireReader(bytes, offset: 0, end: headerBytes)
        guard try h.u16() == magic else { throw .badMagic }
        guard try h.u8() == formatVersion else { throw .unsupportedVersion }
        let typeByte = try h.u8()
        let ringNumber = try h.u8()
        let flags = try h.u8()
        guard try h.u16() == 0 else { throw .reservedNotZero }
        let senderRaw = try h.u32()
        let bodyLength = Int(try h.u32())
        let storedChecksum = try h.u32()
        let bodyBytes = bytes.count &- headerBytes
        guard bodyLength <= bodyBytes else { throw .truncatedBody }
        guard bodyLength >= bodyBytes else { throw .trailingBytes }
        guard checksum(bytes) == storedChecksum else { throw .badChecksum }
        guard let type = MessageType(rawValue: typeByte) else { throw .unknownType }
        guard senderRaw != 0 else { throw .zeroNodeID }
        guard flags & ~type.definedFlags == 0 else { throw .unknownFlags }

        var r = WireReader(bytes, offset: headerBytes, end: bytes.count)
        let message: TotemMessage
        switch type {
        case .token: message = .token(try decodeToken(&r, flags: flags))
        case .mcast: message = .mcast(try decodeMcast(&r, flags: flags))
        case .join: message = .join(try decodeJoin(&r, flags: flags))
        case .commitToken: message = .commitToken(try decodeCommitToken(&r))
        case .mergeDetect: message = .mergeDetect(MergeDetect(ringID: try r.ringID()))
        case .tokenHoldCancel: message = .tokenHoldCancel(TokenHoldCancel(ringID: try r.ringID()))
        case .ringTest: message = .ringTest(try decodeRingTest(&r))
        }
        guard r.remaining == 0 else { throw .bodyTooLong }
        return Frame(packet: TotemPacket(sender: NodeID(senderRaw), message: message), ringNumber: ringNumber)
    }

    static func decodeToken(_ r: inout WireReader, flags: UInt8) throws(WireRejection) -> OrderingToken {
        let ringID = try r.ringID()
        let tokenSeq = try r.u64()
        let seq = try r.u64()
        let aru = try r.u64()
        let aruAddress = try r.u32()
        let fcc = try r.u32()
        let backlog = try r.u32()
        let count = Int(try r.u16())
        guard count <= retransmitRequestsMax else { throw .countOverLimit }
        try r.require(count * retransmitRequestBytes)
        var requests: [RetransmitRequest] = []
        requests.reserveCapacity(count)
        for _ in 0..<count {
            let requestRing = try r.ringID()
            requests.append(RetransmitRequest(ringID: requestRing, seq: try r.u64()))
        }
        return OrderingToken(
            ringID: ringID, tokenSeq: tokenSeq, seq: seq, aru: aru,
            aruAddress: aruAddress == 0 ? nil : NodeID(aruAddress), fcc: fcc, backlog: backlog,
            isRetransmitting: flags & Flags.isRetransmitting != 0, retransmitRequests: requests)
    }

    static func decodeMcast(_ r: inout WireReader, flags: UInt8) throws(WireRejection) -> Mcast {
        let ringID = try r.ringID()
        let originator = try r.node()
        let seq = try r.u64()
        guard flags & Flags.isRecovered != 0 else {
            return Mcast(ringID: ringID, originator: originator, seq: seq, body: .application(r.rest()))
        }
        let innerFlags = try r.u8()
        guard innerFlags & Flags.isRecovered == 0 else { throw .nestingTooDeep }
        guard innerFlags == 0 else { throw .unknownFlags }
        let innerRingID = try r.ringID()
        let innerOriginator = try r.node()
        let innerSeq = try r.u64()
        let inner = Mcast(ringID: innerRingID, originator: innerOriginator, seq: innerSeq,
                          body: .application(r.rest()))
        return Mcast(ringID: ringID, originator: originator, seq: seq, body: .recovered(inner))
    }

    static func decodeJoin(_ r: inout WireReader, flags: UInt8) throws(WireRejection) -> Join {
        let ringSeq = try r.u64()
        let procCount = Int(try r.u16())
        let failedCount = Int(try r.u16())
        guard procCount <= membersMax, failedCount <= membersMax else { throw .countOverLimit }
        try r.require(4 * (procCount + failedCount))
        let procSet = try readNodes(&r, count: procCount)
        let failedSet = try readNodes(&r, count: failedCount)
        guard !hasDuplicate(procSet), !hasDuplicate(failedSet) else { throw .duplicateNode }
        return Join(procSet: procSet, failedSet: failedSet, ringSeq: ringSeq,
                    isLeave: flags & Flags.isLeave != 0)
    }

    static func decodeCommitToken(_ r: inout WireReader) throws(WireRejection) -> CommitToken {
        let ringID = try r.ringID()
        let tokenSeq = try r.u64()
        let memberIndex = try r.u32()
        let memberCount = Int(try r.u16())
        let infoCount = Int(try r.u16())
        guard memberCount <= membersMax, infoCount <= membersMax else { throw .countOverLimit }
        guard infoCount == memberCount else { throw .memberInfoCountMismatch }
        guard memberIndex <= UInt32(memberCount) else { throw .memberIndexOutOfRange }
        // Every info entry has at least its presence byte.
        try r.require(4 * memberCount + infoCount)
        let members = try readNodes(&r, count: memberCount)
        guard isStrictlyAscending(members) else { throw .membersNotInRingOrder }
        var memberInfo: [CommitMemberInfo?] = []
        memberInfo.reserveCapacity(infoCount)
        for _ in 0..<infoCount {
            switch try r.u8() {
            case 0:
                memberInfo.append(nil)
            case 1:
                let oldRingID = try r.ringID()
                let aru = try r.u64()
                let highDelivered = try r.u64()
                let infoFlags = try r.u8()
                guard infoFlags & ~Flags.hasReceivedAll == 0 else { throw .unknownFlags }
                memberInfo.append(CommitMemberInfo(
                    oldRingID: oldRingID, aru: aru, highDelivered: highDelivered,
                    hasReceivedAll: infoFlags & Flags.hasReceivedAll != 0))
            default:
                throw .invalidEnumValue
            }
        }
        return CommitToken(ringID: ringID, tokenSeq: tokenSeq, memberIndex: memberIndex,
                           members: members, memberInfo: memberInfo)
    }

    static func decodeRingTest(_ r: inout WireReader) throws(WireRejection) -> RingTest {
        guard let kind = RingTest.Kind(rawValue: try r.u8()) else { throw .invalidEnumValue }
        let ringNumber = try r.u8()
        return RingTest(kind: kind, ringNumber: ringNumber, activator: try r.node())
    }

    private static func readNodes(_ r: inout WireReader, count: Int) throws(WireRejection) -> [NodeID] {
        var nodes: [NodeID] = []
        nodes.reserveCapacity(count)
        for _ in 0..<count { nodes.append(try r.node()) }
        return nodes
    }

    static func hasDuplicate(_ nodes: [NodeID]) -> Bool {
        guard nodes.count > 1 else { return false }
        return !isStrictlyAscending(nodes.sorted())
    }

    static func isStrictlyAscending(_ nodes: [NodeID]) -> Bool {
        var previous: NodeID?
        for node in nodes {
            if let previous, !(previous < node) { return false }
            previous = node
        }
        return true
    }
}
