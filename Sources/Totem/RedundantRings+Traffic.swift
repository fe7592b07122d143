import Basics

// Sending and receiving: which ring carries a packet, the active mode's token hold, and the
// passive mode's receive monitor.

extension RedundantRings {
    /// corosync's token_send carries the ORF token and the commit token (unicast to the
    /// successor); everything else goes through mcast_send.
    static func travelsAsToken(_ message: TotemMessage) -> Bool {
        switch message {
        case .token, .commitToken: true
        case .mcast, .join, .mergeDetect, .tokenHoldCancel, .ringTest: false
        }
    }

    mutating func send(_ packet: TotemPacket, to destination: RRPDestination, into actions: inout [RRPAction]) {
        switch mode {
        case .none:
            actions.append(.transmit(packet, to: destination, ringNumber: rings[0].ringNumber))
        case .active:
            var sent = false
            for ring in rings where !ring.isFaulty {
                actions.append(.transmit(packet, to: destination, ringNumber: ring.ringNumber))
                sent = true
            }
            if !sent { actions.append(.transmit(packet, to: destination, ringNumber: rings[0].ringNumber)) }
        case .passive:
            let index: Int
            if Self.travelsAsToken(packet.message) {
                index = nextHealthyRing(after: lastTokenRing)
                lastTokenRing = index
            } else {
                index = nextHealthyRing(after: lastMcastRing)
                lastMcastRing = index
            }
            actions.append(.transmit(packet, to: destination, ringNumber: rings[index].ringNumber))
        }
    }

    /// The first non-faulty ring after `previous` in round-robin order; ring index 0 when all
    /// are faulty.
    func nextHealthyRing(after previous: Int) -> Int {
        for step in 1...rings.count {
            let index = (previous + step) % rings.count
            if !rings[index].isFaulty { return index }
        }
        return 0
    }

    mutating func receive(_ packet: TotemPacket, ringNumber: UInt8, at: Instant, into actions: inout [RRPAction]) {
        guard let index = ringIndex(ringNumber) else {
            dropCounters.unknownRing &+= 1
            return
        }
        rings[index].lastReceivedAt = at
        if case .ringTest(let test) = packet.message {
            ringTestReceived(test, ringAt: index, into: &actions)
            return
        }
        let isToken: Bool
        if case .token = packet.message {
            rings[index].tokensReceived &+= 1
            isToken = true
        } else {
            rings[index].mcastsReceived &+= 1
            isToken = false
        }
        switch mode {
        case .none:
            actions.append(.deliverToSRP(packet))
        case .active:
            if case .token(let token) = packet.message {
                activeTokenReceived(packet, key: TokenKey(ringID: token.ringID, tokenSeq: token.tokenSeq),
                                    ringAt: index, into: &actions)
            } else if case .commitToken = packet.message {
                guard packet != lastDeliveredCommitToken else {
                    dropCounters.duplicateToken &+= 1
                    return
                }
                lastDeliveredCommitToken = packet
                actions.append(.deliverToSRP(packet))
            } else {
                actions.append(.deliverToSRP(packet))
            }
        case .passive:
            actions.append(.deliverToSRP(packet))
            passiveMonitor(countingTokens: isToken, into: &actions)
        }
    }

    // MARK: Active mode

    mutating func activeTokenReceived(_ packet: TotemPacket, key: TokenKey, ringAt index: Int,
                                      into actions: inout [RRPAction]) {
        if var held = heldToken, held.key == key {
            held.arrived[index] = true
            heldToken = held
            deliverHeldTokenIfComplete(into: &actions)
            return
        }
        // Older than (or the same as) the newest token seen: a late redundant copy, or a
        // retransmission SRP has already had.
        if let newest = heldToken?.key ?? lastDeliveredToken, !(newest < key) {
            dropCounters.duplicateToken &+= 1
            return
        }
        // A new token. One still held is superseded without delivery, as corosync does: its
        // successor carries everything it carried.
        var arrived = Array(repeating: false, count: rings.count)
        arrived[index] = true
        heldToken = HeldToken(key: key, packet: packet, arrived: arrived)
        if deliverHeldTokenIfComplete(into: &actions) { return }
        let generation = makeGeneration()
        tokenExpiredGeneration = generation
        actions.append(.startTimer(.tokenExpired, generation: generation, after: tokenExpiredTimeout))
    }

    /// Delivers the held token once every non-faulty ring has carried it.
    @discardableResult
    mutating func deliverHeldTokenIfComplete(into actions: inout [RRPAction]) -> Bool {
        guard let held = heldToken else { return false }
        for index in rings.indices where !rings[index].isFaulty && !held.arrived[index] {
            return false
        }
        if tokenExpiredGeneration != nil {
            tokenExpiredGeneration = nil
            actions.append(.cancelTimer(.tokenExpired))
        }
        deliverHeldToken(held, into: &actions)
        return true
    }

    mutating func deliverHeldToken(_ held: HeldToken, into actions: inout [RRPAction]) {
        heldToken = nil
        lastDeliveredToken = held.key
        actions.append(.deliverToSRP(held.packet))
    }

    /// `rrp_token_expired_timeout` passed: every non-faulty ring that did not carry the held
    /// token gets a problem; the token is delivered anyway, after the fault reports.
    mutating func tokenExpired(into actions: inout [RRPAction]) {
        guard let held = heldToken else { return }
        for index in rings.indices where !rings[index].isFaulty && !held.arrived[index] {
            rings[index].problemCount = min(rings[index].problemCount &+ 1, problemCountThreshold)
            if rings[index].problemCount >= problemCountThreshold {
                markFaulty(ringAt: index, reason: .problemCountThreshold, into: &actions)
            }
        }
        startDecrementerIfNeeded(into: &actions)
        deliverHeldToken(held, into: &actions)
    }

    mutating func startDecrementerIfNeeded(into actions: inout [RRPAction]) {
        guard decrementerGeneration == nil,
              rings.contains(where: { !$0.isFaulty && $0.problemCount > 0 }) else { return }
        let generation = makeGeneration()
        decrementerGeneration = generation
        actions.append(.startTimer(.problemCountDecrement, generation: generation, after: problemCountTimeout))
    }

    mutating func decrementProblemCounts(into actions: inout [RRPAction]) {
        for index in rings.indices where !rings[index].isFaulty && rings[index].problemCount > 0 {
            rings[index].problemCount -= 1
        }
        startDecrementerIfNeeded(into: &actions)
    }

    // MARK: Passive mode

    /// Counts are rebased (the smallest subtracted from all) past this, so they stay bounded.
    static let passiveCountRebase: UInt64 = 1 << 62

    mutating func passiveMonitor(countingTokens: Bool, into actions: inout [RRPAction]) {
        let counts = countingTokens ? \RingStatus.tokensReceived : \RingStatus.mcastsReceived
        if rings.contains(where: { $0[keyPath: counts] >= Self.passiveCountRebase }) {
            let least = rings.map { $0[keyPath: counts] }.min() ?? 0
            for index in rings.indices { rings[index][keyPath: counts] -= least }
        }
        let threshold = UInt64(countingTokens ? problemCountThreshold : mcastProblemCountThreshold)
        var best: UInt64 = 0
        for ring in rings where !ring.isFaulty { best = max(best, ring[keyPath: counts]) }
        for index in rings.indices where !rings[index].isFaulty {
            let count = rings[index][keyPath: counts]
            if best > count && best - count > threshold {
                markFaulty(ringAt: index, reason: countingTokens ? .tokenCountLag : .mcastCountLag, into: &actions)
            }
        }
    }
}
