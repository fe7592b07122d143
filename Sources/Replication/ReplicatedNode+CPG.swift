import Basics
import Totem

/// The glue between Totem and `ProcessGroups`: process-group payloads delivered by Totem go
/// to the groups core (never to the replica, never to the log), and the core's broadcasts go
/// straight to Totem. Nothing here looks at quorum.
extension ReplicatedNode {
    /// Members of a group as this node sees them (CPG.MEMBERS).
    public func processGroupMembers(_ group: ProcessGroupName) -> [ProcessGroupMember] {
        processGroups.members(of: group)
    }

    mutating func processGroupDelivered(_ delivery: Delivery, at: Instant, into actions: inout [Action]) {
        guard case .processGroup(let message)? = try? RingMessage(decoding: delivery.bytes) else {
            processGroups.malformedMessages += 1
            return
        }
        processGroupStep(.delivered(originator: delivery.originator, message), at: at, into: &actions)
    }

    /// Steps the groups core and performs its actions: deliveries and replies become node
    /// actions; broadcasts are submitted to Totem at once (a submission only queues, sends
    /// or arms timers: it never delivers), and a refusal goes back to the core.
    mutating func processGroupStep(_ event: ProcessGroups.Event, at: Instant, into actions: inout [Action]) {
        var pending = processGroups.step(event)
        var head = 0
        // Bounded: a refusal yields at most one reply and no broadcast.
        while head < pending.count {
            let action = pending[head]
            head += 1
            switch action {
            case .deliver(let delivery):
                actions.append(.processGroupDelivered(delivery))
            case .reply(let token, let reply):
                actions.append(.processGroupReplied(token, reply))
            case .broadcast(let message, let token):
                if let refusal = submitToTotem(RingMessage.processGroup(message).encoded(), at: at, into: &actions) {
                    pending += processGroups.step(.broadcastRefused(message, refusal, token))
                } else if let token {
                    actions.append(.processGroupReplied(token, .accepted))
                }
            }
        }
    }

    /// Submits a payload; returns Totem's refusal, if any.
    private mutating func submitToTotem(_ payload: [UInt8], at: Instant, into actions: inout [Action]) -> SubmitRefusal? {
        var refusal: SubmitRefusal?
        for a in totem.step(.submitted(payload, at: at)) {
            switch a {
            case .send(let packet, let to): actions.append(.sendPacket(packet, to: to))
            case .startTimer(let k, let g, let after): actions.append(.startTotemTimer(k, g, after: after))
            case .cancelTimer(let k): actions.append(.cancelTotemTimer(k))
            case .persistRingSeq(let seq): actions.append(.persistRingSeq(seq))
            case .submitRefused(let reason): refusal = reason
            case .deliver, .configurationChange:
                preconditionFailure("Totem delivered while queueing a submission: \(a); route submissions through step's work queue")
            }
        }
        return refusal
    }
}
