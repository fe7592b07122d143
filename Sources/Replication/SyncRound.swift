import Basics

/// The state of one sync (DESIGN.md section 4 rule 3), from the regular configuration to
/// the moment this member's log equals the source's log plus the later entries of the epoch.
struct SyncRound: Hashable, Sendable {
    var epoch: Epoch
    var members: [NodeID]
    /// Whether this member has broadcast its own SyncState (it waits until its log is durable).
    var isStateSent = false
    /// The first SyncState of each member for this epoch, in delivery order.
    var states: [NodeID: SyncState] = [:]
    var source: SyncState?
    var sourceNode: NodeID?
    /// Index up to which this member's log is known to equal the source's.
    var verifiedThrough: LogIndex = .zero
    /// Live entries of this epoch delivered while copying: a window ending at the newest
    /// delivered entry; the front is dropped when it grows past the bound and fetched instead.
    var buffer: [Entry] = []
    var isFetching = false

    init(epoch: Epoch, members: [NodeID]) {
        self.epoch = epoch
        self.members = members
    }

    var hasAllStates: Bool { members.allSatisfy { states[$0] != nil } }

    /// S = max by (normal epoch, last durable index, node id): the same choice everywhere,
    /// since every member delivers the same SyncStates.
    func chooseSource() -> (NodeID, SyncState) {
        let best = members.map { ($0, states[$0]!) }.max { a, b in
            (a.1.normalEpoch, a.1.lastIndex, a.0) < (b.1.normalEpoch, b.1.lastIndex, b.0)
        }!
        return best
    }
}

extension Replica {
    mutating func configurationChanged(_ kind: ConfigurationKind, ringID: RingID, members newMembers: [NodeID]) {
        // Whatever was in progress belongs to the ended configuration.
        endEpoch()
        guard kind == .regular else { return }
        epoch = Epoch(ringID.seq)
        // Sorted and duplicate-free: the commit rule counts each member's votes once.
        members = Array(Set(newMembers)).sorted()
        // Rule 7: a configuration without a majority of votes never syncs.
        guard isMajorityInEveryKnownConfiguration(members) || configuration.testingCanary == .ignoreQuorum else { return }
        phase = .syncing
        round = SyncRound(epoch: epoch, members: members)
        sendSyncStateIfDurable()
    }

    /// Stops writes, acknowledgements and reads of the current epoch.
    mutating func endEpoch() {
        phase = .inactive
        round = nil
        acks = [:]
        barrierAcks = [:]
        deliveredBarriers = [:]
        let reads = (barrier?.reads ?? []) + waitingReads
        barrier = nil
        waitingReads = []
        for read in reads { actions.append(.fail(read.token, .readNotConfirmed)) }
    }

    mutating func sendSyncStateIfDurable() {
        guard phase == .syncing, var r = round, !r.isStateSent, durableIndex == lastIndex else { return }
        r.isStateSent = true
        round = r
        let state = SyncState(epoch: epoch, normalEpoch: normalEpoch, lastIndex: lastIndex,
                              lastEpoch: lastEpoch, commitIndex: commitIndex)
        actions.append(.broadcast(RingMessage.syncState(state).encoded()))
    }

    mutating func syncStateDelivered(_ state: SyncState, from sender: NodeID) {
        guard phase == .syncing, var r = round, r.source == nil, state.epoch == r.epoch,
              r.members.contains(sender), r.states[sender] == nil else { return }
        r.states[sender] = state
        round = r
        guard r.hasAllStates else { return }
        let (sourceNode, source) = r.chooseSource()
        r.source = source
        r.sourceNode = sourceNode
        // Rule 4: new writes of this epoch follow the source's log.
        nextIndex = source.lastIndex.next
        // Known-committed entries this member holds equal the source's. The commit index can
        // run past the local log (the others appended faster), hence the min.
        r.verifiedThrough = min(commitIndex, lastIndex)
        round = r
        if sourceNode == nodeID {
            guard lastIndex == source.lastIndex else {
                brokenInvariant("node \(nodeID): source log moved during sync")
                return
            }
            round?.verifiedThrough = lastIndex
            finishSyncIfReady()
            return
        }
        guard source.lastIndex >= commitIndex else {
            brokenInvariant("node \(nodeID): source \(sourceNode) ends at \(source.lastIndex) below my commit \(commitIndex)")
            return
        }
        if lastIndex >= source.lastIndex, epochAt(source.lastIndex) == source.lastEpoch {
            // Same (index, epoch) as the source's last entry: identical through it.
            round?.verifiedThrough = source.lastIndex
            truncateLog(after: source.lastIndex)
            finishSyncIfReady()
        } else {
            round?.isFetching = true
            requestFetch()
        }
    }

    /// Asks the source for what this member lacks: from the first unverified index to the
    /// newest entry delivered in this epoch (or the end of the buffer's gap).
    mutating func requestFetch() {
        guard phase == .syncing, let r = round, r.isFetching, let sourceNode = r.sourceNode else { return }
        let from = r.verifiedThrough.next
        let through = LogIndex(nextIndex.rawValue - 1)
        guard from <= through else { return }
        let capped = LogIndex(min(through.rawValue, from.rawValue + configuration.fetchBatchEntries - 1))
        actions.append(.send(.fetch(epoch: epoch, from: from, through: capped), to: sourceNode))
    }

    mutating func entriesReceived(_ entries: [Entry], epoch entriesEpoch: Epoch, from sender: NodeID) {
        guard phase == .syncing, var r = round, r.isFetching, entriesEpoch == epoch, sender == r.sourceNode,
              let first = entries.first, first.index == r.verifiedThrough.next else { return }
        var toAppend: [Entry] = []
        for (offset, entry) in entries.enumerated() {
            guard entry.index.rawValue == first.index.rawValue + UInt64(offset) else { break }
            if toAppend.isEmpty && entry.index <= lastIndex {
                if epochAt(entry.index) == entry.epoch {
                    r.verifiedThrough = entry.index
                    continue
                }
                // First difference: everything of mine from here is not in the source's log,
                // so it is not committed (the source holds every committed entry).
                round = r
                truncateLog(after: LogIndex(entry.index.rawValue - 1))
            }
            toAppend.append(entry)
            r.verifiedThrough = entry.index
        }
        round = r
        appendToLog(toAppend)
        if r.verifiedThrough >= (r.source?.lastIndex ?? .zero) {
            // Past the source's sync point: my own entries beyond what is verified are stale.
            truncateLog(after: r.verifiedThrough)
            appendBufferIfContiguous()
        }
        if !finishSyncIfReady() { requestFetch() }
    }

    /// The source compacted past this member's log: it takes the source's state at `index`
    /// whole. Everything this member holds at or below `index` is replaced, which is safe for
    /// the same reason truncation is: the source holds every committed entry, and its state
    /// at a committed index is the state every node reaches there.
    mutating func snapshotOffered(from sender: NodeID, epoch offerEpoch: Epoch, index: LogIndex, snapshotEpoch: Epoch) {
        // The snapshot may stop below this member's known commit index (learned from acks
        // while its own log lagged): the entries between are fetched after it.
        guard phase == .syncing, var r = round, r.isFetching, offerEpoch == epoch, sender == r.sourceNode,
              index > r.verifiedThrough else { return }
        actions.append(.installSnapshot(index: index, epoch: snapshotEpoch))
        adoptOfferedSnapshotVoters()
        tail = []
        lastIndex = index
        durableIndex = index
        appliedIndex = index
        appliedEpoch = snapshotEpoch
        commitIndex = max(commitIndex, index)
        r.verifiedThrough = index
        r.buffer.removeAll { $0.index <= index }
        round = r
        if index >= (r.source?.lastIndex ?? .zero) { appendBufferIfContiguous() }
        if !finishSyncIfReady() { requestFetch() }
    }

    /// A live entry of this epoch delivered while this member is still copying.
    mutating func bufferLiveEntry(_ entry: Entry) {
        guard var r = round else { return }
        r.buffer.append(entry)
        if r.buffer.count > configuration.liveBufferEntriesMax {
            r.buffer.removeFirst(r.buffer.count - configuration.liveBufferEntriesMax)
        }
        round = r
        if !r.isFetching { appendBufferIfContiguous() }
    }

    mutating func appendBufferIfContiguous() {
        guard var r = round, !r.buffer.isEmpty, let source = r.source,
              r.verifiedThrough >= source.lastIndex else { return }
        // Drop what is already in the log, append the rest when it starts right after.
        r.buffer.removeAll { $0.index <= lastIndex }
        if let head = r.buffer.first, head.index == lastIndex.next, lastIndex == r.verifiedThrough {
            let live = r.buffer
            r.buffer = []
            r.verifiedThrough = live.last!.index
            round = r
            appendToLog(live)
        } else {
            round = r
        }
    }

    /// Finishes the sync once this member's log equals the source's plus every later entry
    /// of the epoch, and is durable through the source's last index.
    @discardableResult
    mutating func finishSyncIfReady() -> Bool {
        guard phase == .syncing, let r = round, let source = r.source else { return false }
        guard r.verifiedThrough >= source.lastIndex, lastIndex == r.verifiedThrough,
              LogIndex(nextIndex.rawValue - 1) == lastIndex, durableIndex >= source.lastIndex else {
            return false
        }
        round = nil
        phase = .active
        normalEpoch = epoch
        actions.append(.persistNormalEpoch(epoch, commitIndex: commitIndex))
        acks[nodeID] = durableIndex
        sendAcks()
        recomputeCommit()
        return true
    }

    mutating func fetchRequested(by peer: NodeID, epoch requestEpoch: Epoch, from: LogIndex, through: LogIndex) {
        // Only an active member's log is the source's log plus this epoch's entries.
        guard requestEpoch == epoch, phase == .active, members.contains(peer), from <= through else { return }
        // Serve only durable entries, and only ones this member's log holds as the source's.
        let limit = min(through, durableIndex)
        guard from <= limit else { return }
        actions.append(.serveFetch(to: peer, epoch: epoch, from: from, through: limit))
    }
}
