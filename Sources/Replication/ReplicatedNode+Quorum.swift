import Basics
import CMap
import Quorum
import Totem

/// The quorum service's glue inside `ReplicatedNode.step`:
///
/// - every regular configuration Totem delivers becomes `.membershipChanged`, and the NODEINFO
///   the quorum core asks to multicast goes through Totem (tagged with the ring it is for);
/// - every NODEINFO Totem delivers, in agreed order, is fed back, so each member sees the same
///   sequence and ends the membership sync at the same point of the total order;
/// - `setexpected` / `setvotes` are checked (corosync's checks and the single-voter rule), then
///   submitted as a reconfiguration log entry; when it is committed and applied, the replica's
///   commit voters change (Replica+Voters.swift), the quorum core takes the same change, the
///   configuration is recorded in the store, and the client gets the result.
///
/// Quorum notifications become `.quorumChanged` actions. Those that end a membership sync
/// come at the same point of the total order on every node; those caused by an applied
/// reconfiguration come when the node applies it, which other nodes may do before or after
/// their next sync (the content converges; see docs/quorum.md).
extension ReplicatedNode {
    /// Builds the node with corosync's quorum flags and `quorum.expected_votes`: the
    /// replica's voters take the override too (it can only raise the majority).
    public init(totem: TotemInstance, replica: Replica, store: CMapStateMachine,
                quorumOptions: EffectiveQuorumOptions, expectedVotes: Votes? = nil) {
        var replica = replica
        if let expectedVotes, let configured = replica.voterConfiguration,
           let withOverride = try? configured.settingExpectedVotes(expectedVotes) {
            replica.restoreVoters(Voters(withOverride))
        }
        self.init(totem: totem, replica: replica, store: store)
        quorumService = QuorumService(nodeID: totem.nodeID, voters: replica.configuration.voters,
                                      options: quorumOptions)
        adoptStoredVoters()
    }

    /// Start-up: a configuration recorded in the store (a snapshot's) replaces the configured
    /// one; the log above the snapshot is applied on top of it.
    mutating func adoptStoredVoters() {
        guard let stored = ReconfigurationEntry.configuration(in: store.state) else { return }
        replica.restoreVoters(Voters(stored))
        _ = quorumService.state?.step(.configurationRestored(stored, at: .zero))
    }

    /// The voters a snapshot's state records, or the configured ones when it records none
    /// (no reconfiguration was applied in its history).
    func snapshotVoters(_ state: CMapState) -> Voters {
        ReconfigurationEntry.configuration(in: state).map(Voters.init) ?? quorumService.configuredVoters
    }

    // MARK: - Feeding the quorum core

    mutating func quorumStep(_ event: VoteQuorumState.Event, at: Instant, work: inout [Work], actions: inout [Action]) {
        guard var state = quorumService.state else { return }
        let produced = state.step(event)
        quorumService.state = state
        performQuorum(produced, at: at, work: &work, actions: &actions)
    }

    mutating func performQuorum(_ produced: [VoteQuorumState.Action], at: Instant,
                                work: inout [Work], actions: inout [Action]) {
        for action in produced {
            switch action {
            case .multicastNodeInfo(let info):
                submitNodeInfo(info, at: at, work: &work)
            case .notifyQuorum(let notification):
                actions.append(.quorumChanged(notification))
            case .startTimer(let timer, let deadline):
                let after = deadline > at ? deadline.milliseconds(since: at) : 0
                actions.append(.startQuorumTimer(timer, after: Milliseconds(UInt32(clamping: after))))
            case .notifyNodeList, .notifyExpectedVotes, .cancelTimer, .reconfigurationRefused:
                // The node list and expected votes are part of the next quorum notification;
                // a stale timer is ignored by its generation; refusals are answered by the caller.
                break
            }
        }
    }

    private mutating func submitNodeInfo(_ info: NodeInfo, at: Instant, work: inout [Work]) {
        guard let ringID = quorumService.state?.ringID else { return }
        work.append(.totem(.submitted(RingMessage.nodeInfo(ringID: ringID, info).encoded(), at: at)))
    }

    mutating func quorumConfigurationChanged(_ change: ConfigurationChange, at: Instant,
                                             work: inout [Work], actions: inout [Action]) {
        guard change.kind == .regular, change.members.contains(nodeID) else { return }
        quorumService.nodeInfoToResend = nil
        quorumStep(.membershipChanged(ringID: change.ringID, members: change.members, at: at),
                   at: at, work: &work, actions: &actions)
    }

    mutating func nodeInfoDelivered(_ delivery: Delivery, at: Instant, work: inout [Work], actions: inout [Action]) {
        guard case .nodeInfo(let ringID, let info)? = try? RingMessage(decoding: delivery.bytes),
              ringID == quorumService.state?.ringID else {
            quorumService.staleNodeInfoCount &+= 1
            return
        }
        quorumStep(.nodeInfoReceived(info, from: delivery.originator, at: at), at: at, work: &work, actions: &actions)
    }

    /// Totem's queue was full: without this NODEINFO the membership sync never ends, so it is
    /// sent again at the next step (if the ring has not changed meanwhile).
    mutating func nodeInfoRefused(_ payload: [UInt8]) {
        guard case .nodeInfo(let ringID, let info)? = try? RingMessage(decoding: payload),
              ringID == quorumService.state?.ringID else { return }
        quorumService.nodeInfoToResend = info
    }

    mutating func resendRefusedNodeInfo(at: Instant, work: inout [Work]) {
        guard let info = quorumService.nodeInfoToResend else { return }
        quorumService.nodeInfoToResend = nil
        submitNodeInfo(info, at: at, work: &work)
    }

    // MARK: - setexpected / setvotes

    mutating func reconfigurationRequested(_ token: ClientToken, _ requested: Reconfiguration, at: Instant,
                                           work: inout [Work], actions: inout [Action]) {
        guard let state = quorumService.state else {
            actions.append(.reply(token, .rejected("INVALID_PARAM no voter configuration to change")))
            return
        }
        var change = requested
        var refusal: QuorumRefusal?
        switch requested {
        case .expectedVotes(let expected):
            refusal = state.validateSetExpected(expected)
        case .nodeVotes(let node, let votes):
            let target = node == NodeID(0) ? nodeID : node
            change = .nodeVotes(target, votes)
            refusal = state.validateSetVotes(target, votes: votes)
        case .cancelWaitForAll:
            refusal = nil
        }
        if let refusal {
            actions.append(.reply(token, .rejected(Self.refusalText(refusal))))
            return
        }
        if replica.hasPendingReconfiguration {
            actions.append(.reply(token, .rejected(
                "BUSY another reconfiguration is in the log but not applied yet: retry once it is")))
            return
        }
        work.append(.replica(.writeRequested(token, clientID: 0, clientSeq: 0,
                                             op: ReconfigurationEntry.encode(change), at: at)))
    }

    /// A committed reconfiguration, applied in log order (the replica already changed its
    /// voters, or refused, with the same checks): the quorum core takes it, the store records
    /// the configuration, and the requesting client gets the outcome.
    mutating func reconfigurationApplied(_ entry: Entry, reply: ClientToken?, at: Instant,
                                         work: inout [Work], actions: inout [Action]) {
        var outcome: ClientReply
        if let change = try? ReconfigurationEntry.decode(entry.op), var state = quorumService.state {
            // The replica's checks first (a superset of the quorum core's), so both take the
            // same decision.
            var produced: [VoteQuorumState.Action] = []
            var refused: String?
            if case .failure(let refusal) = ReconfigurationEntry.applying(change, to: state.configuration) {
                refused = refusal.reason
            } else {
                produced = state.step(.reconfigurationDelivered(change, at: at))
                refused = produced.compactMap { action -> String? in
                    if case .reconfigurationRefused(_, let reason) = action { return reason }
                    return nil
                }.first
            }
            quorumService.state = state
            if let refused {
                store.advance(to: entry.index)
                outcome = .rejected("REFUSED at index \(entry.index): \(refused)")
            } else {
                _ = store.apply(.set(ReconfigurationEntry.configurationKey, .binary(state.configuration.encoded())),
                                at: entry.index)
                outcome = .result(.ok, index: entry.index)
            }
            performQuorum(produced, at: at, work: &work, actions: &actions)
        } else {
            undecodableOps += 1
            store.advance(to: entry.index)
            outcome = .rejected("undecodable reconfiguration at index \(entry.index)")
        }
        actions.append(.applied(entry))
        if let reply { actions.append(.reply(reply, outcome)) }
    }

    /// A snapshot was installed: the quorum core takes the voters it records. (Not the
    /// replica's voters: by the time this action is performed, the replica may already have
    /// applied reconfigurations after the snapshot in the same step; their actions follow.)
    mutating func quorumVotersRestored(_ state: CMapState, at: Instant, work: inout [Work], actions: inout [Action]) {
        guard let configuration = snapshotVoters(state).voterConfiguration,
              configuration != quorumService.state?.configuration else { return }
        quorumStep(.configurationRestored(configuration, at: at), at: at, work: &work, actions: &actions)
    }

    public static func refusalText(_ refusal: QuorumRefusal) -> String {
        let code = switch refusal.code {
        case .invalidParameter: "INVALID_PARAM"
        case .nodeNotFound: "NAME_NOT_FOUND"
        case .unsafeForStore: "UNSAFE"
        }
        return code + " " + refusal.reason
    }
}

extension ReplicatedNode.Event {
    /// The instant the event happened at.
    public var instant: Instant {
        switch self {
        case .started(let at), .packetReceived(_, let at), .totemTimerFired(_, _, let at),
             .peerMessageReceived(_, _, let at), .appendDurable(_, let at), .replicaTickFired(_, let at),
             .requested(_, _, let at), .leaveRequested(let at), .quorumTimerFired(_, let at),
             .processGroupRequested(_, _, let at):
            at
        }
    }
}
