import Basics
import TotemConfig

/// Redundant rings (corosync 2.x RRP, `exec/totemrrp.c`; totem-notes 5.1): a sans-IO value
/// that sits between the SRP instance and the transport. SRP sees one network; this layer
/// chooses which ring (interface) carries each packet, watches the rings for trouble, marks a
/// ring faulty and re-enables it.
///
/// - **none**: one ring (the lowest ring number configured); packets pass straight through.
/// - **active**: every packet goes on every non-faulty ring. Mcasts are passed up as they
///   arrive (SRP drops duplicates). A token is held until it has arrived on every non-faulty
///   ring, then delivered once; if that takes longer than `rrp_token_expired_timeout`, every
///   ring that has not delivered it gets one more problem, and the token is delivered anyway.
///   A decrementer lowers the problem counters every `rrp_problem_count_timeout`; a ring
///   whose counter reaches `rrp_problem_count_threshold` is faulty.
/// - **passive**: packets alternate over the non-faulty rings (tokens and mcasts rotate
///   separately). Each ring counts the tokens and mcasts it receives; a ring that lags the
///   best ring by more than `rrp_problem_count_threshold` tokens or
///   `rrp_problem_count_mcast_threshold` mcasts is faulty.
///
/// When every ring is faulty, packets still go on the lowest ring (corosync PR #206), so that
/// a lone node keeps working. A faulty ring is tested every `rrp_autorecovery_check_timeout`:
/// a `RingTest(.active)` travels along it from node to successor; when it returns to its
/// originator, a `RingTest(.activate)` makes the same round and re-enables the ring on every
/// node it passes.
///
/// Deviations from corosync, all deliberate:
/// - A token's identity is (ring id, token seq), so the first token of a new ring (token seq
///   restarts) is recognised as new; corosync instead lets its last-seen token seq go
///   backwards. A copy of a token already delivered is dropped here instead of being
///   delivered again for SRP to drop; identical copies of a commit token are dropped too.
/// - The decrementer keeps running for the remaining rings when one is marked faulty
///   (corosync cancels it); a faulty ring's counter is frozen until it is re-enabled.
/// - A ring test is forwarded only while its activator is a member of the ring, so a test
///   whose originator left cannot circle for ever.
public struct RedundantRings: Sendable {
    /// The most rings the layer handles (corosync 2.x allows 2; knet links go to 8).
    public static let ringsMax = 8

    public let mode: TotemOptions.RRPMode
    public let localNode: NodeID
    let tokenExpiredTimeout: Milliseconds
    let problemCountTimeout: Milliseconds
    let problemCountThreshold: UInt32
    let mcastProblemCountThreshold: UInt32
    let autorecoveryCheckTimeout: Milliseconds

    /// Ascending ring number; the index into every per-ring array.
    var rings: [RingStatus]
    /// The generation of each ring's running autorecovery timer, nil when none runs.
    var autorecoveryGenerations: [UInt64?]
    /// The current ring's members, ascending (ring order).
    var members: [NodeID] = []
    /// Active mode: the token waiting for its copies on the other rings.
    var heldToken: HeldToken?
    /// Active mode: the newest token delivered to SRP.
    var lastDeliveredToken: TokenKey?
    /// Active mode: the last commit token delivered, to drop its redundant copies.
    var lastDeliveredCommitToken: TotemPacket?
    var tokenExpiredGeneration: UInt64?
    var decrementerGeneration: UInt64?
    /// Passive mode: index of the ring that carried the last token / the last other packet.
    var lastTokenRing: Int
    var lastMcastRing: Int
    var nextGeneration: UInt64 = 1
    public internal(set) var dropCounters = RRPDropCounters()

    struct TokenKey: Hashable, Comparable, Sendable {
        var ringID: RingID
        var tokenSeq: UInt64
        static func < (a: TokenKey, b: TokenKey) -> Bool {
            (a.ringID, a.tokenSeq) < (b.ringID, b.tokenSeq)
        }
    }

    struct HeldToken: Hashable, Sendable {
        var key: TokenKey
        var packet: TotemPacket
        /// Per ring index: a copy of this token arrived on it.
        var arrived: [Bool]
    }

    /// - Precondition: `options.interfaces` names 1...`ringsMax` distinct ring numbers (the
    ///   configuration parser checks this), and `localNode` is not 0.
    public init(options: TotemOptions, localNode: NodeID) {
        var numbers = options.interfaces.map(\.ringNumber).sorted()
        precondition(!numbers.isEmpty && numbers.count <= Self.ringsMax,
                     "RedundantRings: \(numbers.count) interfaces, need 1...\(Self.ringsMax)")
        precondition(Set(numbers).count == numbers.count, "RedundantRings: duplicate ring numbers \(numbers)")
        precondition(localNode.rawValue != 0, "RedundantRings: node id 0 is reserved")
        if options.rrpMode == .none { numbers = [numbers[0]] }
        mode = options.rrpMode
        self.localNode = localNode
        tokenExpiredTimeout = Milliseconds(options.rrpTokenExpiredTimeout)
        problemCountTimeout = Milliseconds(options.rrpProblemCountTimeout)
        problemCountThreshold = options.rrpProblemCountThreshold
        mcastProblemCountThreshold = options.rrpProblemCountMcastThreshold
        autorecoveryCheckTimeout = Milliseconds(options.rrpAutorecoveryCheckTimeout)
        rings = numbers.map { RingStatus(ringNumber: $0) }
        autorecoveryGenerations = Array(repeating: nil, count: numbers.count)
        // The first rotation step lands on the lowest ring.
        lastTokenRing = numbers.count - 1
        lastMcastRing = numbers.count - 1
    }

    /// Every ring in use, ascending ring number.
    public var status: [RingStatus] { rings }

    public mutating func step(_ event: RRPEvent) -> [RRPAction] {
        var actions: [RRPAction] = []
        step(event, into: &actions)
        return actions
    }

    /// `step` appending to a buffer the caller reuses, for the per-packet path.
    public mutating func step(_ event: RRPEvent, into actions: inout [RRPAction]) {
        switch event {
        case .outgoing(let packet, let destination):
            send(packet, to: destination, into: &actions)
        case .incoming(let packet, let ringNumber, let at):
            receive(packet, ringNumber: ringNumber, at: at, into: &actions)
        case .timerFired(let timer, let generation, _):
            timerFired(timer, generation: generation, into: &actions)
        case .membersChanged(let newMembers):
            members = Array(Set(newMembers)).sorted()
        case .reenableRequested:
            for index in rings.indices { reenable(ringAt: index, into: &actions) }
        }
    }

    func ringIndex(_ ringNumber: UInt8) -> Int? {
        rings.firstIndex { $0.ringNumber == ringNumber }
    }

    mutating func makeGeneration() -> UInt64 {
        let generation = nextGeneration
        nextGeneration &+= 1
        return generation
    }

    mutating func timerFired(_ timer: RRPTimer, generation: UInt64, into actions: inout [RRPAction]) {
        switch timer {
        case .tokenExpired:
            guard tokenExpiredGeneration == generation else { return }
            tokenExpiredGeneration = nil
            tokenExpired(into: &actions)
        case .problemCountDecrement:
            guard decrementerGeneration == generation else { return }
            decrementerGeneration = nil
            decrementProblemCounts(into: &actions)
        case .autorecoveryCheck(let ringNumber):
            guard let index = ringIndex(ringNumber), autorecoveryGenerations[index] == generation else { return }
            autorecoveryGenerations[index] = nil
            autorecoveryCheck(ringAt: index, into: &actions)
        }
    }
}
