import Basics

/// The timers of one Totem instance. At most one timer of each kind is armed at a time; a
/// new `startTimer` of a kind replaces the previous one.
public enum TotemTimerKind: UInt8, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    /// `token` ms without a valid token: the token is lost (totem-notes 2.4).
    case tokenLoss
    /// `token_retransmit` ms after forwarding: resend the saved token copy.
    case tokenRetransmit
    /// `hold` ms: the holder releases a held token (totem-notes 2.5).
    case tokenHold
    /// `join` ms: resend JOIN while gathering.
    case join
    /// `consensus` ms: give up on the processors that did not agree (totem-notes 3.3).
    case consensus
    /// `merge` ms of an idle ring: the representative sends MERGE_DETECT.
    case merge
    /// The random delay in [0, `send_join`) before a JOIN goes out.
    case sendJoin
    /// 0 ms: deliver the messages a submission sent on the held token
    /// (`broadcastOnHeldToken`); a submission's own step never delivers (`submitted`).
    case deliverOwn

    public var description: String {
        switch self {
        case .tokenLoss: "tokenLoss"
        case .tokenRetransmit: "tokenRetransmit"
        case .tokenHold: "tokenHold"
        case .join: "join"
        case .consensus: "consensus"
        case .merge: "merge"
        case .sendJoin: "sendJoin"
        case .deliverOwn: "deliverOwn"
        }
    }
}

/// A timer's generation. A firing whose generation is not the current one for its kind is
/// stale (the timer was restarted or cancelled after it was scheduled) and is ignored.
public struct TimerGeneration: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt64
    public init(_ rawValue: UInt64) { self.rawValue = rawValue }
    public static func < (a: TimerGeneration, b: TimerGeneration) -> Bool { a.rawValue < b.rawValue }
    public var description: String { String(rawValue) }
}

/// What happened to the instance. Every event carries the instant it happened at.
public enum TotemEvent: Hashable, Sendable {
    /// The node started (or restarted): enter GATHER.
    case started(at: Instant)
    /// A packet arrived from the network (already decoded and authenticated).
    case packetReceived(TotemPacket, at: Instant)
    /// A timer armed by `startTimer(kind, generation, after:)` fired.
    case timerFired(TotemTimerKind, TimerGeneration, at: Instant)
    /// The upper layer asked to broadcast `payload` in agreed order. Its step never
    /// delivers (layers above submit from inside their own steps): it only queues, sends,
    /// refuses or arms timers.
    case submitted([UInt8], at: Instant)
    /// The node is shutting down: tell the others (a LEAVE) and stop.
    case leaveRequested(at: Instant)

    public var instant: Instant {
        switch self {
        case .started(let at), .packetReceived(_, let at), .timerFired(_, _, let at),
             .submitted(_, let at), .leaveRequested(let at):
            at
        }
    }
}
