import Basics

/// GATHER, JOIN and consensus (totem-notes 3.2, 3.3).
extension TotemInstance {
    /// memb_state_gather_enter.
    mutating func enterGather() {
        state = .gather
        stats.gatherEntered += 1
        procSet.insert(nodeID)
        isTokenHeld = false
        cancelTimer(.tokenRetransmit)
        cancelTimer(.tokenLoss)
        cancelTimer(.merge)
        cancelTimer(.tokenHold)
        consensusSet = NodeSet([nodeID])
        startTimer(.join, after: options.join)
        startTimer(.consensus, after: options.consensus)
        if options.sendJoin > 0 {
            // corosync sleeps a random [0, send_join) ms before the JOIN; a timer here.
            joinPending = true
            let delay = UInt32(random.next() % UInt64(options.sendJoin))
            startTimer(.sendJoin, after: delay)
        } else {
            cancelTimer(.sendJoin)
            joinPending = false
            sendJoinMessage()
        }
    }

    mutating func sendJoinMessage() {
        stats.joinsSent += 1
        broadcast(.join(Join(procSet: procSet.sorted, failedSet: failedSet.sorted, ringSeq: ringID.seq)))
    }

    /// message_handler_memb_join.
    mutating func handleJoin(_ join: Join, from sender: NodeID) {
        stats.joinsReceived += 1
        guard join.procSet.count <= NodeSet.countMax, join.failedSet.count <= NodeSet.countMax,
              sender.rawValue != 0 else {
            stats.joinsIgnored += 1
            return
        }
        highestRingSeqSeen = max(highestRingSeqSeen, join.ringSeq)
        switch state {
        case .operational:
            if ignoresJoinWhileOperational(join, from: sender) {
                stats.joinsIgnored += 1
                return
            }
            processJoin(join, from: sender, mayCommit: true)
        case .gather:
            processJoin(join, from: sender, mayCommit: true)
        case .commit, .recovery:
            // Only a member of the ring being installed, about this ring or a newer one,
            // interrupts the installation.
            guard newMembers.contains(sender), join.ringSeq >= ringID.seq else {
                stats.joinsIgnored += 1
                return
            }
            if state == .recovery { restoreOldRingState() }
            processJoin(join, from: sender, mayCommit: false)
            if state != .gather { enterGather() }
        case .idle, .left:
            break
        }
    }

    /// ignore_join_under_operational.
    func ignoresJoinWhileOperational(_ join: Join, from sender: NodeID) -> Bool {
        if join.failedSet.contains(nodeID) { return true }
        return members.contains(sender) && join.ringSeq < ringID.seq
    }

    /// memb_join_process.
    mutating func processJoin(_ join: Join, from sender: NodeID, mayCommit: Bool) {
        let theirProc = NodeSet(join.procSet.filter(isAllowed))
        let theirFailed = NodeSet(join.failedSet.filter(isAllowed))
        if theirProc == procSet && theirFailed == failedSet {
            if !join.isLeave { consensusSet.insert(sender) }
            if mayCommit {
                checkConsensus(mayCommit: true)
                if state != .operational { return }
            }
        } else if theirProc.isSubset(of: procSet) && theirFailed.isSubset(of: failedSet) {
            // I know more than the sender.
        } else if failedSet.contains(sender) {
            // Given up on the sender.
        } else {
            let before = (procSet, failedSet)
            procSet.formUnion(theirProc)
            if theirFailed.contains(nodeID) {
                // Failure is made symmetric.
                failedSet.insert(sender)
            } else if members.contains(sender) {
                failedSet.formUnion(theirFailed)
            }
            // Deviation: corosync re-enters GATHER even when nothing was merged (the
            // sender's failed set is ignored when it is not of my ring). Two such nodes
            // then answer each other's JOINs forever, and each GATHER entry restarts the
            // consensus timer, so it never expires: a JOIN storm the simulator found
            // (seed 8). Only a change of my sets re-enters GATHER here.
            if before != (procSet, failedSet) || state == .operational {
                enterGather()
                return
            }
        }
        if state == .operational { enterGather() }
    }

    /// Steps 2 of memb_join_process once the sets agree: form the ring if consensus is
    /// reached and this node is the lowest, or a singleton after FAILED TO RECEIVE.
    mutating func checkConsensus(mayCommit: Bool) {
        guard state == .gather, mayCommit, consensusAgreed() else { return }
        if failedToReceive {
            failedToReceive = false
            procSet = NodeSet([nodeID])
            failedSet = NodeSet()
            enterCommit(createCommitToken())
            return
        }
        if procSet.subtracting(failedSet).first == nodeID {
            enterCommit(createCommitToken())
        }
    }

    /// memb_consensus_agreed: every processor in proc - failed sent my sets.
    func consensusAgreed() -> Bool {
        let candidates = procSet.subtracting(failedSet)
        if candidates.isEmpty { return failedToReceive }
        return candidates.sorted.allSatisfy { consensusSet.contains($0) }
    }

    /// memb_state_consensus_timeout_expired.
    mutating func consensusTimeout() {
        stats.consensusTimeouts += 1
        if consensusAgreed() {
            if failedToReceive {
                checkConsensus(mayCommit: true)
                return
            }
            // Agreement without a commit token: try again.
            consensusSet = NodeSet([nodeID])
            enterGather()
        } else {
            let silent = procSet.subtracting(failedSet).sorted.filter { !consensusSet.contains($0) }
            failedSet.formUnion(NodeSet(silent))
            enterGather()
        }
    }
}
