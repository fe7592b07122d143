/// Where an idle ring's token waits, and messages queued on the held token (TotemKV's two
/// changes to corosync's token hold, totem-notes 2.5; docs/totem.md).
///
/// **The holder.** corosync's representative keeps the token once the ring is idle, so a
/// message queued on any other node waits for a hold cancel to reach the representative and
/// the released token to come round: two more hops than a message queued on the
/// representative. Here the token waits at the node that broadcast the ring's newest
/// message (the representative while there is none), so a node that keeps sending, the
/// usual case at a low rate, finds the token with it. Every member computes the holder the
/// same way from the messages it stored in the ring (the recovery phase's included): by the
/// time the ring has been idle for `seqno_unchanged_const` rotations every member has the
/// newest message. A member that has not recorded it names the representative: only the
/// representative can then wrongly take itself for the holder, and hold the token in the
/// sender's place. That is safe, because holding is only ever done by the node the one
/// token is at, and it costs a hold cancel: every member, the would-be holder included,
/// takes the token for held from `seqno_unchanged_const` unchanged visits on and asks for
/// it with a hold cancel when it has something to send (`handleToken`, step 4).
///
/// **Messages queued on the held token.** corosync releases the saved token unchanged when
/// something is queued (its own `mcast_msg`, a hold cancel, the hold timer), so a message
/// queued on the holder itself leaves only on its next visit, a whole rotation later. Here
/// the held token first takes those messages, as the visit would have had the token
/// arrived after they were queued.
///
/// Why this stays within Totem's rules:
/// - Only the token holder stamps sequence numbers: the saved token has not been
///   transmitted since its visit (`isSavedTokenSent`), every other member's last token has
///   a lower token seq, so nobody else can be broadcasting new messages, and no other
///   version of this token exists on the wire. Which member holds changes none of this.
/// - The result is the token one visit would have produced had the token reached the
///   holder after the submission (the model allows any network delay): step 10
///   stamps `token.seq + 1 ...` and stores the messages in the sort queue before sending;
///   step 11 replaces this node's flow-control contribution with the visit's total; step
///   12 (`updateTokenAru`) applied again gives what one application after all of the
///   visit's messages gives. Steps 5-9 are not redone: freeing and serving retransmissions
///   saw the same token, and counting this node's gaps twice would bump their miss counts
///   twice. Step 13's decision cannot change: the aru moves only when its address was nil
///   (the node held everything, so its new messages extend its aru and the address stays
///   nil) or this node (a gap below the new messages keeps the aru where it was).
/// - Delivery follows the token's send, as in step 14 (`releaseHeldToken`).
extension TotemInstance {
    /// Whether this node keeps the token when the ring goes idle: it broadcast the newest
    /// message of the ring (`seq` is the token's), or there is none it knows of and it is
    /// the representative.
    func holdsIdleToken(seq: UInt64) -> Bool {
        if seq > 0, newestMessageSeq == seq, let originator = newestMessageOriginator {
            return originator == nodeID
        }
        return isRepresentative
    }

    /// This node keeps the token now (its hold timer runs).
    var isHoldingToken: Bool { state == .operational && isTimerArmed(.tokenHold) }

    /// Remembers the newest message of this node's ring stored here (in recovery too).
    mutating func noteNewestMessage(_ message: Mcast) {
        guard message.seq > newestMessageSeq else { return }
        newestMessageSeq = message.seq
        newestMessageOriginator = message.originator
    }

    /// Steps 10-12 of the holder's last visit, again, on the token it holds, for
    /// what it has queued since. Returns true when messages were broadcast (they are then
    /// delivered after the token is sent). The caller sends the token.
    mutating func broadcastOnHeldToken() -> Bool {
        guard state == .operational, !isSavedTokenSent, packer.count > 0,
              let saved = savedToken, case .token(var token) = saved.message,
              myHighSeqReceived <= token.seq else { return false }
        // max_messages bounds the whole visit: what the visit already sent counts.
        var allowed = flowControlAllowance(token)
        let visitRoom = options.maxMessages > myTransmitCount ? options.maxMessages - myTransmitCount : 0
        allowed = min(allowed, visitRoom)
        limitByQueueWindow(token, allowed: &allowed)
        let sent = broadcastNewMessages(&token, allowed: allowed)
        updateFlowControl(&token, sent: myTransmitCount &+ sent)
        updateTokenAru(&token)
        savedToken = TotemPacket(sender: saved.sender, message: .token(token))
        if sent > 0 { stats.heldTokenBroadcasts += 1 }
        return sent > 0
    }
}
