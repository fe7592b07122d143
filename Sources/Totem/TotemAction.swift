import Basics

/// Where a packet goes.
public enum TotemDestination: Hashable, Sendable {
    /// To every other node of the cluster (udpu: one datagram per configured node). The
    /// instance never needs its own broadcasts back: it keeps its own copy.
    case broadcast
    /// To one node (the token's successor, possibly this node itself on a singleton ring).
    case node(NodeID)
}

/// One payload delivered in agreed order.
public struct Delivery: Hashable, Sendable, CustomStringConvertible {
    /// The ring the payload was ordered on (an old ring for messages recovered during a
    /// configuration change).
    public var ringID: RingID
    /// The Totem sequence number of the message that completed the payload. Several packed
    /// payloads share one seq; a fragmented payload carries the seq of its last fragment.
    public var seq: UInt64
    public var originator: NodeID
    /// The payload's bytes, usually a slice of the frame that carried them: a packed payload
    /// is not copied out of its frame (that copy was a memmove and an allocation per write on
    /// every node). It keeps the frame alive while it is held.
    public var bytes: ArraySlice<UInt8>
    /// A copy of `bytes` as an array (for callers that need one; the delivery path reads
    /// `bytes`).
    public var payload: [UInt8] { Array(bytes) }
    public init(ringID: RingID, seq: UInt64, originator: NodeID, bytes: ArraySlice<UInt8>) {
        self.ringID = ringID
        self.seq = seq
        self.originator = originator
        self.bytes = bytes
    }
    public init(ringID: RingID, seq: UInt64, originator: NodeID, payload: [UInt8]) {
        self.init(ringID: ringID, seq: seq, originator: originator, bytes: payload[...])
    }
    public var description: String { "deliver \(ringID) seq \(seq) from \(originator) (\(bytes.count) B)" }
}

/// An extended-virtual-synchrony configuration change (totem-notes 3.6).
public struct ConfigurationChange: Hashable, Sendable, CustomStringConvertible {
    public enum Kind: Hashable, Sendable {
        /// The members that move together from the old ring to the new one; the messages
        /// delivered after it, up to the regular configuration, belong to the old ring.
        case transitional
        /// The new ring's members; later deliveries belong to the new ring.
        case regular
    }
    public var kind: Kind
    /// The new ring (for both kinds, as corosync reports it).
    public var ringID: RingID
    /// Ascending node ids.
    public var members: [NodeID]
    /// Transitional: old members that are not in the transitional set. Empty for regular.
    public var left: [NodeID]
    /// Regular: new members that were not in the transitional set. Empty for transitional.
    public var joined: [NodeID]
    public init(kind: Kind, ringID: RingID, members: [NodeID], left: [NodeID], joined: [NodeID]) {
        self.kind = kind
        self.ringID = ringID
        self.members = members
        self.left = left
        self.joined = joined
    }
    public var description: String {
        "\(kind == .transitional ? "transitional" : "regular") \(ringID) members \(members) left \(left) joined \(joined)"
    }
}

/// Why a submitted payload was refused (nothing was queued).
public enum SubmitRefusal: Hashable, Sendable {
    /// The payload exceeds `Packing.payloadBytesMax`.
    case tooLarge
    /// The send queue is full (corosync's CS_ERR_TRY_AGAIN): retry after deliveries.
    case queueFull
    /// The instance has left the cluster.
    case notRunning
}

/// What the shell must do, in array order.
///
/// Order within one step: actions appear in the order the protocol performs them, and the
/// shell performs them in that order. In particular `persistRingSeq` always precedes the
/// first `send` that reveals the new ring (the forwarded commit token), and deliveries and
/// configuration changes appear in EVS order (old-ring messages, transitional
/// configuration, remaining old-ring messages, regular configuration, new-ring messages).
public enum TotemAction: Hashable, Sendable {
    case send(TotemPacket, to: TotemDestination)
    /// Arm (or re-arm) the timer of `kind`; fire `timerFired(kind, generation)` after `after`.
    case startTimer(TotemTimerKind, TimerGeneration, after: Milliseconds)
    /// Disarm the timer of `kind` (a late firing would be ignored anyway).
    case cancelTimer(TotemTimerKind)
    case deliver(Delivery)
    case configurationChange(ConfigurationChange)
    /// Store the ring seq durably before performing the following actions. A restart must
    /// pass the stored value to `TotemInstance.init(persistedRingSeq:)`.
    case persistRingSeq(UInt64)
    /// A submitted payload was not queued.
    case submitRefused(SubmitRefusal)
}
