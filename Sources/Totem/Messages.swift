import Basics

// The Totem messages as values (totem-notes section 1). The wire codec lives in
// `WireCodec.swift`; the protocol never sees bytes. Sequence numbers are 64-bit and never
// wrap, which removes corosync's wrap-aware comparisons (`sq_lt_compare`).

/// A packet on the wire: who sent it (this hop, not necessarily the originator), on which
/// redundant ring it travels, and the message.
public struct TotemPacket: Hashable, Sendable {
    public var sender: NodeID
    public var message: TotemMessage
    public init(sender: NodeID, message: TotemMessage) {
        self.sender = sender
        self.message = message
    }
}

public enum TotemMessage: Hashable, Sendable {
    case token(OrderingToken)
    case mcast(Mcast)
    case join(Join)
    case commitToken(CommitToken)
    case mergeDetect(MergeDetect)
    case tokenHoldCancel(TokenHoldCancel)
    case ringTest(RingTest)
}

/// One entry of the token's retransmission request list. The ring id lets a member ignore
/// requests left over from an older ring.
public struct RetransmitRequest: Hashable, Sendable {
    public var ringID: RingID
    public var seq: UInt64
    public init(ringID: RingID, seq: UInt64) {
        self.ringID = ringID
        self.seq = seq
    }
}

/// The regular (ORF: ordering, reliability, flow control) token.
public struct OrderingToken: Hashable, Sendable {
    public var ringID: RingID
    /// Counts forwards; a receiver drops a token whose tokenSeq is not above the last accepted.
    public var tokenSeq: UInt64
    /// Highest message sequence number assigned on this ring.
    public var seq: UInt64
    /// All received up to: every member has every message with seq <= aru (after a rotation).
    public var aru: UInt64
    /// The node that last lowered aru; nil when aru == seq.
    public var aruAddress: NodeID?
    /// Messages broadcast (new and retransmitted) during the last rotation.
    public var fcc: UInt32
    /// Sum of the members' send-queue lengths.
    public var backlog: UInt32
    /// RECOVERY only: some member still has old-ring messages to rebroadcast.
    public var isRetransmitting: Bool
    /// At most `OrderingToken.retransmitRequestsMax` entries.
    public var retransmitRequests: [RetransmitRequest]

    /// corosync's RETRANSMIT_ENTRIES_MAX.
    public static let retransmitRequestsMax = 30

    public init(ringID: RingID, tokenSeq: UInt64, seq: UInt64, aru: UInt64, aruAddress: NodeID?,
                fcc: UInt32, backlog: UInt32, isRetransmitting: Bool,
                retransmitRequests: [RetransmitRequest]) {
        self.ringID = ringID
        self.tokenSeq = tokenSeq
        self.seq = seq
        self.aru = aru
        self.aruAddress = aruAddress
        self.fcc = fcc
        self.backlog = backlog
        self.isRetransmitting = isRetransmitting
        self.retransmitRequests = retransmitRequests
    }
}

/// One ordered broadcast.
public struct Mcast: Hashable, Sendable {
    public var ringID: RingID
    /// The node that first broadcast it (a retransmission keeps the originator).
    public var originator: NodeID
    /// Position in the ring's total order.
    public var seq: UInt64
    public var body: Body

    public indirect enum Body: Hashable, Sendable {
        /// Bytes of the upper layer (the packing layer's frame).
        case application([UInt8])
        /// RECOVERY: an old ring's message rebroadcast on the new ring (corosync's
        /// `encapsulated = 1`).
        case recovered(Mcast)
    }

    public init(ringID: RingID, originator: NodeID, seq: UInt64, body: Body) {
        self.ringID = ringID
        self.originator = originator
        self.seq = seq
        self.body = body
    }
}

/// Membership gather: the processors the sender believes should form the next ring and the
/// ones it has given up on. A leave is a join with `isLeave` set, the sender moved from the
/// proc set to the failed set.
public struct Join: Hashable, Sendable {
    public var procSet: [NodeID]
    public var failedSet: [NodeID]
    /// The sender's current ring seq; lets everybody learn the highest ring seq in use.
    public var ringSeq: UInt64
    public var isLeave: Bool
    public init(procSet: [NodeID], failedSet: [NodeID], ringSeq: UInt64, isLeave: Bool = false) {
        self.procSet = procSet
        self.failedSet = failedSet
        self.ringSeq = ringSeq
        self.isLeave = isLeave
    }
}

/// What a member reports about its old ring in the commit token.
public struct CommitMemberInfo: Hashable, Sendable {
    public var oldRingID: RingID
    public var aru: UInt64
    public var highDelivered: UInt64
    /// The member holds every old-ring message anyone in its old ring is known to have.
    public var hasReceivedAll: Bool
    public init(oldRingID: RingID, aru: UInt64, highDelivered: UInt64, hasReceivedAll: Bool) {
        self.oldRingID = oldRingID
        self.aru = aru
        self.highDelivered = highDelivered
        self.hasReceivedAll = hasReceivedAll
    }
}

/// Installs a new ring; makes two rotations (totem-notes 3.4).
public struct CommitToken: Hashable, Sendable {
    /// The new ring.
    public var ringID: RingID
    public var tokenSeq: UInt64
    /// How many members have filled in their entry.
    public var memberIndex: UInt32
    /// The new ring's members in ring order (ascending node id).
    public var members: [NodeID]
    /// `memberInfo[i]` describes `members[i]`; filled as the token goes round.
    public var memberInfo: [CommitMemberInfo?]
    public init(ringID: RingID, tokenSeq: UInt64, memberIndex: UInt32, members: [NodeID],
                memberInfo: [CommitMemberInfo?]) {
        self.ringID = ringID
        self.tokenSeq = tokenSeq
        self.memberIndex = memberIndex
        self.members = members
        self.memberInfo = memberInfo
    }
}

/// Sent by an idle ring's representative so that separate rings discover each other.
public struct MergeDetect: Hashable, Sendable {
    public var ringID: RingID
    public init(ringID: RingID) { self.ringID = ringID }
}

/// Asks the node holding an idle ring's token to release it at once.
public struct TokenHoldCancel: Hashable, Sendable {
    public var ringID: RingID
    public init(ringID: RingID) { self.ringID = ringID }
}

/// Redundant-ring re-enabling (corosync 2.x RING_TEST_ACTIVE / RING_TEST_ACTIVATE).
public struct RingTest: Hashable, Sendable {
    public enum Kind: UInt8, Hashable, Sendable { case active = 0, activate = 1 }
    public var kind: Kind
    public var ringNumber: UInt8
    public var activator: NodeID
    public init(kind: Kind, ringNumber: UInt8, activator: NodeID) {
        self.kind = kind
        self.ringNumber = ringNumber
        self.activator = activator
    }
}
