import Basics
import TotemConfig

/// The Totem Single-Ring Ordering and Membership protocol as corosync's `totemsrp.c`
/// implements it (../shared/reference/totem-notes.md sections 1-4), as a sans-IO instance:
/// `step(event)` returns the actions the shell must perform. No clock, socket, thread or
/// unseeded randomness is used; the `send_join` delay comes from the injected generator.
///
/// Glossary. *Ring*: the members ordered by ascending node id, the token travels that way;
/// the *representative* is the lowest id. *aru* ("all received up to"): the contiguous prefix
/// of messages held. *Agreed delivery*: in seq order up to the first gap. A *transitional
/// configuration* lists the members that move together from the old ring to the new; the
/// *regular configuration* is the new ring.
///
/// Files: this one holds the state and the dispatch; `+Token` the ordering token,
/// `+Mcast` reception and delivery, `+Membership` GATHER and JOIN, `+Commit` the commit
/// token and RECOVERY, `+Operational` the EVS entry into OPERATIONAL, `+Timers` the timers,
/// `+HeldToken` messages queued on a held token and which node holds it.
///
/// Differences from corosync: sequence numbers are 64-bit and never wrap; the node's own
/// JOIN is "received back" when the join timer fires (corosync gets its multicast back
/// from the network); a JOIN that merges nothing does not re-enter GATHER (JOIN storm);
/// the regular sort queue only accepts messages of the ring it belongs to; the `send_join`
/// delay is a timer instead of a sleep; `window_size - fcc` saturates at 0; an idle ring's
/// token waits at the node that broadcast its newest message, not always at the
/// representative, and a held token first carries what its holder queued meanwhile
/// (`+HeldToken`).
public struct TotemInstance: Sendable {
    public enum State: Hashable, Sendable {
        /// Created, not started yet.
        case idle
        case operational, gather, commit, recovery
        /// After `leaveRequested`: every event is ignored.
        case left
    }

    /// A deliberately broken variant for testing the simulator's checkers. Never set it
    /// outside tests.
    public enum TestingCanary: Hashable, Sendable {
        /// Deliver one's own payloads when they are broadcast, before their turn.
        case deliverOwnMessagesEarly
        /// Deliver past a missing message instead of waiting for its retransmission.
        case skipGaps
    }

    public let nodeID: NodeID
    public let options: TotemOptions
    /// With udpu corosync accepts only nodelist members; nil accepts anybody.
    let allowedMembers: NodeSet?
    let testingCanary: TestingCanary?
    var random: SeededGenerator

    public internal(set) var state: State = .idle
    public internal(set) var stats = TotemStats()
    var now = Instant.zero
    var out: [TotemAction] = []

    // Rings.
    /// The ring this node is in (or installing: it changes on COMMIT entry).
    public internal(set) var ringID: RingID
    /// corosync's token_ring_id_seq: the highest ring seq seen; a new ring takes it + 4.
    var highestRingSeqSeen: UInt64
    /// my_memb_list: the members of the last installed (regular) configuration.
    var members: NodeSet
    /// my_new_memb_list: the ring being installed (== members when OPERATIONAL).
    var newMembers: NodeSet
    /// The transitional set computed on RECOVERY entry.
    var transitionalMembers = NodeSet()

    // Membership.
    var procSet: NodeSet
    var failedSet = NodeSet()
    var consensusSet = NodeSet()
    var failedToReceive = false
    var joinPending = false

    // The old ring's state, saved once on COMMIT entry and kept until OPERATIONAL.
    var oldRingStateSaved = false
    var oldRingID: RingID
    var oldRingAru: UInt64 = 0
    var oldRingHighSeq: UInt64 = 0

    // Ordering.
    var regular = SortQueue()
    var recovery = SortQueue()
    var myAru: UInt64 = 0
    var myHighSeqReceived: UInt64 = 0
    /// Highest seq of the regular queue delivered (or skipped) to the upper layer.
    var myHighDelivered: UInt64 = 0
    /// The token's aru on my previous visit.
    var myLastAru: UInt64 = 0
    /// The token_seq of the last token accepted; nil accepts any (a new ring).
    var myTokenSeq: UInt64?
    /// The token's seq on the previous visit (idleness detection).
    var previousTokenMessageSeq: UInt64?
    var seqUnchangedCount: UInt32 = 0
    /// corosync's my_token_held: the ring is idle; its holder (`holdsIdleToken`) keeps the
    /// token, and any other node with something to send asks for it with a hold cancel.
    var isTokenHeld = false
    /// The seq and originator of the newest message of this node's ring it stored, the
    /// recovery phase's included (0 and nil from the start of recovery until the first):
    /// who keeps the token when the ring goes idle (`holdsIdleToken`).
    var newestMessageSeq: UInt64 = 0
    var newestMessageOriginator: NodeID?
    var aruUnchangedCount: UInt32 = 0
    /// Flow control: my previous contribution to fcc (my_trc) and backlog (my_pbl).
    var myTransmitCount: UInt32 = 0
    var myPreviousBacklog: UInt32 = 0
    /// my_cbl: my send-queue length measured on this visit.
    var currentBacklogForUpdate: UInt32 = 0
    /// The last token or commit token sent, for retransmission.
    var savedToken: TotemPacket?
    var savedTokenTarget: NodeID
    /// The saved token has been transmitted at least once. Until then (a token this node
    /// holds) nobody else has seen it, so it may still carry this visit's
    /// messages (`broadcastOnHeldToken`).
    var isSavedTokenSent = false

    // RECOVERY.
    var retransmitQueue: [Mcast] = []
    var retransmitQueueHead = 0
    var didSetRetransmitFlag = false
    var retransmitFlagCount: UInt32 = 0
    var installSeq: UInt64 = 0
    var rotationCount: UInt32 = 0
    var hasOriginatedOrderingToken = false

    // Packing.
    var packer: Packer
    var reassembler = Reassembler()

    // Timers.
    var timerGenerations = [UInt64](repeating: 0, count: TotemTimerKind.allCases.count)
    var timerArmed = [Bool](repeating: false, count: TotemTimerKind.allCases.count)

    /// - Parameters:
    ///   - persistedRingSeq: the ring seq the shell last stored for this node (0 if none).
    ///   - allowedMembers: the nodelist; packets from other senders are dropped.
    public init(nodeID: NodeID, options: TotemOptions, persistedRingSeq: UInt64 = 0,
                random: SeededGenerator, allowedMembers: [NodeID]? = nil,
                testingCanary: TestingCanary? = nil) {
        precondition(nodeID.rawValue != 0, "node id 0 is reserved")
        self.nodeID = nodeID
        self.options = options
        self.random = random
        self.allowedMembers = allowedMembers.map { NodeSet($0) }
        self.testingCanary = testingCanary
        // A restart gets a ring id nobody used: rings this node created are persisted and
        // take at least seq + 4 (totem-notes 3.1).
        let startRing = RingID(representative: nodeID, seq: persistedRingSeq &+ 1)
        ringID = startRing
        oldRingID = startRing
        highestRingSeqSeen = startRing.seq
        members = NodeSet([nodeID])
        newMembers = members
        procSet = members
        savedTokenTarget = nodeID
        let frameBytes = Packing.frameBytesMax(netmtu: options.netmtu)
        packer = Packer(frameBytesMax: frameBytes, framesMax: (4 << 20) / max(1, Int(options.netmtu)))
    }

    /// Feeds one event; returns the actions to perform, in order (see `TotemAction`).
    public mutating func step(_ event: TotemEvent) -> [TotemAction] {
        now = event.instant
        switch event {
        case .started:
            guard state == .idle else { break }
            enterGather()
        case .packetReceived(let packet, _):
            guard state != .idle, state != .left else { break }
            receive(packet)
        case .timerFired(let kind, let generation, _):
            let k = Int(kind.rawValue)
            guard state != .idle, state != .left, timerArmed[k],
                  timerGenerations[k] == generation.rawValue else {
                stats.staleTimerFirings += 1
                break
            }
            timerArmed[k] = false
            timerFired(kind)
        case .submitted(let payload, _):
            submit(payload)
        case .leaveRequested:
            leave()
        }
        let result = out
        out = []
        return result
    }

    /// Messages waiting for the token (frames, after packing).
    public var sendQueueFrameCount: Int { packer.count }

    /// A submission of a payload of at most `payloadBytes` would not be refused for a full
    /// send queue now. A shell that answers its clients before submitting (CPG) checks this
    /// right before it submits, so an answered message is never refused.
    public func canQueue(payloadBytes: Int) -> Bool { packer.hasRoom(payloadBytes: payloadBytes) }

    /// The members of the current regular configuration.
    public var currentMembers: [NodeID] { members.sorted }

    private mutating func receive(_ packet: TotemPacket) {
        if let allowed = allowedMembers, !allowed.contains(packet.sender) {
            stats.packetsFromStrangers += 1
            return
        }
        switch packet.message {
        case .token(let token): handleToken(token)
        case .mcast(let mcast): handleMcast(mcast)
        case .join(let join): handleJoin(join, from: packet.sender)
        case .commitToken(let token): handleCommitToken(token)
        case .mergeDetect(let detect): handleMergeDetect(detect, from: packet.sender)
        case .tokenHoldCancel(let cancel): handleTokenHoldCancel(cancel)
        case .ringTest: break  // The redundant-ring layer consumes these.
        }
    }

    private mutating func submit(_ payload: [UInt8]) {
        guard state != .left else {
            stats.payloadsRefused += 1
            out.append(.submitRefused(.notRunning))
            return
        }
        if let refusal = packer.submit(payload) {
            stats.payloadsRefused += 1
            out.append(.submitRefused(refusal))
            return
        }
        stats.payloadsSubmitted += 1
        // totempg's mcast_msg signals totemsrp, which cancels a token hold (totem-notes 2.5).
        guard isTokenHeld else { return }
        isTokenHeld = false
        if isHoldingToken {
            releaseHeldToken(deliveringNow: false)
        } else {
            stats.tokenHoldCancelsSent += 1
            broadcast(.tokenHoldCancel(TokenHoldCancel(ringID: ringID)))
        }
    }

    private mutating func leave() {
        guard state != .left, state != .idle else { state = .left; return }
        var proc = procSet
        proc = proc.subtracting(NodeSet([nodeID]))
        var failed = failedSet
        failed.insert(nodeID)
        broadcast(.join(Join(procSet: proc.sorted, failedSet: failed.sorted, ringSeq: ringID.seq,
                             isLeave: true)))
        for kind in TotemTimerKind.allCases { cancelTimer(kind) }
        state = .left
    }

    // MARK: - Output helpers

    mutating func broadcast(_ message: TotemMessage) {
        out.append(.send(TotemPacket(sender: nodeID, message: message), to: .broadcast))
    }

    mutating func sendToken(_ message: TotemMessage, to target: NodeID, transmit: Bool = true) {
        let packet = TotemPacket(sender: nodeID, message: message)
        savedToken = packet
        savedTokenTarget = target
        isSavedTokenSent = transmit
        if transmit { out.append(.send(packet, to: .node(target))) }
    }
}
