import Basics

/// The commit token's two rotations and RECOVERY (totem-notes 3.4, 3.5).
extension TotemInstance {
    /// memb_state_commit_token_create: by the lowest id of proc - failed.
    func createCommitToken() -> CommitToken {
        let newRing = procSet.subtracting(failedSet)
        return CommitToken(ringID: RingID(representative: nodeID, seq: highestRingSeqSeen &+ 4),
                           tokenSeq: 0, memberIndex: 0, members: newRing.sorted,
                           memberInfo: Array(repeating: nil, count: newRing.count))
    }

    /// A commit token is well formed: ascending unique members, one entry each, index in
    /// range, entries filled exactly below the index.
    func isWellFormed(_ token: CommitToken) -> Bool {
        let n = token.members.count
        guard n > 0, n <= NodeSet.countMax, token.memberInfo.count == n,
              Int(token.memberIndex) <= n else { return false }
        for i in 1..<max(1, n) where !(token.members[i - 1] < token.members[i]) { return false }
        for i in 0..<n where (token.memberInfo[i] != nil) != (i < Int(token.memberIndex)) { return false }
        return token.members.allSatisfy { $0.rawValue != 0 }
    }

    /// message_handler_memb_commit_token.
    mutating func handleCommitToken(_ token: CommitToken) {
        guard isWellFormed(token) else {
            stats.commitTokensIgnored += 1
            return
        }
        switch state {
        case .gather:
            let index = Int(token.memberIndex)
            guard token.members == procSet.subtracting(failedSet).sorted,
                  token.ringID.seq > ringID.seq,
                  index < token.members.count, token.members[index] == nodeID else {
                stats.commitTokensIgnored += 1
                return
            }
            enterCommit(token)
        case .commit:
            // Rotation 1 is complete when the token comes back full: install.
            guard token.ringID == ringID, Int(token.memberIndex) == token.members.count else {
                stats.commitTokensIgnored += 1
                return
            }
            enterRecovery(token)
            // Rotation 2 carries the same contents; a new token seq tells the copies apart, so
            // that active redundant rings (which drop a commit token they already delivered)
            // pass it back to the representative.
            var second = token
            second.tokenSeq &+= 1
            sendToken(.commitToken(second), to: newMembers.successor(of: nodeID))
            resetTokenTimers()
        case .recovery:
            // Rotation 2 is complete: the representative starts the new ring's token.
            guard token.ringID == ringID, isRepresentative, !hasOriginatedOrderingToken else {
                stats.commitTokensIgnored += 1
                return
            }
            hasOriginatedOrderingToken = true
            sendInitialOrderingToken()
            resetTokenTimers()
        case .operational, .idle, .left:
            stats.commitTokensIgnored += 1
        }
    }

    /// memb_state_commit_enter: record my old ring in the token, adopt the new ring id,
    /// persist it, and pass the token on.
    mutating func enterCommit(_ incoming: CommitToken) {
        saveOldRingState()
        var token = incoming
        let index = Int(token.memberIndex)
        let hasReceivedAll = oldRingAru == oldRingHighSeq
        token.memberInfo[index] = CommitMemberInfo(oldRingID: oldRingID, aru: oldRingAru,
                                                   highDelivered: myHighDelivered,
                                                   hasReceivedAll: hasReceivedAll)
        // Nobody of an old ring has received everything if another member of it holds more.
        var highAru = oldRingAru
        for i in 0...index {
            if let info = token.memberInfo[i], info.oldRingID == oldRingID { highAru = max(highAru, info.aru) }
        }
        for i in 0...index {
            if let info = token.memberInfo[i], info.oldRingID == oldRingID, info.aru < highAru {
                token.memberInfo[i]?.hasReceivedAll = false
            }
        }
        token.memberIndex += 1
        token.tokenSeq &+= 1
        newMembers = NodeSet(token.members)
        cancelTimer(.join)
        cancelTimer(.consensus)
        cancelTimer(.sendJoin)
        joinPending = false
        ringID = token.ringID
        highestRingSeqSeen = max(highestRingSeqSeen, ringID.seq)
        out.append(.persistRingSeq(ringID.seq))
        state = .commit
        stats.commitEntered += 1
        myTransmitCount = 0
        myPreviousBacklog = 0
        currentBacklogForUpdate = 0
        sendToken(.commitToken(token), to: newMembers.successor(of: nodeID))
        resetTokenTimers()
    }

    /// old_ring_state_save: once per configuration change.
    mutating func saveOldRingState() {
        guard !oldRingStateSaved else { return }
        oldRingStateSaved = true
        oldRingID = ringID
        oldRingAru = myAru
        oldRingHighSeq = myHighSeqReceived
    }

    /// Back to the old ring's counters after a failed installation.
    mutating func restoreOldRingState() {
        guard oldRingStateSaved else { return }
        myAru = oldRingAru
        myHighSeqReceived = oldRingHighSeq
    }

    /// memb_state_recovery_enter.
    mutating func enterRecovery(_ token: CommitToken) {
        state = .recovery
        stats.recoveryEntered += 1
        // The transitional set: new members that were in my old ring, coming from it.
        var transitional: [NodeID] = []
        var everyoneHasAll = true
        var lowRingAru = oldRingHighSeq
        for (i, member) in token.members.enumerated() {
            guard let info = token.memberInfo[i], members.contains(member),
                  info.oldRingID == oldRingID else { continue }
            transitional.append(member)
            if !info.hasReceivedAll { everyoneHasAll = false }
            lowRingAru = min(lowRingAru, info.aru)
        }
        transitionalMembers = NodeSet(transitional)
        retransmitQueue.removeAll()
        retransmitQueueHead = 0
        if !everyoneHasAll && lowRingAru < oldRingHighSeq {
            var seq = lowRingAru + 1
            while seq <= oldRingHighSeq {
                if let message = regular[seq] { retransmitQueue.append(message) }
                seq += 1
            }
            stats.oldRingMessagesQueued += UInt64(retransmitQueue.count)
        }
        recovery.reset()
        // The new ring's messages (its recovery queue becomes its regular queue) name the
        // holder of its idle token; until the first, the representative (`holdsIdleToken`).
        newestMessageSeq = 0
        newestMessageOriginator = nil
        myAru = 0
        myHighSeqReceived = 0
        myLastAru = 0
        myTokenSeq = nil
        previousTokenMessageSeq = nil
        seqUnchangedCount = 0
        aruUnchangedCount = 0
        isTokenHeld = false
        didSetRetransmitFlag = false
        retransmitFlagCount = 0
        installSeq = 0
        rotationCount = 0
        hasOriginatedOrderingToken = false
    }

    /// orf_token_send_initial: seq 0, nothing received yet.
    mutating func sendInitialOrderingToken() {
        let retransmitting = retransmitQueueHead < retransmitQueue.count
        didSetRetransmitFlag = retransmitting
        let token = OrderingToken(ringID: ringID, tokenSeq: 0, seq: 0, aru: 0, aruAddress: nil,
                                  fcc: 0, backlog: 0, isRetransmitting: retransmitting,
                                  retransmitRequests: [])
        sendToken(.token(token), to: newMembers.successor(of: nodeID))
    }

    /// The end of message_handler_orf_token in RECOVERY: leave for OPERATIONAL once no
    /// member has old messages left and every member holds everything, twice.
    mutating func recoveryTokenBookkeeping(_ token: inout OrderingToken) {
        if retransmitQueueHead < retransmitQueue.count {
            token.isRetransmitting = true
            didSetRetransmitFlag = true
        } else if token.isRetransmitting && didSetRetransmitFlag {
            token.isRetransmitting = false
            didSetRetransmitFlag = false
        }
        retransmitFlagCount = token.isRetransmitting ? 0 : retransmitFlagCount &+ 1
        if retransmitFlagCount == 2 { installSeq = token.seq }
        if retransmitFlagCount >= 3 && installSeq <= token.aru {
            rotationCount += 1
        } else {
            rotationCount = 0
        }
        if rotationCount == 2 {
            rotationCount = 0
            retransmitFlagCount = 0
            enterOperational()
        }
    }
}
