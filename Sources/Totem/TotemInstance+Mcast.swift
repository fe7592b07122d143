import Basics

/// Receiving broadcasts and agreed delivery (totem-notes 2.1, 2.3).
extension TotemInstance {
    mutating func handleMcast(_ message: Mcast) {
        guard message.ringID == ringID else {
            foreignMessage(from: message.originator)
            return
        }
        // The regular queue belongs to the installed ring; once COMMIT is entered the ring
        // id is the new ring's and its messages go to the recovery queue, in RECOVERY only.
        let inserted: Bool
        let duplicate: Bool
        if state == .recovery {
            inserted = recovery.insert(message)
            duplicate = !inserted && recovery.contains(message.seq)
            if inserted { noteNewestMessage(message) }
        } else if state == .operational || (state == .gather && !oldRingStateSaved) {
            inserted = regular.insert(message)
            duplicate = !inserted && regular.contains(message.seq)
            if inserted { noteNewestMessage(message) }
        } else {
            stats.mcastsDroppedForeign += 1
            return
        }
        if inserted {
            stats.mcastsReceived += 1
            myHighSeqReceived = max(myHighSeqReceived, message.seq)
        } else if duplicate || message.seq <= (state == .recovery ? recovery.released : regular.released) {
            stats.mcastsDroppedDuplicate += 1
        } else {
            stats.mcastsDroppedOutOfWindow += 1
        }
        updateAru()
        if state == .operational { deliverRegular(through: myHighSeqReceived, skippingGaps: false) }
    }

    /// A message of another ring: somebody out there should join us (totem-notes 2.1).
    mutating func foreignMessage(from originator: NodeID) {
        switch state {
        case .operational:
            if isAllowed(originator) { procSet.insert(originator) }
            enterGather()
        case .gather:
            if isAllowed(originator) && !procSet.contains(originator) {
                procSet.insert(originator)
                enterGather()
            }
        default:
            stats.mcastsDroppedForeign += 1
        }
    }

    func isAllowed(_ node: NodeID) -> Bool {
        node.rawValue != 0 && (allowedMembers?.contains(node) ?? true)
    }

    /// update_aru: advance over the contiguous prefix.
    mutating func updateAru() {
        if state == .recovery {
            while myAru < myHighSeqReceived && recovery.contains(myAru + 1) { myAru += 1 }
        } else {
            while myAru < myHighSeqReceived && regular.contains(myAru + 1) { myAru += 1 }
        }
    }

    /// messages_deliver_to_app: deliver the regular queue in seq order through `end`.
    /// Without `skippingGaps` it stops at the first missing message (agreed delivery); with
    /// it (the old ring, after the transitional configuration) it skips holes and delivers
    /// only messages of transitional members.
    mutating func deliverRegular(through end: UInt64, skippingGaps: Bool) {
        var seq = myHighDelivered + 1
        while seq <= end {
            guard let message = regular[seq] else {
                if skippingGaps || testingCanary == .skipGaps {
                    myHighDelivered = seq
                    seq += 1
                    continue
                }
                break
            }
            myHighDelivered = seq
            seq += 1
            if skippingGaps && !transitionalMembers.contains(message.originator) { continue }
            deliverMcast(message)
        }
    }

    mutating func deliverMcast(_ message: Mcast) {
        guard case .application(let frame) = message.body else {
            stats.recoveredMessagesSkipped += 1
            return
        }
        var deliveries: [Delivery] = []
        var problems: [Reassembler.Problem] = []
        reassembler.unpack(frame, from: message.originator,
                           deliver: { deliveries.append(Delivery(ringID: message.ringID, seq: message.seq,
                                                                 originator: message.originator, bytes: $0)) },
                           problem: { problems.append($0) })
        for delivery in deliveries {
            stats.payloadsDelivered += 1
            out.append(.deliver(delivery))
        }
        for problem in problems {
            switch problem {
            case .malformedFrame: stats.malformedFrames += 1
            case .orphanFragment, .interruptedPayload, .oversizedPayload: stats.orphanFragments += 1
            }
        }
    }

    /// message_handler_memb_merge_detect: another ring's representative is out there.
    mutating func handleMergeDetect(_ detect: MergeDetect, from sender: NodeID) {
        guard detect.ringID != ringID else { return }
        switch state {
        case .operational:
            if isAllowed(sender) { procSet.insert(sender) }
            enterGather()
        case .gather:
            if isAllowed(sender) && !procSet.contains(sender) {
                procSet.insert(sender)
                enterGather()
            }
        default:
            break
        }
    }

    /// message_handler_token_hold_cancel: somebody has something to send.
    mutating func handleTokenHoldCancel(_ cancel: TokenHoldCancel) {
        guard cancel.ringID == ringID else { return }
        seqUnchangedCount = 0
        // Only the holder arms the hold timer (step 14).
        if isHoldingToken {
            releaseHeldToken()
        }
    }
}
