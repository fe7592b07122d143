import Basics

extension Replica {
    /// Rule 1: writes only in a quorate configuration whose sync has finished here.
    mutating func writeRequested(_ token: ClientToken, clientID: UInt64, clientSeq: UInt64, op: [UInt8]) {
        guard phase == .active else {
            actions.append(.fail(token, .noQuorum))
            return
        }
        requestCounter &+= 1
        let requestID = UInt64(incarnation) << 32 | UInt64(requestCounter)
        pendingWrites[requestID] = PendingRequest(token: token, deadline: now + configuration.requestTimeout)
        let request = WriteRequest(requestID: requestID, clientID: clientID, clientSeq: clientSeq, op: op)
        actions.append(.broadcast(RingMessage.encodedWrite(epoch: epoch, request)))
    }

    /// Linearizable reads wait for a read barrier ordered after them and confirmed by a
    /// majority in the same epoch (DESIGN section 4, Reads). Reads arriving while a barrier
    /// is in flight share the next one: joining a barrier already handed to Totem could
    /// order the read before writes that completed before it was asked.
    mutating func readRequested(_ token: ClientToken) {
        guard phase == .active else {
            actions.append(.fail(token, .noQuorum))
            return
        }
        if configuration.testingCanary == .answerReadsAtOnce {
            actions.append(.answerReads([token]))
            return
        }
        waitingReads.append(PendingRead(token: token, deadline: now + configuration.requestTimeout))
        if barrier == nil { startBarrier() }
    }

    mutating func startBarrier() {
        guard phase == .active, barrier == nil, !waitingReads.isEmpty else { return }
        barrierCounter += 1
        barrier = Barrier(id: barrierCounter, reads: waitingReads, index: nil)
        waitingReads = []
        actions.append(.broadcast(RingMessage.readBarrier(epoch: epoch, id: barrierCounter).encoded()))
    }

    /// A barrier is confirmed when this member delivered it, members holding a majority of
    /// votes (this one included) delivered it in this epoch, and everything ordered before
    /// it is applied here.
    mutating func checkReads() {
        guard phase == .active, let b = barrier, let index = b.index, appliedIndex >= index else { return }
        let confirmers = [nodeID] + members.filter { $0 != nodeID && (barrierAcks[$0] ?? 0) >= b.id }
        guard isMajorityInEveryKnownConfiguration(confirmers) || configuration.testingCanary == .readAtLocalDelivery else { return }
        barrier = nil
        if !b.reads.isEmpty { actions.append(.answerReads(b.reads.map(\.token))) }
        startBarrier()
    }

    mutating func tick() {
        // Requests past their deadline: a write's outcome is unknown, a read just failed.
        let expired = pendingWrites.filter { $0.value.deadline <= now }.sorted { $0.key < $1.key }
        for (requestID, pending) in expired {
            pendingWrites.removeValue(forKey: requestID)
            actions.append(.fail(pending.token, .unknownOutcome))
        }
        if var b = barrier {
            let (late, onTime) = (b.reads.filter { $0.deadline <= now }, b.reads.filter { $0.deadline > now })
            for read in late { actions.append(.fail(read.token, .readNotConfirmed)) }
            b.reads = onTime
            barrier = b
        }
        // Cumulative messages are resent so a lost one costs one tick, not the request.
        sendAcks()
        requestFetch()
        sendSyncStateIfDurable()
    }
}
