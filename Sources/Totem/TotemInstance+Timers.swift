import Basics

extension TotemInstance {
    mutating func startTimer(_ kind: TotemTimerKind, after milliseconds: UInt32) {
        let k = Int(kind.rawValue)
        timerGenerations[k] &+= 1
        timerArmed[k] = true
        out.append(.startTimer(kind, TimerGeneration(timerGenerations[k]), after: Milliseconds(milliseconds)))
    }

    mutating func cancelTimer(_ kind: TotemTimerKind) {
        let k = Int(kind.rawValue)
        guard timerArmed[k] else { return }
        timerArmed[k] = false
        timerGenerations[k] &+= 1
        out.append(.cancelTimer(kind))
    }

    func isTimerArmed(_ kind: TotemTimerKind) -> Bool { timerArmed[Int(kind.rawValue)] }

    mutating func resetTokenTimers() {
        startTimer(.tokenLoss, after: options.token)
        startTimer(.tokenRetransmit, after: options.tokenRetransmit)
    }

    mutating func timerFired(_ kind: TotemTimerKind) {
        switch kind {
        case .tokenLoss: tokenLossTimeout()
        case .tokenRetransmit:
            retransmitSavedToken()
        case .tokenHold:
            // timer_function_token_hold_retransmit_timeout: the held token goes on, and the
            // idle count with it: the ring is still idle, so the holder keeps the token again
            // on its next visit (one rotation per `hold` ms), unless a message or a hold
            // cancel resets the count meanwhile.
            if state == .operational { releaseHeldToken(resettingIdleCount: false) }
        case .join:
            if state == .gather {
                sendJoinMessage()
                startTimer(.join, after: options.join)
                // corosync receives its own JOIN back after a network round; this is that
                // receipt. It lets a node that nobody answers form a ring alone.
                checkConsensus(mayCommit: true)
            }
        case .consensus:
            if state == .gather { consensusTimeout() }
        case .merge:
            // timer_function_merge_detect_timeout: an idle representative announces its ring.
            if state == .operational && ringID.representative == nodeID {
                stats.mergeDetectsSent += 1
                broadcast(.mergeDetect(MergeDetect(ringID: ringID)))
            }
        case .sendJoin:
            if state == .gather && joinPending {
                joinPending = false
                sendJoinMessage()
            }
        case .deliverOwn:
            // Out of OPERATIONAL the old ring's delivery (EVS) takes them.
            if state == .operational { deliverRegular(through: myHighSeqReceived, skippingGaps: false) }
        }
    }

    /// timer_function_token_retransmit_timeout: resend the saved token every
    /// `token_retransmit` ms until a newer token arrives.
    mutating func retransmitSavedToken() {
        guard state == .operational || state == .commit || state == .recovery,
              let packet = savedToken else { return }
        stats.tokenRetransmits += 1
        isSavedTokenSent = true
        out.append(.send(packet, to: .node(savedTokenTarget)))
        startTimer(.tokenRetransmit, after: options.tokenRetransmit)
    }

    /// Sends a token this node (its holder) kept back while the ring was idle, with what this
    /// node queued since on it (`broadcastOnHeldToken`), and delivers those messages here
    /// after the token left, as a visit does (step 14): in this step, or, in a submission's
    /// step (which never delivers), on the 0 ms `deliverOwn` timer. A release for a
    /// submission or a hold cancel starts the idle count again, as corosync's hold cancel
    /// does; the `hold` timer's does not.
    mutating func releaseHeldToken(deliveringNow: Bool = true, resettingIdleCount: Bool = true) {
        cancelTimer(.tokenHold)
        if resettingIdleCount {
            seqUnchangedCount = 0
            isTokenHeld = false
        }
        let broadcastNow = broadcastOnHeldToken()
        retransmitSavedToken()
        guard broadcastNow else { return }
        if deliveringNow {
            deliverRegular(through: myHighSeqReceived, skippingGaps: false)
        } else {
            startTimer(.deliverOwn, after: 0)
        }
    }

    /// timer_function_orf_token_timeout (totem-notes 2.4).
    mutating func tokenLossTimeout() {
        switch state {
        case .operational:
            stats.tokenLostOperational += 1
            enterGather()
        case .gather:
            // Armed in GATHER only after a consensus timeout found agreement and the commit
            // token did not come.
            stats.tokenLostGather += 1
            consensusTimeout()
        case .commit:
            stats.tokenLostCommit += 1
            enterGather()
        case .recovery:
            stats.tokenLostRecovery += 1
            restoreOldRingState()
            enterGather()
        case .idle, .left:
            break
        }
    }
}
