import Totem

/// Holds an arriving ordering token briefly when this node has nothing to broadcast but is
/// busy (it has client requests in flight), so the requests its clients send next ride this
/// token visit instead of waiting a whole rotation. A shell-side decision, not a protocol
/// change: to Totem a held token is a token the network delivered later, by at most
/// `holdMicroseconds` (far below the token timeout), so the cores and the simulator are
/// untouched.
///
/// Why: under load on one machine the ring is CPU-bound, and most token visits carried no
/// new message (64 closed-loop clients: ~0.7 broadcasts per rotation of 3 visits). Each
/// empty visit still costs a UDP send, a receive, a wake-up and the token's timers on every
/// node. Holding the token while the node's clients are about to send turns many empty
/// rotations into one full one.
///
/// When it holds (all must hold): pacing is on; the packet is a regular ordering token that
/// asks for no retransmission (a node missing messages must not wait for them); this
/// node's send queue is empty; and at least
/// `busyRequestsMin` client requests of this node await their replies (a lightly loaded
/// node forwards at once: no added latency at low load). The held token is released, in
/// this order of preference: at the end of the loop turn in which this node queued
/// something to broadcast (it then goes out on this visit), before any other Totem packet
/// is handed to the core (arrival order is kept), or when the hold timer fires.
///
/// Threading: a value type owned by the runtime's loop.
struct TokenPacer: Sendable {
    struct Settings: Equatable, Sendable {
        /// The longest hold; 0 turns pacing off.
        var holdMicroseconds: Int64
        /// Client requests in flight at this node from which it counts as busy.
        var busyRequestsMin: Int

        static let off = Settings(holdMicroseconds: 0, busyRequestsMin: .max)
        /// Measured on the 3-node bench (Bench/results/cluster-2026-11-26b.md).
        static let standard = Settings(holdMicroseconds: 300, busyRequestsMin: 8)
    }

    enum Event: Equatable, Sendable {
        /// A packet for the Totem core arrived (after the redundant-ring layer). `isBusy`:
        /// enough requests in flight; `sendQueueEmpty`: Totem has nothing queued here.
        case packetArrived(TotemPacket, isBusy: Bool, sendQueueEmpty: Bool)
        /// This node queued something for Totem to broadcast (a client write, a barrier).
        case broadcastQueued
        /// The end of the loop turn asked for by `.releaseAtTurnEnd`.
        case turnEnded
        case holdTimerFired(generation: UInt64)
        /// The runtime stops: forget the held token.
        case stopped
    }

    enum Action: Equatable, Sendable {
        /// Hand the packet to the Totem core now.
        case deliver(TotemPacket)
        case startHoldTimer(generation: UInt64, microseconds: Int64)
        case cancelHoldTimer
        /// Feed `.turnEnded` once the loop has run this turn's other I/O.
        case releaseAtTurnEnd
    }

    let settings: Settings
    private(set) var held: TotemPacket?
    private var generation: UInt64 = 0
    private var isReleaseAsked = false
    /// Tokens held and how each hold ended, for INFO.
    private(set) var counters = Counters()

    struct Counters: Equatable, Sendable {
        var held: UInt64 = 0
        var releasedByBroadcast: UInt64 = 0
        var releasedByPacket: UInt64 = 0
        var releasedByTimer: UInt64 = 0
    }

    init(settings: Settings) {
        self.settings = settings
    }

    var isHolding: Bool { held != nil }

    /// Whether `.packetArrived` with this `isBusy` would only hand the packet on: nothing is
    /// held and nothing would be. Then `step` returns exactly `[.deliver(packet)]` and
    /// changes nothing, so the runtime may deliver without calling it.
    ///
    /// Why: every packet of an idle ring (~30 token visits per node after each message at
    /// 100 msgs/s) went through `step`, which built an action array for it and copied the
    /// packet in and out: an allocation per packet for a decision that needs two loads.
    func passesThrough(isBusy: Bool) -> Bool {
        held == nil && (!isBusy || settings.holdMicroseconds <= 0)
    }

    mutating func step(_ event: Event) -> [Action] {
        switch event {
        case .packetArrived(let packet, let isBusy, let sendQueueEmpty):
            var actions: [Action] = []
            if held != nil {
                counters.releasedByPacket &+= 1
                actions += release()
            }
            if shouldHold(packet, isBusy: isBusy, sendQueueEmpty: sendQueueEmpty) {
                held = packet
                generation &+= 1
                counters.held &+= 1
                actions.append(.startHoldTimer(generation: generation, microseconds: settings.holdMicroseconds))
            } else {
                actions.append(.deliver(packet))
            }
            return actions
        case .broadcastQueued:
            guard held != nil, !isReleaseAsked else { return [] }
            isReleaseAsked = true
            return [.releaseAtTurnEnd]
        case .turnEnded:
            isReleaseAsked = false
            guard held != nil else { return [] }
            counters.releasedByBroadcast &+= 1
            return release()
        case .holdTimerFired(let fired):
            guard held != nil, fired == generation else { return [] }
            counters.releasedByTimer &+= 1
            return release()
        case .stopped:
            guard held != nil else { return [] }
            held = nil
            return [.cancelHoldTimer]
        }
    }

    private func shouldHold(_ packet: TotemPacket, isBusy: Bool, sendQueueEmpty: Bool) -> Bool {
        guard settings.holdMicroseconds > 0, isBusy, sendQueueEmpty,
              case .token(let token) = packet.message else { return false }
        return token.retransmitRequests.isEmpty && !token.isRetransmitting
    }

    private mutating func release() -> [Action] {
        guard let packet = held else { return [] }
        held = nil
        return [.cancelHoldTimer, .deliver(packet)]
    }
}
