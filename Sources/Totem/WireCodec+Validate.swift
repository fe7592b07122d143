import Basics

extension WireCodec {
    /// The reason `decode` would reject the encoding of `packet`, or nil if it round-trips.
    /// `encode` traps on a defect; the SRP core can call this to test a value it built.
    public static func validate(_ packet: TotemPacket) -> WireRejection? {
        guard packet.sender.rawValue != 0 else { return .zeroNodeID }
        if let defect = validate(packet.message) { return defect }
        guard headerBytes + bodyByteCount(packet.message) <= packetBytesMax else { return .oversized }
        return nil
    }

    private static func validate(_ message: TotemMessage) -> WireRejection? {
        switch message {
        case .token(let t):
            guard t.retransmitRequests.count <= retransmitRequestsMax else { return .countOverLimit }
            guard t.aruAddress?.rawValue != 0 else { return .zeroNodeID }
        case .mcast(let m):
            guard m.originator.rawValue != 0 else { return .zeroNodeID }
            if case .recovered(let inner) = m.body {
                guard inner.originator.rawValue != 0 else { return .zeroNodeID }
                guard case .application = inner.body else { return .nestingTooDeep }
            }
        case .join(let j):
            guard j.procSet.count <= membersMax, j.failedSet.count <= membersMax else {
                return .countOverLimit
            }
            guard !containsZero(j.procSet), !containsZero(j.failedSet) else { return .zeroNodeID }
            guard !hasDuplicate(j.procSet), !hasDuplicate(j.failedSet) else { return .duplicateNode }
        case .commitToken(let c):
            guard c.members.count <= membersMax, c.memberInfo.count <= membersMax else {
                return .countOverLimit
            }
            guard c.memberInfo.count == c.members.count else { return .memberInfoCountMismatch }
            guard c.memberIndex <= UInt32(c.members.count) else { return .memberIndexOutOfRange }
            guard !containsZero(c.members) else { return .zeroNodeID }
            guard isStrictlyAscending(c.members) else { return .membersNotInRingOrder }
        case .ringTest(let r):
            guard r.activator.rawValue != 0 else { return .zeroNodeID }
        case .mergeDetect, .tokenHoldCancel:
            break
        }
        return nil
    }

    private static func containsZero(_ nodes: [NodeID]) -> Bool {
        nodes.contains { $0.rawValue == 0 }
    }
}
