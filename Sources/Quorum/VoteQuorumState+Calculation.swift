import Basics

/// corosync's quorum core: `calculate_quorum`, `recalculate_quorum`, `are_we_quorate` and
/// the auto_tie_breaker check, over the node table.
extension VoteQuorumState {
    /// Σ votes, count and highest expected votes of the nodes in state `member`.
    var memberTotals: (votes: Votes, count: Int, highestExpected: Votes) {
        var votes = Votes.zero
        var count = 0
        var highest = Votes.zero
        for node in nodes where node.state == .member {
            votes += node.votes
            count += 1
            highest = max(highest, node.expectedVotes)
        }
        return (votes, count, highest)
    }

    /// `calculate_quorum`: the quorum the table gives, and the members' total votes.
    /// `maxExpected` > 0 replaces the highest expected votes (last_man_standing,
    /// allow_downscale, setexpected); with allow_downscale it never goes below the barrier.
    func calculateQuorum(allowDecrease: Bool, maxExpected: Votes, allowDownscale: Bool)
        -> (quorum: Votes, totalVotes: Votes)
    {
        var maxExpected = maxExpected
        if allowDownscale && allowDecrease && maxExpected > .zero {
            maxExpected = max(expectedVotesBarrier, maxExpected)
        }
        let totals = memberTotals
        let highest = maxExpected > .zero ? maxExpected : totals.highestExpected
        let quorum = QuorumArithmetic.quorum(
            highestExpected: highest, totalVotes: totals.votes, memberCount: totals.count,
            previousQuorum: quorum, allowDecrease: allowDecrease, twoNode: options.twoNode)
        return (quorum, totals.votes)
    }

    /// `recalculate_quorum`: raise this node's expected votes to the votes present, compute
    /// quorum, and with `byCurrentNodes` (last_man_standing expiry, a LEAVING node) set every
    /// member's expected votes to the number of members.
    mutating func recalculateQuorum(allowDecrease: Bool, byCurrentNodes: Bool) {
        let totals = memberTotals
        let memberCount = byCurrentNodes ? Votes(count: totals.count) : .zero
        let me = localIndex
        if totals.votes > nodes[me].expectedVotes {
            // Expected votes are at least the votes seen.
            nodes[me].expectedVotes = totals.votes
        }
        let result = calculateQuorum(
            allowDecrease: allowDecrease, maxExpected: memberCount,
            allowDownscale: options.allowDownscale)
        quorum = result.quorum
        updateMemberExpectedVotes(memberCount)
        decideQuorate(totalVotes: result.totalVotes)
    }

    /// corosync `update_node_expected_votes`: 0 means "leave them".
    mutating func updateMemberExpectedVotes(_ expected: Votes) {
        guard expected > .zero else { return }
        for i in nodes.indices where nodes[i].state == .member {
            nodes[i].expectedVotes = expected
        }
    }

    /// `are_we_quorate`.
    mutating func decideQuorate(totalVotes: Votes) {
        let me = localIndex
        if options.waitForAll && isWaitingForAll {
            // Not quorate until every expected vote has been seen at once.
            guard totalVotes == nodes[me].expectedVotes else { return }
            setWaitingForAll(false)
        }
        var quorate = quorum <= totalVotes
        if quorate {
            let present = nodes.filter { $0.state == .member }.map(\.nodeID)
            lowestNodeID = present.min()
            highestNodeID = present.max()
        }
        if let rule = options.tieBreaker,
            totalVotes == nodes[me].expectedVotes.half,  // an exact half split
            // The part that left cannot have had quorum on its own.
            previousMembers.count - members.count < Int(quorum.rawValue),
            tieBreakerPartitionHolds(rule)
        {
            quorate = true
        }
        serviceIsQuorate = quorate
        if quorate {
            nodes[me].flags.insert(.quorate)
        } else {
            nodes[me].flags.remove(.quorate)
        }
        if options.waitForAll { setWaitingForAll(!quorate) }
    }

    mutating func setWaitingForAll(_ waiting: Bool) {
        isWaitingForAll = waiting
        if waiting {
            nodes[localIndex].flags.insert(.waitForAllStatus)
        } else {
            nodes[localIndex].flags.remove(.waitForAllStatus)
        }
    }

    /// Is the remembered lowest node id a member? (`check_low_node_id_partition`)
    var isLowestNodePresent: Bool { isMember(lowestNodeID) }

    private func isMember(_ node: NodeID?) -> Bool {
        guard let node, let i = index(of: node) else { return false }
        return nodes[i].state == .member
    }

    /// `check_auto_tie_breaker`. For a list, the first listed node present in this ring
    /// decides, unless an earlier-listed node was in the previous ring: it may be alive in
    /// the other half, which would then decide the same way.
    func tieBreakerPartitionHolds(_ rule: TieBreakerRule) -> Bool {
        switch rule {
        case .lowest: return isMember(lowestNodeID)
        case .highest: return isMember(highestNodeID)
        case .list(let preference):
            guard let first = preference.firstIndex(where: { members.contains($0) }) else {
                return false
            }
            return !preference[..<first].contains(where: { previousMembers.contains($0) })
        }
    }
}
