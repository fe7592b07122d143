import Basics

/// votequorum's per-node state machine (corosync `exec/votequorum.c`), sans IO: the
/// replication layer feeds it membership changes, NODEINFO messages, committed
/// reconfigurations and timer firings, in Totem's agreed order, and performs the actions it
/// returns. Every node fed the same sequence computes the same table, quorum and answers.
///
/// The membership sync, as corosync runs it: on `.membershipChanged` the nodes that left are
/// marked dead and this node asks to multicast its NODEINFO; each delivered NODEINFO updates
/// the table; once every member's NODEINFO of the new ring has been delivered the sync ends
/// (`votequorum_sync_activate`): quorum is recomputed and a quorum notification is pushed.
/// Outside a sync a notification is pushed whenever its content changes.
///
/// `serviceIsQuorate` is votequorum's answer, flags included. `storeIsQuorate` is the store's
/// rule: a true majority of the configured votes (`VoterConfiguration`), which no flag relaxes.
public struct VoteQuorumState: Sendable {
    public let localNode: NodeID
    public let options: EffectiveQuorumOptions
    /// The configured voters; changed only by delivered reconfigurations that pass the
    /// intersection rule. Persist it (meta file, snapshots) after each change.
    public internal(set) var configuration: VoterConfiguration
    /// last_man_standing as running: corosync switches it off when a node has > 1 vote.
    public internal(set) var isLastManStandingEnabled: Bool

    /// The node table, ascending by node id; always holds the local node, as a member.
    var nodes: [NodeRecord]
    public internal(set) var quorum: Votes = .zero
    public internal(set) var serviceIsQuorate = false
    /// wait_for_all status: not quorate until all expected votes have been seen at once.
    public internal(set) var isWaitingForAll = false
    /// Members of the current ring, ascending; empty before the first membership change.
    public internal(set) var members: [NodeID] = []
    var previousMembers: [NodeID] = []
    public internal(set) var ringID: RingID?
    public internal(set) var isSyncInProgress = false
    /// Members whose NODEINFO for the current ring has not been delivered yet (ascending).
    var awaitingNodeInfo: [NodeID] = []
    /// corosync's `ev_barrier`: allow_downscale never lowers expected votes below it.
    var expectedVotesBarrier: Votes
    /// Lowest / highest member id the last time votes alone made us quorate
    /// (auto_tie_breaker remembers the whole cluster's, not the partition's).
    var lowestNodeID: NodeID?
    var highestNodeID: NodeID?
    var lastManStandingGeneration: UInt64 = 0
    var isLastManStandingTimerArmed = false
    var lastNotifiedExpectedVotes: Votes
    var lastQuorumNotification: QuorumNotification?
    /// NODEINFO messages dropped: sender not a member, sender ≠ subject, or table full.
    public internal(set) var ignoredNodeInfoCount: UInt64 = 0

    struct NodeRecord: Hashable, Sendable {
        var nodeID: NodeID
        var state: NodeState
        var votes: Votes
        var expectedVotes: Votes
        var flags: NodeInfoFlags
    }

    /// Start-up (`votequorum_exec_init_fn` + `votequorum_readconfig`): this node alone in the
    /// table with its configured votes and the configured expected votes.
    public init(localNode: NodeID, configuration: VoterConfiguration, options: EffectiveQuorumOptions) {
        precondition(localNode != NodeID(0), "node id 0 is reserved")
        self.localNode = localNode
        self.options = options
        self.configuration = configuration
        self.isLastManStandingEnabled = options.lastManStanding
        var flags: NodeInfoFlags = [.first]
        if options.waitForAll { flags.insert(.waitForAllStatus) }
        nodes = [
            NodeRecord(
                nodeID: localNode, state: .member, votes: configuration.votes(of: localNode),
                expectedVotes: configuration.expectedVotes, flags: flags)
        ]
        isWaitingForAll = options.waitForAll
        expectedVotesBarrier = configuration.expectedVotes
        lastNotifiedExpectedVotes = configuration.expectedVotes
        recalculateQuorum(allowDecrease: false, byCurrentNodes: false)
        lastNotifiedExpectedVotes = nodes[localIndex].expectedVotes
    }

    /// Resolves corosync's startup rules first; throws corosync's fatal configuration error.
    public init(localNode: NodeID, configuration: VoterConfiguration, options: QuorumOptions)
        throws(QuorumOptionsError)
    {
        self.init(
            localNode: localNode, configuration: configuration,
            options: try options.resolved(for: configuration))
    }

    /// Applies one event; actions in the order documented on `Action`.
    public mutating func step(_ event: Event) -> [Action] {
        var actions: [Action] = []
        var syncFinished = false
        switch event {
        case .membershipChanged(let ringID, let members, let instant):
            membershipChanged(ringID: ringID, members: members, at: instant, into: &actions)
        case .nodeInfoReceived(let info, let sender, _):
            syncFinished = nodeInfoReceived(info, from: sender, into: &actions)
        case .reconfigurationDelivered(let change, _):
            reconfigurationDelivered(change, into: &actions)
        case .configurationRestored(let restored, _):
            configurationRestored(restored)
        case .timerFired(let timer, _):
            timerFired(timer)
        case .shutdownRequested:
            if options.allowDownscale {
                nodes[localIndex].flags.insert(.leaving)
                actions.append(.multicastNodeInfo(localNodeInfo))
            }
        }
        notifyChanges(forceQuorum: syncFinished, into: &actions)
        return actions
    }

    /// The NODEINFO this node announces now.
    public var localNodeInfo: NodeInfo {
        let me = nodes[localIndex]
        return NodeInfo(nodeID: me.nodeID, votes: me.votes, expectedVotes: me.expectedVotes, flags: me.flags)
    }

    // MARK: - Event handlers

    private mutating func membershipChanged(
        ringID: RingID, members unsorted: [NodeID], at instant: Instant, into actions: inout [Action]
    ) {
        var newMembers = unsorted.sorted()
        newMembers.removeDuplicatesFromSorted()
        precondition(newMembers.contains(localNode), "membership \(newMembers) lacks the local node \(localNode)")
        precondition(newMembers.count <= VoteQuorum.nodesMax, "membership of \(newMembers.count) nodes exceeds \(VoteQuorum.nodesMax)")
        isSyncInProgress = true
        if newMembers.count > 1 { nodes[localIndex].flags.remove(.first) }
        var someLeft = false
        for node in members where !newMembers.contains(node) {
            someLeft = true
            if let i = index(of: node) { nodes[i].state = .dead }
        }
        if isLastManStandingEnabled {
            // corosync compares a node count with quorum: LMS requires one vote per node.
            let count = UInt64(newMembers.count)
            let quorumVotes = UInt64(quorum.rawValue)
            if (count >= quorumVotes && someLeft)
                || (count <= quorumVotes && options.tieBreaker != nil && isLowestNodePresent)
            {
                restartLastManStandingTimer(at: instant, into: &actions)
            }
        }
        previousMembers = members
        members = newMembers
        self.ringID = ringID
        awaitingNodeInfo = newMembers
        actions.append(.multicastNodeInfo(localNodeInfo))
        actions.append(.notifyNodeList(ringID: ringID, members: newMembers))
    }

    /// Returns true when this NODEINFO was the last one the sync waited for.
    private mutating func nodeInfoReceived(
        _ info: NodeInfo, from sender: NodeID, into actions: inout [Action]
    ) -> Bool {
        guard info.nodeID == sender, members.contains(sender),
            case let (i, isNew)? = indexInserting(sender)
        else {
            ignoredNodeInfoCount &+= 1
            return false
        }
        let old = isNew ? nil : nodes[i]
        nodes[i].flags = info.flags
        nodes[i].votes = info.votes
        nodes[i].state = .member
        var allowDecrease = false
        var byNode = false
        if info.flags.contains(.leaving) {
            nodes[i].state = .leaving
            allowDecrease = true
            byNode = true
        }
        if !serviceIsQuorate && info.flags.contains(.quorate) {
            // An inquorate node adopts the expected votes of a quorate one.
            allowDecrease = true
            nodes[localIndex].expectedVotes = info.expectedVotes
        }
        // allow_downscale implies corosync's expected_votes_tracking here.
        nodes[i].expectedVotes =
            info.flags.contains(.quorate) || options.allowDownscale
            ? info.expectedVotes : nodes[localIndex].expectedVotes
        if isLastManStandingEnabled && info.votes > 1 {
            isLastManStandingEnabled = false
            if isLastManStandingTimerArmed {
                isLastManStandingTimerArmed = false
                actions.append(.cancelTimer(.lastManStanding(generation: lastManStandingGeneration)))
            }
        }
        if isNew || sender == localNode || info.flags.contains(.first) || old != nodes[i] {
            recalculateQuorum(allowDecrease: allowDecrease, byCurrentNodes: byNode)
        }
        if options.waitForAll && !info.flags.contains(.waitForAllStatus) && info.flags.contains(.quorate) {
            // Joining a quorate partition that is not itself waiting releases wait_for_all.
            setWaitingForAll(false)
        }
        guard isSyncInProgress, let waiting = awaitingNodeInfo.firstIndex(of: sender) else { return false }
        awaitingNodeInfo.remove(at: waiting)
        guard awaitingNodeInfo.isEmpty else { return false }
        recalculateQuorum(allowDecrease: false, byCurrentNodes: false)
        isSyncInProgress = false
        return true
    }

    private mutating func reconfigurationDelivered(_ change: Reconfiguration, into actions: inout [Action]) {
        switch change {
        case .expectedVotes(let expected):
            guard let next = checkedConfiguration(for: change, into: &actions) else { return }
            configuration = next
            updateMemberExpectedVotes(expected)
            expectedVotesBarrier = expected
            recalculateQuorum(allowDecrease: true, byCurrentNodes: false)
        case .nodeVotes(let node, let votes):
            guard let next = checkedConfiguration(for: change, into: &actions) else { return }
            let previous = configuration
            configuration = next
            // corosync ignores a node it has never heard of; the configuration still changes.
            if let i = index(of: node) { nodes[i].votes = votes }
            followConfiguredExpectedVotes(from: previous)
            recalculateQuorum(allowDecrease: true, byCurrentNodes: false)
        case .cancelWaitForAll:
            setWaitingForAll(false)
            recalculateQuorum(allowDecrease: false, byCurrentNodes: false)
        }
    }

    /// The configuration after `change`, or nil (and a refusal action) when it is invalid or
    /// breaks the intersection rule at this point of the total order.
    private func checkedConfiguration(
        for change: Reconfiguration, into actions: inout [Action]
    ) -> VoterConfiguration? {
        do {
            let next: VoterConfiguration
            switch change {
            case .expectedVotes(let expected): next = try configuration.settingExpectedVotes(expected)
            case .nodeVotes(let node, let votes): next = try configuration.settingVotes(votes, for: node)
            case .cancelWaitForAll: return configuration
            }
            if let refusal = configuration.refusalOfChange(to: next) {
                actions.append(.reconfigurationRefused(change, reason: refusal.reason))
                return nil
            }
            return next
        } catch {
            actions.append(.reconfigurationRefused(change, reason: error.description))
            return nil
        }
    }

    /// Our votes follow the configuration at once; other nodes' follow their next NODEINFO.
    /// A new expected-votes override is applied as a delivered setexpected would be.
    private mutating func configurationRestored(_ restored: VoterConfiguration) {
        let previous = configuration
        configuration = restored
        nodes[localIndex].votes = restored.votes(of: localNode)
        followConfiguredExpectedVotes(from: previous)
        recalculateQuorum(allowDecrease: true, byCurrentNodes: false)
    }

    /// When the configured expected votes change (a new override, or a new sum of votes
    /// without one), members take the new value, as a delivered setexpected does.
    ///
    /// A deviation: corosync's setvotes leaves expected votes alone, but corosync's setvotes
    /// is not durable, while ours changes the configuration a restarting node reads. Without
    /// this, a node restarted after setvotes would compute a different quorum from the nodes
    /// that lived through it.
    private mutating func followConfiguredExpectedVotes(from previous: VoterConfiguration) {
        let expected = configuration.expectedVotes
        guard expected != previous.expectedVotes else { return }
        updateMemberExpectedVotes(expected)
        expectedVotesBarrier = expected
    }

    private mutating func timerFired(_ timer: QuorumTimer) {
        switch timer {
        case .lastManStanding(let generation):
            guard isLastManStandingTimerArmed, generation == lastManStandingGeneration else { return }
            isLastManStandingTimerArmed = false
            // Still quorate after the window: expected votes drop to the members present.
            if serviceIsQuorate { recalculateQuorum(allowDecrease: true, byCurrentNodes: true) }
        }
    }

    private mutating func restartLastManStandingTimer(at instant: Instant, into actions: inout [Action]) {
        if isLastManStandingTimerArmed {
            actions.append(.cancelTimer(.lastManStanding(generation: lastManStandingGeneration)))
        }
        lastManStandingGeneration &+= 1
        isLastManStandingTimerArmed = true
        actions.append(
            .startTimer(
                .lastManStanding(generation: lastManStandingGeneration),
                deadline: instant + options.lastManStandingWindow))
    }

    private mutating func notifyChanges(forceQuorum: Bool, into actions: inout [Action]) {
        let expected = nodes[localIndex].expectedVotes
        if expected != lastNotifiedExpectedVotes {
            lastNotifiedExpectedVotes = expected
            actions.append(.notifyExpectedVotes(expected))
        }
        guard !isSyncInProgress else { return }
        let notification = quorumNotification
        if forceQuorum || notification != lastQuorumNotification {
            lastQuorumNotification = notification
            actions.append(.notifyQuorum(notification))
        }
    }

    // MARK: - Node table

    var localIndex: Int {
        guard let i = index(of: localNode) else {
            preconditionFailure("the local node \(localNode) is missing from the node table")
        }
        return i
    }

    func index(of node: NodeID) -> Int? {
        var low = 0
        var high = nodes.count
        while low < high {
            let mid = (low + high) / 2
            if nodes[mid].nodeID < node { low = mid + 1 } else { high = mid }
        }
        return low < nodes.count && nodes[low].nodeID == node ? low : nil
    }

    /// The node's index, adding it (dead, no votes) if new. When the table is full the
    /// lowest-id dead node makes room, as corosync reuses a dead slot; nil if none is dead.
    private mutating func indexInserting(_ node: NodeID) -> (Int, isNew: Bool)? {
        if let i = index(of: node) { return (i, false) }
        if nodes.count >= VoteQuorum.nodesMax {
            guard let dead = nodes.firstIndex(where: { $0.state == .dead }) else { return nil }
            nodes.remove(at: dead)
        }
        let position = nodes.firstIndex(where: { node < $0.nodeID }) ?? nodes.count
        nodes.insert(
            NodeRecord(nodeID: node, state: .dead, votes: .zero, expectedVotes: .zero, flags: []),
            at: position)
        return (position, true)
    }
}
