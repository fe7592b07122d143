import Basics

/// Read-only answers: getinfo, the administrative checks, and the store's view.
extension VoteQuorumState {
    /// `votequorum_getinfo`: node 0 means this node; nil for a node never heard of
    /// (CS_ERR_NOT_EXIST).
    public func getinfo(_ node: NodeID) -> VoteQuorumInfo? {
        let target = node == NodeID(0) ? localNode : node
        guard let i = index(of: target) else { return nil }
        let totals = memberTotals
        let record = nodes[i]
        return VoteQuorumInfo(
            nodeID: record.nodeID, state: record.state, votes: record.votes,
            expectedVotes: record.expectedVotes, highestExpected: totals.highestExpected,
            totalVotes: totals.votes, quorum: quorum, flags: infoFlags)
    }

    public var infoFlags: VoteQuorumInfoFlags {
        var flags: VoteQuorumInfoFlags = []
        if options.twoNode { flags.insert(.twoNode) }
        if serviceIsQuorate { flags.insert(.quorate) }
        if options.waitForAll { flags.insert(.waitForAll) }
        if isLastManStandingEnabled { flags.insert(.lastManStanding) }
        if options.tieBreaker != nil { flags.insert(.autoTieBreaker) }
        if options.allowDownscale { flags.insert(.allowDownscale) }
        return flags
    }

    /// Every node in the table, ascending by id.
    public var nodeStatuses: [NodeStatus] {
        nodes.map {
            NodeStatus(nodeID: $0.nodeID, state: $0.state, votes: $0.votes, expectedVotes: $0.expectedVotes)
        }
    }

    public var quorumNotification: QuorumNotification {
        QuorumNotification(
            isQuorate: serviceIsQuorate, isStoreQuorate: storeIsQuorate, ringID: ringID,
            quorum: quorum, members: members, nodes: nodeStatuses)
    }

    // MARK: - Administrative checks

    /// corosync's `votequorum_setexpected` checks, then the store's intersection rule.
    /// Nil: send the reconfiguration. It is checked again when delivered.
    public func validateSetExpected(_ expected: Votes) -> QuorumRefusal? {
        // corosync evaluates the new quorum with decrease allowed and allow_downscale off.
        let (newQuorum, total) = calculateQuorum(
            allowDecrease: true, maxExpected: expected, allowDownscale: false)
        if expected < total {
            return QuorumRefusal(
                .invalidParameter,
                "expected votes \(expected) is below the \(total) votes of the current members")
        }
        if serviceIsQuorate && newQuorum > total {
            return QuorumRefusal(
                .invalidParameter,
                "expected votes \(expected) would need a quorum of \(newQuorum) but only "
                    + "\(total) votes are present: the cluster would lose quorum")
        }
        return storeRefusal(of: .expectedVotes(expected))
    }

    /// corosync's `votequorum_setvotes` checks (node 0 means this node), then the store's
    /// intersection rule. Nil: send the reconfiguration.
    public func validateSetVotes(_ node: NodeID, votes: Votes) -> QuorumRefusal? {
        let target = node == NodeID(0) ? localNode : node
        guard let i = index(of: target) else {
            return QuorumRefusal(.nodeNotFound, "node \(node) is not known to votequorum")
        }
        var trial = self
        trial.nodes[i].votes = votes
        let (newQuorum, total) = trial.calculateQuorum(
            allowDecrease: true, maxExpected: .zero, allowDownscale: options.allowDownscale)
        if newQuorum < total.half || newQuorum > total {
            return QuorumRefusal(
                .invalidParameter,
                "giving node \(target) \(votes) votes makes the quorum \(newQuorum) for \(total) "
                    + "votes present, outside \(total.half)...\(total)")
        }
        return storeRefusal(of: .nodeVotes(target, votes))
    }

    private func storeRefusal(of change: Reconfiguration) -> QuorumRefusal? {
        do {
            let next: VoterConfiguration
            switch change {
            case .expectedVotes(let expected): next = try configuration.settingExpectedVotes(expected)
            case .nodeVotes(let node, let votes): next = try configuration.settingVotes(votes, for: node)
            case .cancelWaitForAll: return nil
            }
            return configuration.refusalOfChange(to: next).map {
                QuorumRefusal(.unsafeForStore, $0.reason)
            }
        } catch {
            return QuorumRefusal(.invalidParameter, error.description)
        }
    }

    // MARK: - The store's view

    /// The store's rule (DESIGN.md section 4 rules 1, 5, 8): do the ring's members hold a
    /// true majority of the configured votes? Flags never change this.
    public var storeIsQuorate: Bool { configuration.isMajority(of: members) }

    /// Configured votes held by the current members.
    public var storeVotesPresent: Votes { configuration.votes(among: members) }

    /// For QUORUM.INFO: why the service and the store disagree, or nil when they agree.
    public var quorumDisagreement: String? {
        let present = storeVotesPresent
        let needed = configuration.majorityVotes
        switch (serviceIsQuorate, storeIsQuorate) {
        case (true, false):
            var reasons: [String] = []
            if options.twoNode { reasons.append("two_node") }
            if isLastManStandingEnabled { reasons.append("last_man_standing") }
            if options.tieBreaker != nil { reasons.append("auto_tie_breaker") }
            let why = reasons.isEmpty ? "" : " (\(reasons.joined(separator: ", ")))"
            return "votequorum reports quorate\(why), but the store commits only with a "
                + "majority of the configured votes: \(present) present, \(needed) needed; "
                + "writes are refused"
        case (false, true):
            let why = isWaitingForAll ? "it is waiting for all nodes (wait_for_all)" : "its quorum is \(quorum)"
            return "the members hold \(present) of the \(needed) configured votes the store "
                + "needs, but votequorum is not quorate: \(why)"
        default:
            return nil
        }
    }
}
