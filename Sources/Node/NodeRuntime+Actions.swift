import Basics
import CMap
import Dispatch
import NIOCore
import Replication
import RingLog
import Totem

@available(macOS 15, *)
extension NodeRuntime {
    /// The largest entries batch sent for one fetch (the peer frame allows 16 MiB).
    static let fetchBatchBytesMax = 4 << 20

    /// Performs one step's actions in order. Disk operations that must be durable before the
    /// next action (truncate, normal epoch, ring seq) complete before it.
    func perform(_ actions: [ReplicatedNode.Action]) {
        for action in actions {
            guard !isStopped else { return }
            switch action {
            case .sendPacket(let packet, let destination):
                let to: RRPDestination
                switch destination {
                case .broadcast: to = .broadcast
                case .node(let id): to = .node(id)
                }
                for rrpAction in rings.step(.outgoing(packet, to: to)) { performRRP(rrpAction) }
            case .startTotemTimer(let kind, let generation, let after):
                startTotemTimer(kind, generation, after: after)
            case .cancelTotemTimer(let kind):
                totemTimerTable.cancel(Int(kind.rawValue))
            case .persistRingSeq(let seq):
                do {
                    try RingSeqFile.write(seq, directory: configuration.dataDirectory)
                } catch {
                    fail("cannot persist the ring seq: \(error)")
                }
            case .sendPeer(let message, let to):
                peers?.send(message, to: to)
            case .append(let entries):
                // Framed straight from each entry's fields and op: no payload array per entry.
                do {
                    try log.appendFramed { batch in
                        var bytes = 0
                        for entry in entries { bytes &+= RecordCodec.headerBytes &+ entry.encodedPayloadByteCount }
                        batch.reserveCapacity(records: entries.count, bytes: bytes)
                        for entry in entries {
                            entry.withEncodedPayloadParts { head, op in
                                batch.append(index: entry.index, epoch: entry.epoch, type: 1, head: head, tail: op)
                            }
                        }
                    }
                    counters.appendedEntries &+= UInt64(entries.count)
                } catch {
                    fail("append failed: \(error)")
                }
            case .truncate(let after):
                let fence = diskFence
                let done = performOnDisk { log in
                    try log.truncate(after: after)
                    fence.bump()
                    return log.durableIndex
                }
                guard let durable = done else { return }
                // Reports made before the truncation are dropped (stale generation); say
                // what is durable now, never past the truncation point.
                enqueue(.durable(min(durable, after), generation: diskFence.generation))
            case .persistNormalEpoch(let epoch, let commit):
                let nodeID = configuration.nodeID
                let voters = core.replica.configuration.voters.votes.map { LogMeta.Voter(nodeID: $0.node, votes: $0.votes) }
                let written: Void? = performOnDisk { log in
                    // Never claim a commit index past what this log holds durably.
                    try log.writeMeta(LogMeta(nodeID: nodeID, normalEpoch: epoch, voters: voters,
                                              commitIndex: min(commit, log.durableIndex)))
                }
                guard written != nil else { return }
            case .serveFetch(let to, let epoch, let from, let through):
                serveFetch(to: to, epoch: epoch, from: from, through: through)
            case .installSnapshot(let index, let epoch, let bytes):
                // The snapshot is durable before the log drops what it covers.
                let directory = configuration.dataDirectory + "/snapshots"
                let fence = diskFence
                let done: Void? = performOnDisk { log in
                    _ = try SnapshotStore(directory: directory).save(bytes, index: index)
                    try NodeRuntime.resetLog(log, through: LogPosition(index: index, epoch: epoch))
                    fence.bump()
                }
                guard done != nil else { return }
                snapshotIndex = max(snapshotIndex, index)
                logger.notice("node \(configuration.nodeID): installed a snapshot at \(index) from the sync source")
            case .startReplicaTick(let generation, let after):
                eventLoop.scheduleTask(in: .milliseconds(Int64(after.rawValue))) {
                    self.enqueue(.core(.replicaTickFired(generation: generation, at: self.now())))
                }
            case .reply(let token, let reply):
                waiting.removeValue(forKey: token)?.resume(returning: reply)
            case .applied:
                break
            case .processGroupDelivered(let delivery):
                processGroupDelivered(delivery)
            case .processGroupReplied(let token, let reply):
                processGroupReplied(token, reply)
            case .configurationChanged(let change):
                logger.info("node \(configuration.nodeID): \(change)")
                if change.kind == .regular {
                    for rrpAction in rings.step(.membersChanged(change.members)) { performRRP(rrpAction) }
                }
            case .quorumChanged(let notification):
                publishQuorum(notification)
            case .startQuorumTimer(let timer, let after):
                eventLoop.scheduleTask(in: .milliseconds(Int64(after.rawValue))) {
                    self.enqueue(.core(.quorumTimerFired(timer, at: self.now())))
                }
            }
        }
    }

    func performRRP(_ action: RRPAction) {
        switch action {
        case .transmit(let packet, let destination, let ringNumber):
            let to: UDPTransport.Destination
            switch destination {
            case .broadcast: to = .broadcast
            case .node(let id): to = .node(id)
            }
            transport?.send(packet, to: to, onRing: ringNumber)
        case .deliverToSRP(let packet):
            totemPacketArrived(packet)
        case .startTimer(let timer, let generation, let after):
            rrpTimers[timer]?.cancel()
            rrpTimers[timer] = eventLoop.scheduleTask(in: .milliseconds(Int64(after.rawValue))) {
                guard !self.isStopped else { return }
                self.noteWork(.redundantRingTimer, at: self.now())
                for a in self.rings.step(.timerFired(timer, generation: generation, at: self.now())) {
                    self.performRRP(a)
                }
            }
        case .cancelTimer(let timer):
            // RedundantRings ignores a stale generation; cancelling only frees the loop.
            rrpTimers.removeValue(forKey: timer)?.cancel()
        case .ringMarkedFaulty(let ringNumber, let reason):
            counters.ringFaults &+= 1
            logger.error("node \(configuration.nodeID): marking ring \(ringNumber) FAULTY (\(reason))")
        case .ringRecovered(let ringNumber):
            logger.notice("node \(configuration.nodeID): ring \(ringNumber) recovered")
        }
    }

    /// Runs `body` on the log's queue after the pending appends are synced, and waits for it
    /// on the loop thread (the log's queue never waits for the loop, so this cannot
    /// deadlock). nil after a failure, which stops the node.
    func performOnDisk<T: Sendable>(_ body: @escaping @Sendable (RingLog) throws -> T) -> T? {
        noteWork(.diskOperation, at: now())
        do {
            return try log.performSync(body)
        } catch {
            fail("disk operation failed: \(error)")
            return nil
        }
    }

    /// Reads the requested entries on the log's queue and sends them from the loop; a fetch
    /// that cannot be served (compacted, truncated meanwhile) is dropped: the fetcher asks
    /// again on its tick.
    func serveFetch(to peer: NodeID, epoch: Epoch, from: LogIndex, through: LogIndex) {
        let log = self.log
        let bytesMax = Self.fetchBatchBytesMax
        let snapshots = configuration.dataDirectory + "/snapshots"
        Task.detached {
            // Compacted past what the peer asks: send the newest snapshot instead.
            if let first = try? await log.perform({ $0.firstIndex }), from < first {
                guard let store = try? SnapshotStore(directory: snapshots),
                      let newest = try? store.list().first, newest.index.next >= from,
                      let bytes = try? store.contents(of: newest),
                      let header = try? CMapSnapshot.decodeHeader(bytes).header else { return }
                self.eventLoop.execute {
                    guard !self.isStopped else { return }
                    self.peers?.send(.snapshot(epoch: epoch, index: header.index, snapshotEpoch: header.epoch,
                                               bytes: bytes), to: peer)
                }
                return
            }
            let records = try? await log.perform { log -> [LogRecord] in
                guard from >= log.firstIndex, from <= through, through <= log.lastIndex else { return [] }
                return try log.read(from: from, through: through, bytesMax: bytesMax)
            }
            let entries = (records ?? []).compactMap { try? Entry(index: $0.index, epoch: $0.epoch, payload: $0.payload) }
            guard !entries.isEmpty else { return }
            self.eventLoop.execute {
                guard !self.isStopped else { return }
                self.counters.fetchesServed &+= 1
                self.peers?.send(.entries(epoch: epoch, entries), to: peer)
            }
        }
    }

    /// Hands every ready track's events to its stream; a track that ended (dropped) finishes.
    func deliverTrackEvents() {
        guard !trackStreams.isEmpty else { return }
        let ready = core.withTracker { $0.takeReady() }
        for id in ready.sorted() {
            let events = core.withTracker { $0.take(id) }
            guard let stream = trackStreams[id] else { continue }
            var ended = false
            for event in events {
                stream.yield(event)
                if case .dropped = event { ended = true }
            }
            if ended || !core.withTracker({ $0.contains(id) }) {
                stream.finish()
                trackStreams[id] = nil
            }
        }
    }
}

@available(macOS 15, *)
extension NodeRuntime {
    /// Makes the log start right after `snapshot`: entries above the known commit index may
    /// differ from the snapshot's history and go first; then compaction drops the rest.
    static func resetLog(_ log: RingLog, through snapshot: LogPosition) throws {
        guard snapshot.index > log.boundary.index else { return }
        if snapshot.index <= log.lastIndex && log.epoch(of: snapshot.index) != snapshot.epoch || snapshot.index > log.lastIndex {
            let keep = max(log.meta?.commitIndex ?? .zero, log.boundary.index)
            if keep < log.lastIndex { try log.truncate(after: keep) }
        }
        try log.compact(through: snapshot)
    }
}
