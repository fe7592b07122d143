import Basics

// The vocabulary of `RedundantRings`: what the SRP instance and the transport tell it, what it
// asks the shell to do, and what it shows in status.

/// Where a packet goes. The RRP layer only chooses the ring; the address of a node on a ring
/// is the transport's business.
public enum RRPDestination: Hashable, Sendable {
    /// Every member (IP multicast with `udp`, one datagram per member with `udpu`).
    case broadcast
    /// One node: the token and commit token go to the successor in ring order.
    case node(NodeID)
}

/// The RRP layer's timers. At most one of each kind runs at a time.
public enum RRPTimer: Hashable, Sendable {
    /// Active mode: started when a new token first arrives (`rrp_token_expired_timeout`).
    case tokenExpired
    /// Active mode: lowers every positive problem counter (`rrp_problem_count_timeout`).
    case problemCountDecrement
    /// While ring `ringNumber` is faulty: send a ring test along it
    /// (`rrp_autorecovery_check_timeout`).
    case autorecoveryCheck(ringNumber: UInt8)
}

public enum RRPEvent: Hashable, Sendable {
    /// The SRP instance sends a packet.
    case outgoing(TotemPacket, to: RRPDestination)
    /// The transport received a (decoded) packet on the socket of ring `ringNumber`.
    case incoming(TotemPacket, ringNumber: UInt8, at: Instant)
    /// A timer started by `.startTimer` fired. A generation other than the latest one for that
    /// timer is a late firing and is ignored.
    case timerFired(RRPTimer, generation: UInt64, at: Instant)
    /// The members of the current ring (any order), so that a ring test can travel from each
    /// node to its successor.
    case membersChanged([NodeID])
    /// An operator asked to re-enable every ring (corosync-cfgtool -r). Spreading the request
    /// to the other nodes is the upper layer's job; this re-enables the local rings.
    case reenableRequested
}

/// Why a ring was marked faulty.
public enum RRPFaultReason: Hashable, Sendable, CustomStringConvertible {
    /// Active mode: the ring failed to deliver tokens `rrp_problem_count_threshold` times
    /// within the decrementer's window.
    case problemCountThreshold
    /// Passive mode: the ring received more than `rrp_problem_count_threshold` tokens fewer
    /// than the best ring.
    case tokenCountLag
    /// Passive mode: the ring received more than `rrp_problem_count_mcast_threshold` mcasts
    /// fewer than the best ring.
    case mcastCountLag

    public var description: String {
        switch self {
        case .problemCountThreshold: "problem count threshold reached"
        case .tokenCountLag: "received too few tokens"
        case .mcastCountLag: "received too few messages"
        }
    }
}

/// What the shell must do. Within one step the actions come in the order they must be
/// performed; `.startTimer` replaces a running timer of the same kind.
public enum RRPAction: Hashable, Sendable {
    /// Send `packet` to `destination` over ring `ringNumber` (encode with that ring number).
    case transmit(TotemPacket, to: RRPDestination, ringNumber: UInt8)
    /// Hand a received packet to the SRP instance.
    case deliverToSRP(TotemPacket)
    case startTimer(RRPTimer, generation: UInt64, after: Milliseconds)
    case cancelTimer(RRPTimer)
    /// For the log and status: "Marking ringid R interface FAULTY".
    case ringMarkedFaulty(ringNumber: UInt8, reason: RRPFaultReason)
    /// For the log and status: "Automatically recovered ring R" (or re-enabled by hand).
    case ringRecovered(ringNumber: UInt8)
}

/// One ring as `corosync-cfgtool -s` would show it.
public struct RingStatus: Hashable, Sendable {
    public var ringNumber: UInt8
    public var isFaulty: Bool
    public var faultReason: RRPFaultReason?
    /// Active mode: tokens this ring failed to deliver in time, decayed by the decrementer.
    public var problemCount: UInt32
    /// Passive mode monitor: tokens and mcasts received on this ring since the last re-enable
    /// (counted in every mode, compared only in passive mode).
    public var tokensReceived: UInt64
    public var mcastsReceived: UInt64
    public var lastReceivedAt: Instant?

    init(ringNumber: UInt8) {
        self.ringNumber = ringNumber
        isFaulty = false
        faultReason = nil
        problemCount = 0
        tokensReceived = 0
        mcastsReceived = 0
        lastReceivedAt = nil
    }
}

/// Packets the RRP layer dropped instead of passing them on.
public struct RRPDropCounters: Hashable, Sendable {
    /// Arrived on a ring this node does not use.
    public var unknownRing: UInt64 = 0
    /// Active mode: a redundant copy of a token or commit token already delivered, or an
    /// older token than the one held.
    public var duplicateToken: UInt64 = 0
    /// A ring test on another ring than the one it tests, from a node outside the ring, or
    /// in mode none.
    public var strayRingTest: UInt64 = 0
    public init() {}
}
