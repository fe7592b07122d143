import Basics
import DequeModule

/// The replication core (DESIGN.md sections 1 and 4): turns Totem's ordered deliveries into
/// a replicated log with a majority commit rule. Sans-IO: the shell feeds `ReplicaEvent`s
/// and performs the returned `ReplicaAction`s in order.
///
/// Phases: `inactive` (no quorate regular configuration: writes refused), `syncing` (the
/// SyncState exchange and, for members whose log differs from the source's, the copy),
/// `active` (this member finished sync in `epoch`: it appends, acknowledges, commits and
/// applies).
public struct Replica: Sendable {
    public enum Phase: Hashable, Sendable { case inactive, syncing, active }

    /// Planted bugs. Each breaks one rule of DESIGN.md section 4; the simulator must catch it.
    public enum TestingCanary: Hashable, Sendable {
        /// Treats every configuration as quorate: a minority syncs and commits (rules 1 and 7).
        case ignoreQuorum
        /// Accepts acknowledgements from older epochs (rule 5).
        case acceptOldEpochAcks
        /// Answers linearizable reads at local delivery of the barrier, without a majority.
        /// (The simulator has not caught this one: a step is atomic, so a paused node always
        /// notices its token loss before it can deliver a new barrier; see docs/replication.md.)
        case readAtLocalDelivery
        /// Answers linearizable reads at once from local state, with no barrier.
        case answerReadsAtOnce
    }

    /// `voters` changes only when a committed reconfiguration is applied (Replica+Voters.swift).
    public internal(set) var configuration: ReplicaConfiguration
    var nodeID: NodeID { configuration.nodeID }

    // The log as this member holds it. Invariants (checked in `checkInvariants`):
    // appliedIndex <= commitIndex, appliedIndex <= lastIndex, durableIndex <= lastIndex,
    // tail holds exactly the entries appliedIndex+1 ... lastIndex.
    public internal(set) var lastIndex: LogIndex
    public internal(set) var durableIndex: LogIndex
    /// The highest index known to be committed; never above the true commit index.
    public internal(set) var commitIndex: LogIndex
    public internal(set) var appliedIndex: LogIndex
    /// The epoch of the entry at `appliedIndex`.
    public internal(set) var appliedEpoch: Epoch
    /// A deque: entries leave at the front as they are applied, in O(1).
    var tail: Deque<Entry>

    /// The last epoch in which this member finished a sync (durable, from the meta file).
    public internal(set) var normalEpoch: Epoch
    /// The current regular configuration.
    public internal(set) var epoch: Epoch = .zero
    public internal(set) var members: [NodeID] = []
    public internal(set) var phase: Phase = .inactive
    var round: SyncRound?
    /// Index the next write delivered in this epoch gets (valid once the source is chosen).
    var nextIndex: LogIndex = .zero
    /// Per member of this epoch: highest durable index acknowledged, and the highest of my
    /// read barriers it delivered.
    var acks: [NodeID: LogIndex] = [:]
    var barrierAcks: [NodeID: UInt64] = [:]
    /// Per originator: the highest of its barriers I delivered in this epoch (echoed in acks).
    var deliveredBarriers: [NodeID: UInt64] = [:]

    let incarnation: UInt32
    var requestCounter: UInt32 = 0
    var pendingWrites: [UInt64: PendingRequest] = [:]
    var waitingReads: [PendingRead] = []
    var barrier: Barrier?
    var barrierCounter: UInt64 = 0
    /// The voters recorded in the snapshot being offered, adopted if it is installed.
    var offeredSnapshotVoters: Voters?

    var now: Instant = .zero
    var tickGeneration: UInt64 = 0
    var isTickArmed = false
    var actions: [ReplicaAction] = []

    /// Counters for status and tests.
    public internal(set) var malformedMessages = 0
    /// Safety invariants found broken. Only ever non-empty with a planted bug
    /// (`testingCanary`): without one, a broken invariant stops the process (`precondition`).
    /// With one, the replica records it and refuses the step's change, so that the
    /// simulator can report the planted bug instead of crashing.
    public internal(set) var brokenInvariants: [String] = []

    struct PendingRequest: Hashable, Sendable {
        var token: ClientToken
        var deadline: Instant
    }

    struct PendingRead: Hashable, Sendable {
        var token: ClientToken
        var deadline: Instant
    }

    struct Barrier: Hashable, Sendable {
        var id: UInt64
        var reads: [PendingRead]
        /// Set when this member delivers its own barrier: the index of the last write
        /// ordered before it.
        var index: LogIndex?
    }

    public init(configuration: ReplicaConfiguration, recovered: RecoveredState) {
        self.configuration = configuration
        normalEpoch = recovered.normalEpoch
        appliedIndex = recovered.appliedIndex
        appliedEpoch = recovered.appliedEpoch
        tail = Deque(recovered.entries)
        lastIndex = LogIndex(recovered.appliedIndex.rawValue + UInt64(recovered.entries.count))
        durableIndex = lastIndex
        commitIndex = max(recovered.commitIndex, recovered.appliedIndex)
        incarnation = recovered.incarnation
        for (offset, entry) in recovered.entries.enumerated() {
            precondition(entry.index.rawValue == recovered.appliedIndex.rawValue + UInt64(offset) + 1,
                         "recovered entries are not contiguous above \(recovered.appliedIndex): \(entry.index) at \(offset)")
        }
    }

    public mutating func step(_ event: ReplicaEvent) -> [ReplicaAction] {
        actions = []
        switch event {
        case .configurationChanged(let kind, let ringID, let members, let at):
            now = at
            configurationChanged(kind, ringID: ringID, members: members)
        case .delivered(let originator, let payload, let at):
            now = at
            delivered(from: originator, payload: payload)
        case .deliveredBatch(let messages, let at):
            now = at
            for message in messages { delivered(from: message.originator, payload: message.payload) }
        case .peerMessageReceived(let from, let message, let at):
            now = at
            peerMessageReceived(from: from, message)
        case .appendDurable(let through, let at):
            now = at
            appendDurable(through: through)
        case .writeRequested(let token, let clientID, let clientSeq, let op, let at):
            now = at
            writeRequested(token, clientID: clientID, clientSeq: clientSeq, op: op)
        case .readRequested(let token, let at):
            now = at
            readRequested(token)
        case .snapshotOffered(let from, let snapshotEpochOfRound, let index, let snapshotEpoch, let at):
            now = at
            snapshotOffered(from: from, epoch: snapshotEpochOfRound, index: index, snapshotEpoch: snapshotEpoch)
        case .broadcastRefused(let payload, let at):
            now = at
            broadcastRefused(payload)
        case .tickFired(let generation, let at):
            now = at
            if generation == tickGeneration {
                isTickArmed = false
                tick()
            }
        }
        applyCommitted()
        checkReads()
        if !isTickArmed {
            isTickArmed = true
            tickGeneration += 1
            actions.append(.startTick(generation: tickGeneration, after: configuration.tickInterval))
        }
        checkInvariants()
        return actions
    }

    /// The epoch of the entry at `index`, when this member still knows it.
    func epochAt(_ index: LogIndex) -> Epoch? {
        if index == appliedIndex { return appliedEpoch }
        if index > appliedIndex && index <= lastIndex {
            return tail[Int(index.rawValue - appliedIndex.rawValue - 1)].epoch
        }
        return nil
    }

    var lastEpoch: Epoch { epochAt(lastIndex) ?? appliedEpoch }

    /// A safety rule: traps without a planted bug, records and returns false with one.
    mutating func brokenInvariant(_ message: String) {
        precondition(configuration.testingCanary != nil, message)
        brokenInvariants.append(message)
    }

    func checkInvariants() {
        precondition(appliedIndex <= commitIndex, "node \(nodeID): applied \(appliedIndex) > commit \(commitIndex)")
        precondition(appliedIndex <= lastIndex, "node \(nodeID): applied \(appliedIndex) > last \(lastIndex)")
        precondition(durableIndex <= lastIndex, "node \(nodeID): durable \(durableIndex) > last \(lastIndex)")
        precondition(tail.count == Int(lastIndex.rawValue - appliedIndex.rawValue),
                     "node \(nodeID): tail of \(tail.count) entries for \(appliedIndex)...\(lastIndex)")
    }

    // MARK: log edits (the shell performs the matching actions in order)

    mutating func appendToLog(_ entries: [Entry]) {
        guard !entries.isEmpty else { return }
        guard entries.first!.index == lastIndex.next else {
            brokenInvariant("node \(nodeID): append \(entries.first!.index) after \(lastIndex)")
            return
        }
        for e in entries {
            precondition(e.index == lastIndex.next, "node \(nodeID): append \(e.index) after \(lastIndex)")
            tail.append(e)
            lastIndex = e.index
        }
        Self.appendMerging(entries, to: &actions)
    }

    /// Adds an `.append` action, joined to the last action when that is an append too: the
    /// shell then frames and writes one batch instead of one per Totem delivery. Appends
    /// are performed in order, so two adjacent ones equal their concatenation.
    static func appendMerging(_ entries: [Entry], to actions: inout [ReplicaAction]) {
        var batch = takeAppendBatch(from: &actions)
        batch.append(contentsOf: entries)
        actions.append(.append(batch))
    }

    /// The entries of a trailing `.append` action, removed from `actions` to be extended
    /// (then appended again); empty when the last action is something else. Matched without
    /// binding, then moved out: the batch is never copied, so it grows in place.
    static func takeAppendBatch(from actions: inout [ReplicaAction]) -> [Entry] {
        if case .append? = actions.last, case .append(let batch) = actions.removeLast() { return batch }
        return []
    }

    mutating func truncateLog(after index: LogIndex) {
        guard index < lastIndex else { return }
        // DESIGN rule 3: truncation stops at the known commit index, never below.
        guard index >= commitIndex else {
            brokenInvariant("node \(nodeID): truncating after \(index) would remove committed entries (commit \(commitIndex))")
            return
        }
        tail.removeLast(Int(lastIndex.rawValue - index.rawValue))
        lastIndex = index
        durableIndex = min(durableIndex, index)
        actions.append(.truncate(after: index))
    }

    // MARK: commit and apply

    /// Commit index = the largest i such that members holding a majority of votes have
    /// acknowledged >= i in the current epoch (rule 5). Only an active member computes it:
    /// a syncing member's log above its old commit index may still be replaced.
    mutating func recomputeCommit() {
        guard phase == .active else { return }
        if configuration.testingCanary == .ignoreQuorum, let mine = acks[nodeID], mine > commitIndex,
           !configuration.voters.isMajority(members) {
            commitIndex = mine
            return
        }
        // For each member's acknowledged index above the commit index, the votes of the
        // members that acknowledged at least as much; the largest with a majority wins. No
        // allocation (this runs on every acknowledgement): members are few, O(m^2) is cheap,
        // and `members` is sorted and duplicate-free, so no hash order is involved.
        let majority = configuration.voters.majorityVotes
        var best = commitIndex
        for candidate in members {
            guard let index = acks[candidate], index > best else { continue }
            var votes: UInt64 = 0
            for member in members where (acks[member] ?? .zero) >= index {
                votes += UInt64(configuration.voters.votes(of: member))
            }
            if votes >= majority { best = index }
        }
        // Beyond the next reconfiguration, another configuration counts (rule 8).
        let capped = reconfigurationCommitCap(upTo: best)
        if capped > commitIndex { commitIndex = capped }
    }

    mutating func applyCommitted() {
        // Entries up to the known commit index are committed and this member's copies of
        // them are correct (truncation never goes below it), so they apply in any phase.
        while appliedIndex < commitIndex && appliedIndex < lastIndex {
            let entry = tail.removeFirst()
            appliedIndex = entry.index
            appliedEpoch = entry.epoch
            if ReconfigurationEntry.isReconfiguration(entry.op) { reconfigurationApplied(entry) }
            var reply: ClientToken?
            if entry.originator == nodeID, let pending = pendingWrites.removeValue(forKey: entry.requestID) {
                reply = pending.token
            }
            actions.append(.apply(entry, reply: reply))
        }
    }
}

extension Replica: CustomStringConvertible {
    /// One line of status: phase, epochs, indexes and the sync's progress.
    public var description: String {
        var s = "\(phase) epoch \(epoch) normal \(normalEpoch) last \(lastIndex) durable \(durableIndex) commit \(commitIndex) applied \(appliedIndex) next \(nextIndex)"
        if let r = round {
            s += " sync[sent \(r.isStateSent) states \(r.states.keys.sorted()) source \(r.sourceNode.map { "\($0)" } ?? "-")@\(r.source.map { "\($0.lastIndex)" } ?? "-") verified \(r.verifiedThrough) buffer \(r.buffer.first.map { "\($0.index)" } ?? "-")+\(r.buffer.count) fetching \(r.isFetching)]"
        }
        return s
    }
}
