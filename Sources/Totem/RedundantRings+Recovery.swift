import Basics

// Marking a ring faulty and bringing it back: the autorecovery ring test (corosync 2.x
// RING_TEST_ACTIVE / RING_TEST_ACTIVATE) and the manual re-enable.

extension RedundantRings {
    mutating func markFaulty(ringAt index: Int, reason: RRPFaultReason, into actions: inout [RRPAction]) {
        guard !rings[index].isFaulty else { return }
        rings[index].isFaulty = true
        rings[index].faultReason = reason
        actions.append(.ringMarkedFaulty(ringNumber: rings[index].ringNumber, reason: reason))
        startAutorecoveryTimer(ringAt: index, into: &actions)
    }

    mutating func startAutorecoveryTimer(ringAt index: Int, into actions: inout [RRPAction]) {
        let generation = makeGeneration()
        autorecoveryGenerations[index] = generation
        actions.append(.startTimer(.autorecoveryCheck(ringNumber: rings[index].ringNumber),
                                   generation: generation, after: autorecoveryCheckTimeout))
    }

    /// The next member after this node in ring order (ascending node id, wrapping); nil
    /// before the first membership is known.
    var successor: NodeID? {
        guard let first = members.first else { return nil }
        return members.first { $0 > localNode } ?? first
    }

    /// The autorecovery timer fired: while the ring is still faulty, send a ring test along it
    /// and check again later.
    mutating func autorecoveryCheck(ringAt index: Int, into actions: inout [RRPAction]) {
        guard rings[index].isFaulty else { return }
        let ringNumber = rings[index].ringNumber
        if let successor {
            let test = RingTest(kind: .active, ringNumber: ringNumber, activator: localNode)
            actions.append(.transmit(TotemPacket(sender: localNode, message: .ringTest(test)),
                                     to: .node(successor), ringNumber: ringNumber))
        }
        startAutorecoveryTimer(ringAt: index, into: &actions)
    }

    /// A ring test travels along the ring it tests, each node passing it to its successor.
    /// The test coming back to its activator proves the ring carries packets all the way
    /// round; the activator then sends the activate message round, which re-enables the ring
    /// on every node it reaches (the activator last).
    mutating func ringTestReceived(_ test: RingTest, ringAt index: Int, into actions: inout [RRPAction]) {
        let ringNumber = rings[index].ringNumber
        let isMine = test.activator == localNode
        guard mode != .none, test.ringNumber == ringNumber,
              isMine || members.contains(test.activator) else {
            dropCounters.strayRingTest &+= 1
            return
        }
        var next: RingTest?
        switch test.kind {
        case .active:
            next = isMine ? RingTest(kind: .activate, ringNumber: ringNumber, activator: localNode) : test
        case .activate:
            reenable(ringAt: index, into: &actions)
            next = isMine ? nil : test
        }
        if let next, let successor {
            actions.append(.transmit(TotemPacket(sender: localNode, message: .ringTest(next)),
                                     to: .node(successor), ringNumber: ringNumber))
        }
    }

    /// Clears the ring's fault and problem counter, and rebases every ring's receive counts:
    /// they are compared with each other, so a ring coming back with old counts would lag at
    /// once (corosync resets them all too).
    mutating func reenable(ringAt index: Int, into actions: inout [RRPAction]) {
        let wasFaulty = rings[index].isFaulty
        rings[index].isFaulty = false
        rings[index].faultReason = nil
        rings[index].problemCount = 0
        for other in rings.indices {
            rings[other].tokensReceived = 0
            rings[other].mcastsReceived = 0
        }
        if autorecoveryGenerations[index] != nil {
            autorecoveryGenerations[index] = nil
            actions.append(.cancelTimer(.autorecoveryCheck(ringNumber: rings[index].ringNumber)))
        }
        if wasFaulty {
            actions.append(.ringRecovered(ringNumber: rings[index].ringNumber))
        }
    }
}
