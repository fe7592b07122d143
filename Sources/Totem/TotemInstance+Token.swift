import Basics

/// The ordering token (`message_handler_orf_token`, totem-notes 2.2), steps in corosync's
/// order.
extension TotemInstance {
    var isRepresentative: Bool { ringID.representative == nodeID }

    /// The sort queue of the current phase: RECOVERY fills the recovery queue; otherwise the
    /// regular queue of the installed ring.
    var activeQueue: SortQueue {
        get { state == .recovery ? recovery : regular }
    }

    mutating func handleToken(_ incoming: OrderingToken) {
        // 1, 5: GATHER discards tokens; COMMIT drops regular tokens; foreign and stale ones die.
        guard state == .operational || state == .recovery else {
            stats.tokensDroppedDiscarding += 1
            return
        }
        guard incoming.ringID == ringID else {
            stats.tokensDroppedForeign += 1
            return
        }
        if let last = myTokenSeq, incoming.tokenSeq <= last {
            stats.tokensDroppedStale += 1
            return
        }
        guard incoming.retransmitRequests.count <= OrderingToken.retransmitRequestsMax else {
            stats.tokensDroppedForeign += 1
            return
        }
        stats.tokensReceived += 1
        var token = incoming

        // 2: idleness.
        if previousTokenMessageSeq == token.seq {
            seqUnchangedCount &+= 1
            if !isTimerArmed(.merge) { startTimer(.merge, after: options.merge) }
        } else {
            seqUnchangedCount = 0
            cancelTimer(.merge)
            cancelTimer(.tokenHold)
        }
        previousTokenMessageSeq = token.seq

        // 4: hold the token when the ring is idle (totem-notes 2.5), at the node that broadcast
        // the newest message (corosync: always the representative; `+HeldToken`). From
        // `seqno_unchanged_const` on every member takes the token for held (a submission
        // then multicasts a hold cancel), the holder included: should a member that missed
        // the newest message hold in its place, the holder's own next message must ask for
        // the token too, not wait for the `hold` timer.
        let unchangedConst = options.seqnoUnchangedConst
        isTokenHeld = state == .operational && seqUnchangedCount >= unchangedConst
        var holdsThisVisit = isTokenHeld && seqUnchangedCount > unchangedConst
            && holdsIdleToken(seq: token.seq)

        // 5: free what every member holds; remember the aru of the previous visit.
        if state == .operational { freeMessages(tokenAru: token.aru) }
        let lastAru = myLastAru
        myLastAru = token.aru

        // 6-11: flow control, retransmissions, new messages.
        var allowed = flowControlAllowance(token)
        let retransmitted = serveRetransmitRequests(&token, allowed: &allowed)
        requestOwnGaps(&token)
        if options.cancelTokenHoldOnRetransmit && isTokenHeld && !token.retransmitRequests.isEmpty {
            isTokenHeld = false
            holdsThisVisit = false
        }
        limitByQueueWindow(token, allowed: &allowed)
        let sent = broadcastNewMessages(&token, allowed: allowed)
        updateFlowControl(&token, sent: retransmitted + sent)

        // 12: aru.
        updateTokenAru(&token)

        // 13: fail_recv_const: a node that keeps the aru pinned expels itself.
        if token.aru == lastAru && token.aruAddress != nil {
            aruUnchangedCount &+= 1
        } else {
            aruUnchangedCount = 0
        }
        if aruUnchangedCount > options.failRecvConst && token.aruAddress == nodeID {
            stats.failedToReceive += 1
            failedToReceive = true
            aruUnchangedCount = 0
            failedSet.insert(nodeID)
            enterGather()
            return
        }

        // 14: forward.
        myTokenSeq = token.tokenSeq
        token.tokenSeq &+= 1
        if state == .recovery {
            recoveryTokenBookkeeping(&token)
        }
        // A visit that broadcast new messages never holds: the others need this token to
        // go on, and the holder gets no hold cancel of its own back to reset its count
        // (corosync's representative does, from the network). Serving retransmissions
        // does not stop a hold, as in corosync (`cancel_token_hold_on_retransmit` does).
        let forward = !holdsThisVisit || sent > 0
        if !forward { stats.tokensHeld += 1 }
        stats.tokensForwarded += forward ? 1 : 0
        sendToken(.token(token), to: newMembers.successor(of: nodeID), transmit: forward)
        if state == .operational { deliverRegular(through: myHighSeqReceived, skippingGaps: false) }
        resetTokenTimers()
        if forward {
            // A hold timer still armed from an earlier hold (its copy already resent by the
            // token-retransmit timer came back) is over: this node does not hold now.
            cancelTimer(.tokenHold)
        } else {
            startTimer(.tokenHold, after: options.hold)
        }
    }

    /// Step 12: the token's aru comes down to mine if I am behind it, or if I set it (or
    /// nobody did). Applying it again after more messages of the same visit gives what one
    /// application after all of them gives (`broadcastOnHeldToken` relies on that).
    func updateTokenAru(_ token: inout OrderingToken) {
        if myAru < token.aru || token.aruAddress == nodeID || token.aruAddress == nil {
            token.aru = myAru
            token.aruAddress = token.aru == token.seq ? nil : nodeID
        }
    }

    /// messages_free: up to min(token aru, aru on my previous visit, my high delivered).
    mutating func freeMessages(tokenAru: UInt64) {
        let releaseTo = min(tokenAru, myLastAru, myHighDelivered)
        if releaseTo > regular.released { regular.release(through: releaseTo) }
    }

    /// fcc_calculate (totem-notes 4).
    mutating func flowControlAllowance(_ token: OrderingToken) -> UInt32 {
        let window = options.windowSize
        var allowed = min(options.maxMessages, window > token.fcc ? window - token.fcc : 0)
        let currentBacklog = UInt32(clamping: state == .recovery
            ? retransmitQueue.count - retransmitQueueHead : packer.count)
        let total = Int64(token.backlog) + Int64(currentBacklog) - Int64(myPreviousBacklog)
        if total > 0 {
            let share = Int64(window) * Int64(myPreviousBacklog) / total
            if share > 0 && Int64(allowed) > share { allowed = UInt32(share) }
        }
        currentBacklogForUpdate = currentBacklog
        return allowed
    }

    /// fcc_token_update: replace my previous contribution to fcc and backlog.
    mutating func updateFlowControl(_ token: inout OrderingToken, sent: UInt32) {
        let fcc = Int64(token.fcc) + Int64(sent) - Int64(myTransmitCount)
        token.fcc = UInt32(clamping: max(0, fcc))
        let backlog = Int64(token.backlog) + Int64(currentBacklogForUpdate) - Int64(myPreviousBacklog)
        token.backlog = UInt32(clamping: max(0, backlog))
        myTransmitCount = sent
        myPreviousBacklog = currentBacklogForUpdate
    }

    /// orf_token_rtr (a): rebroadcast requested messages I hold, within the allowance.
    mutating func serveRetransmitRequests(_ token: inout OrderingToken, allowed: inout UInt32) -> UInt32 {
        var served: UInt32 = 0
        var index = 0
        while index < token.retransmitRequests.count && allowed > 0 {
            let request = token.retransmitRequests[index]
            guard request.ringID == ringID else {
                token.retransmitRequests.remove(at: index)
                continue
            }
            if let message = activeQueue[request.seq] {
                broadcast(.mcast(message))
                stats.mcastsRetransmitted += 1
                token.retransmitRequests.remove(at: index)
                allowed -= 1
                served += 1
            } else {
                index += 1
            }
        }
        return served
    }

    /// orf_token_rtr (b): ask for what I have missed on `miss_count_const` visits.
    mutating func requestOwnGaps(_ token: inout OrderingToken) {
        guard token.seq > myAru else { return }
        let inRecovery = state == .recovery
        var seq = myAru + 1
        while seq <= token.seq && token.retransmitRequests.count < OrderingToken.retransmitRequestsMax {
            let queueHas: Bool
            let inWindow: Bool
            if inRecovery {
                inWindow = recovery.isInWindow(seq)
                queueHas = recovery.contains(seq)
            } else {
                inWindow = regular.isInWindow(seq)
                queueHas = regular.contains(seq)
            }
            guard inWindow else { break }
            if !queueHas {
                let misses = inRecovery ? recovery.bumpMissCount(seq) : regular.bumpMissCount(seq)
                if misses >= options.missCountConst
                    && !token.retransmitRequests.contains(where: { $0.seq == seq && $0.ringID == ringID }) {
                    token.retransmitRequests.append(RetransmitRequest(ringID: ringID, seq: seq))
                    stats.retransmitRequestsAdded += 1
                }
            }
            seq += 1
        }
    }

    /// fcc_rtr_limit: never stamp a seq the receivers' sort queues could not hold.
    func limitByQueueWindow(_ token: OrderingToken, allowed: inout UInt32) {
        let released = state == .recovery ? recovery.released : regular.released
        let check = Int64(SortQueue.capacityDefault) - Int64(allowed) - Int64(options.windowSize)
        if check < 0 || released + UInt64(check) < token.seq { allowed = 0 }
    }

    /// orf_token_mcast: broadcast up to `allowed` queued messages, each stamped ++token.seq.
    mutating func broadcastNewMessages(_ token: inout OrderingToken, allowed: UInt32) -> UInt32 {
        var sent: UInt32 = 0
        while sent < allowed {
            let body: Mcast.Body
            if state == .recovery {
                guard retransmitQueueHead < retransmitQueue.count else { break }
                body = .recovered(retransmitQueue[retransmitQueueHead])
                retransmitQueueHead += 1
                if retransmitQueueHead == retransmitQueue.count {
                    retransmitQueue.removeAll()
                    retransmitQueueHead = 0
                }
            } else {
                guard let frame = packer.popFirst() else { break }
                body = .application(frame)
            }
            token.seq += 1
            let message = Mcast(ringID: ringID, originator: nodeID, seq: token.seq, body: body)
            if state == .recovery { recovery.insert(message) } else { regular.insert(message) }
            noteNewestMessage(message)
            broadcast(.mcast(message))
            stats.mcastsSent += 1
            sent += 1
            if testingCanary == .deliverOwnMessagesEarly, case .application = body {
                deliverMcast(message)
            }
        }
        if sent > 0 {
            myHighSeqReceived = max(myHighSeqReceived, token.seq)
            updateAru()
        }
        return sent
    }
}
