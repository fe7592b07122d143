import Basics

/// memb_state_operational_enter: the EVS delivery of a configuration change (totem-notes
/// 3.6).
extension TotemInstance {
    mutating func enterOperational() {
        // 1. Old-ring messages recovered from other members join the regular queue.
        var seq: UInt64 = 1
        while seq <= myAru {
            if let message = recovery[seq], case .recovered(let inner) = message.body,
               inner.ringID == oldRingID {
                if regular.insert(inner) { oldRingHighSeq = max(oldRingHighSeq, inner.seq) }
            }
            seq += 1
        }
        // 2. Old-ring messages in order up to the first gap.
        deliverRegular(through: oldRingHighSeq, skippingGaps: false)
        // 3. The transitional configuration.
        let newRing = ringID
        out.append(.configurationChange(ConfigurationChange(
            kind: .transitional, ringID: newRing, members: transitionalMembers.sorted,
            left: members.subtracting(transitionalMembers).sorted, joined: [])))
        // 4. The rest of the old ring, past the holes, from transitional members only.
        deliverRegular(through: oldRingHighSeq, skippingGaps: true)
        // A fragmented payload never spans configurations.
        stats.incompletePayloadsDropped += UInt64(reassembler.dropIncomplete())
        stats.framesDroppedAtConfigurationChange += UInt64(packer.dropLeadingContinuations())
        // 5. The regular configuration.
        out.append(.configurationChange(ConfigurationChange(
            kind: .regular, ringID: newRing, members: newMembers.sorted, left: [],
            joined: newMembers.subtracting(transitionalMembers).sorted)))
        // 6. Install: the recovery queue becomes the regular queue.
        members = newMembers
        procSet = newMembers
        failedSet = NodeSet()
        consensusSet = NodeSet([nodeID])
        failedToReceive = false
        swap(&regular, &recovery)
        recovery.reset()
        // Deviation: corosync sets my_high_delivered = my_high_seq_received here. A member
        // that enters OPERATIONAL a rotation after the others may already hold their first
        // new-ring messages, and would never deliver them (the simulator found it: seed 51
        // with 7 nodes). Delivery restarts at the new ring's first seq instead and passes
        // over the recovered (encapsulated) messages, which were handled above.
        myHighDelivered = 0
        myLastAru = 0
        oldRingStateSaved = false
        oldRingID = ringID
        state = .operational
        stats.operationalEntered += 1
    }
}
