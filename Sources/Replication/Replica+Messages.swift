import Basics

extension Replica {
    mutating func delivered(from originator: NodeID, payload: ArraySlice<UInt8>) {
        if appendWritesDirectly(payload, from: originator) { return }
        let message: RingMessage
        do {
            message = try RingMessage(decoding: payload)
        } catch {
            malformedMessages += 1
            return
        }
        switch message {
        case .syncState(let state):
            syncStateDelivered(state, from: originator)
        case .writes(let writesEpoch, let requests):
            writesDelivered(requests, epoch: writesEpoch, from: originator)
        case .readBarrier(let barrierEpoch, let id):
            barrierDelivered(id: id, epoch: barrierEpoch, from: originator)
        case .nodeInfo:
            break  // the quorum service's (ReplicatedNode routes it there)
        case .processGroup:
            // ReplicatedNode hands these to ProcessGroups; they never reach the log.
            break
        }
    }

    /// Rule 2 and 4: writes of this epoch get the next indexes in delivery order, on every
    /// member alike. Writes ordered in another epoch, or before this member knows where the
    /// epoch's log starts, are dropped by every member that delivers them.
    mutating func writesDelivered(_ requests: [WriteRequest], epoch writesEpoch: Epoch, from originator: NodeID) {
        let isIndexed = phase == .active || (phase == .syncing && round?.source != nil)
        guard isIndexed, writesEpoch == epoch else {
            // Only a write ordered in a later ring than the one it was submitted in is
            // dropped everywhere. One of this epoch delivered after the transitional
            // configuration may have been appended by members of another partition that
            // delivered it in the regular one (EVS allows that): it stays pending, and is
            // answered if a sync brings it back, or times out as unknown.
            if originator == nodeID && writesEpoch != epoch {
                for request in requests {
                    if let pending = pendingWrites.removeValue(forKey: request.requestID) {
                        actions.append(.fail(pending.token, .notWritten))
                    }
                }
            }
            return
        }
        guard phase == .active else {
            for request in requests {
                bufferLiveEntry(Entry(index: nextIndex, epoch: epoch, originator: originator,
                                      requestID: request.requestID, clientID: request.clientID,
                                      clientSeq: request.clientSeq, op: request.op))
                nextIndex = nextIndex.next
            }
            return
        }
        // As `appendToLog` of these entries, without an array per message: they go straight
        // onto the tail and into the step's append batch (one per step, see `appendMerging`).
        guard nextIndex == lastIndex.next else {
            if !requests.isEmpty {
                brokenInvariant("node \(nodeID): append \(nextIndex) after \(lastIndex)")
                nextIndex = LogIndex(nextIndex.rawValue + UInt64(requests.count))
            }
            return
        }
        guard !requests.isEmpty else { return }
        var batch = Self.takeAppendBatch(from: &actions)
        for request in requests {
            let entry = Entry(index: nextIndex, epoch: epoch, originator: originator,
                              requestID: request.requestID, clientID: request.clientID,
                              clientSeq: request.clientSeq, op: request.op)
            tail.append(entry)
            batch.append(entry)
            lastIndex = nextIndex
            nextIndex = nextIndex.next
        }
        actions.append(.append(batch))
    }

    /// The common case of `writesDelivered`, without building the message: an active member
    /// delivers writes of its own epoch, and its log ends where the epoch's indexes continue.
    /// The payload is checked whole first (the same checks as `RingMessage(decoding:)`), then
    /// each write becomes an entry straight from its bytes. False (nothing done) for any
    /// other payload or state: the general path handles it, malformed payloads included.
    mutating func appendWritesDirectly(_ payload: ArraySlice<UInt8>, from originator: NodeID) -> Bool {
        guard RingMessage.isWrites(payload), phase == .active, nextIndex == lastIndex.next,
              let count = RingMessage.checkedWritesCount(payload, epoch: epoch) else { return false }
        var r = ByteReader(payload, offset: RingMessage.writesHeaderBytes)
        var batch = Self.takeAppendBatch(from: &actions)
        // A step usually delivers many one-write messages: room for several up front spares
        // the batch its growth steps (a reallocation and a move each).
        if batch.isEmpty { batch.reserveCapacity(max(count, Self.appendBatchCapacityMin)) }
        do {
            for _ in 0..<count {
                let entry = Entry(index: nextIndex, epoch: epoch, originator: originator,
                                  requestID: try r.u64("request id"), clientID: try r.u64("client id"),
                                  clientSeq: try r.u64("client seq"), op: try r.blobSlice("op", maxBytes: Entry.opBytesMax))
                tail.append(entry)
                batch.append(entry)
                lastIndex = nextIndex
                nextIndex = nextIndex.next
            }
        } catch {
            preconditionFailure("writes payload checked whole, then failed to decode: \(error)")
        }
        if !batch.isEmpty { actions.append(.append(batch)) }
        return true
    }

    static let appendBatchCapacityMin = 16

    mutating func barrierDelivered(id: UInt64, epoch barrierEpoch: Epoch, from originator: NodeID) {
        guard barrierEpoch == epoch, phase != .inactive, round?.source != nil || phase == .active else { return }
        deliveredBarriers[originator] = max(deliveredBarriers[originator] ?? 0, id)
        if originator == nodeID, var b = barrier, b.id == id {
            b.index = LogIndex(nextIndex.rawValue - 1)
            barrier = b
        }
        // Confirm at once to the originator so reads do not wait for the tick.
        if phase == .active && originator != nodeID {
            actions.append(.send(.ack(epoch: epoch, durableIndex: durableIndex, barrierID: id), to: originator))
        }
    }

    /// Totem's queue was full: the writes were never sent (nothing written anywhere), the
    /// barrier's reads fail, and a SyncState is sent again on the next tick.
    mutating func broadcastRefused(_ payload: [UInt8]) {
        guard let message = try? RingMessage(decoding: payload) else { return }
        switch message {
        case .writes(_, let requests):
            for request in requests {
                if let pending = pendingWrites.removeValue(forKey: request.requestID) {
                    actions.append(.fail(pending.token, .notWritten))
                }
            }
        case .readBarrier(_, let id):
            if let b = barrier, b.id == id {
                barrier = nil
                for read in b.reads { actions.append(.fail(read.token, .readNotConfirmed)) }
            }
        case .syncState(let state):
            if state.epoch == epoch { round?.isStateSent = false }
        case .nodeInfo:
            break  // ReplicatedNode resends it
        case .processGroup:
            break
        }
    }

    mutating func peerMessageReceived(from peer: NodeID, _ message: PeerMessage) {
        switch message {
        case .ack(let ackEpoch, let durable, let barrierID):
            // Rule 5: only acknowledgements of the current epoch count; a member sends them
            // only after finishing its sync in that epoch.
            let isCurrent = ackEpoch == epoch || (configuration.testingCanary == .acceptOldEpochAcks && ackEpoch < epoch)
            guard isCurrent, phase != .inactive, members.contains(peer) else { return }
            acks[peer] = max(acks[peer] ?? .zero, durable)
            barrierAcks[peer] = max(barrierAcks[peer] ?? 0, barrierID)
            recomputeCommit()
        case .fetch(let fetchEpoch, let from, let through):
            fetchRequested(by: peer, epoch: fetchEpoch, from: from, through: through)
        case .entries(let entriesEpoch, let entries):
            entriesReceived(entries, epoch: entriesEpoch, from: peer)
        case .snapshot:
            // The shell decodes and verifies the bytes, then feeds `.snapshotOffered`.
            break
        }
    }

    mutating func appendDurable(through index: LogIndex) {
        let durable = min(index, lastIndex)
        guard durable > durableIndex else { return }
        durableIndex = durable
        switch phase {
        case .inactive:
            break
        case .syncing:
            sendSyncStateIfDurable()
            appendBufferIfContiguous()
            finishSyncIfReady()
        case .active:
            acks[nodeID] = durableIndex
            sendAcks()
            recomputeCommit()
        }
    }

    /// Cumulative acknowledgement to every other member, with the newest of its read
    /// barriers this member delivered.
    mutating func sendAcks() {
        guard phase == .active else { return }
        for member in members where member != nodeID {
            actions.append(.send(.ack(epoch: epoch, durableIndex: durableIndex,
                                      barrierID: deliveredBarriers[member] ?? 0), to: member))
        }
    }
}
