import Basics
import CMap
import Replication
import RingLog
import Totem

extension ReplicationCluster {
    /// Performs a node's actions in order, against the simulated network and disk.
    mutating func perform(_ actions: [ReplicatedNode.Action], at index: Int) {
        for action in actions {
            guard nodes[index].isUp else { return }
            switch action {
            case .sendPacket(let packet, let destination):
                switch destination {
                case .broadcast:
                    for to in 0..<nodes.count where to != index { transmitPacket(packet, from: index, to: to) }
                case .node(let id):
                    let to = Int(id.rawValue) - 1
                    if to >= 0 && to < nodes.count { transmitPacket(packet, from: index, to: to) }
                }
            case .startTotemTimer(let kind, let generation, let after):
                queue.schedule(.totemTimer(node: index, incarnation: nodes[index].incarnation, kind, generation), after: after)
            case .cancelTotemTimer:
                break
            case .persistRingSeq(let seq):
                nodes[index].persistedRingSeq = seq
            case .sendPeer(let message, let to):
                let toIndex = Int(to.rawValue) - 1
                guard toIndex >= 0 && toIndex < nodes.count else { continue }
                for arrival in network.route(from: index, to: toIndex, now: queue.now) {
                    queue.schedule(.peer(to: toIndex, from: index, message), at: arrival)
                }
            case .append(let entries):
                // Framed straight from the entries into the log's write buffer: no payload
                // array per entry and no record array per append (the bytes are those of
                // `LogRecord(index:epoch:type: 1, payload: entry.encodedPayload())`).
                do {
                    try nodes[index].log!.append(count: entries.count,
                                                 payloadByteCount: { entries[$0].encodedPayloadByteCount }) { k, place in
                        let entry = entries[k]
                        entry.withEncodedPayloadParts { head, op in
                            place(RingLog.RecordParts(index: entry.index, epoch: entry.epoch, type: 1, head: head, tail: op))
                        }
                    }
                } catch {
                    violation("disk", node: index, "append failed: \(error)")
                }
                scheduleFsync(index)
            case .truncate(let after):
                do {
                    try nodes[index].log!.truncate(after: after)
                } catch {
                    violation("disk", node: index, "truncate failed: \(error)")
                }
            case .persistNormalEpoch(let epoch, let commit):
                let log = nodes[index].log!
                let meta = LogMeta(nodeID: nodes[index].id, normalEpoch: epoch,
                                   voters: voters.votes.map { LogMeta.Voter(nodeID: $0.node, votes: $0.votes) },
                                   commitIndex: min(commit, log.durableIndex))
                do {
                    try log.writeMeta(meta)
                } catch {
                    violation("disk", node: index, "meta write failed: \(error)")
                }
                note("\(incarnation(index)) synced in epoch \(epoch), commit \(commit)")
            case .serveFetch(let to, let epoch, let from, let through):
                let toIndex = Int(to.rawValue) - 1
                guard toIndex >= 0 && toIndex < nodes.count, let log = nodes[index].log else { continue }
                if from < log.firstIndex, let snapshot = nodes[index].snapshot, snapshot.index.next >= from {
                    let message = PeerMessage.snapshot(epoch: epoch, index: snapshot.index,
                                                       snapshotEpoch: snapshot.epoch, bytes: snapshot.bytes)
                    for arrival in network.route(from: index, to: toIndex, now: queue.now) {
                        queue.schedule(.peer(to: toIndex, from: index, message), at: arrival)
                    }
                    continue
                }
                guard from >= log.firstIndex, through <= log.lastIndex else { continue }
                guard let records = try? log.read(from: from, through: through) else { continue }
                let entries = records.compactMap { try? Entry(index: $0.index, epoch: $0.epoch, payload: $0.payload) }
                for arrival in network.route(from: index, to: toIndex, now: queue.now) {
                    queue.schedule(.peer(to: toIndex, from: index, .entries(epoch: epoch, entries)), at: arrival)
                }
            case .installSnapshot(let snapshotIndex, let epoch, let bytes):
                nodes[index].snapshot = (snapshotIndex, epoch, bytes)
                snapshotsInstalled += 1
                let log = nodes[index].log!
                do {
                    // Entries above the known commit index may differ from the source's
                    // history; everything the snapshot covers goes.
                    let keep = max(log.meta?.commitIndex ?? .zero, log.boundary.index)
                    if keep < snapshotIndex { try log.truncate(after: keep) }
                    try log.compact(through: LogPosition(index: snapshotIndex, epoch: epoch))
                } catch {
                    violation("disk", node: index, "snapshot install failed: \(error)")
                }
                note("\(incarnation(index)) installed a snapshot at \(snapshotIndex)")
            case .startReplicaTick(let generation, let after):
                queue.schedule(.replicaTick(node: index, incarnation: nodes[index].incarnation, generation: generation), after: after)
            case .reply(let token, let reply):
                replies.append((token, index, reply))
            case .applied(let entry):
                if let first = appliedAnywhere[entry.index] {
                    if first != entry {
                        violation("state", node: index,
                                  "applied \(entry.index) epoch \(entry.epoch) from \(entry.originator)/\(entry.requestID), another node applied epoch \(first.epoch) from \(first.originator)/\(first.requestID)")
                    }
                } else {
                    appliedAnywhere[entry.index] = entry
                }
            case .configurationChanged(let change):
                hash.mix(change.ringID.seq ^ UInt64(index) << 56)
                note("\(incarnation(index)) \(change)")
            case .quorumChanged(let notification):
                quorumNotifications.append((index, notification))
            case .startQuorumTimer(let timer, let after):
                queue.schedule(.quorumTimer(node: index, incarnation: nodes[index].incarnation, timer), after: after)
            case .processGroupDelivered(let delivery):
                processGroupRecord.delivered(delivery, at: nodes[index].id)
            case .processGroupReplied(let token, let reply):
                processGroupRecord.replies[token] = reply
            }
        }
    }

    mutating func transmitPacket(_ packet: TotemPacket, from: Int, to: Int) {
        for arrival in network.route(from: from, to: to, now: queue.now) {
            queue.schedule(.packet(to: to, packet), at: arrival)
        }
    }

    /// Group commit: one fsync covers every append made before it completes.
    mutating func scheduleFsync(_ index: Int) {
        guard !nodes[index].isFsyncScheduled else { return }
        nodes[index].isFsyncScheduled = true
        let delay = fsyncMicrosecondsMax == 0 ? 0 : random.next() % (fsyncMicrosecondsMax + 1)
        queue.schedule(.fsyncDone(node: index, incarnation: nodes[index].incarnation),
                       at: queue.now.adding(microseconds: delay))
    }
}

extension ReplicationCluster {
    /// The node's snapshot policy: every `compactEveryEntries` applied entries, snapshot the
    /// store (it must be durable locally: the log is compacted through it) and compact.
    mutating func compactIfDue(_ index: Int) {
        guard compactEveryEntries > 0, let core = nodes[index].core, let log = nodes[index].log else { return }
        let applied = core.replica.appliedIndex
        guard applied.rawValue >= log.firstIndex.rawValue + compactEveryEntries, applied <= log.durableIndex,
              log.epoch(of: applied) == core.replica.appliedEpoch else { return }
        do {
            let voters = voters.votes.map { SnapshotVoter(nodeID: $0.node, votes: $0.votes) }
            let bytes = try CMapSnapshot.encode(core.store.capture(), epoch: core.replica.appliedEpoch, voters: voters)
            nodes[index].snapshot = (applied, core.replica.appliedEpoch, bytes)
            try log.compact(through: LogPosition(index: applied, epoch: core.replica.appliedEpoch))
            snapshotsTaken += 1
        } catch {
            violation("disk", node: index, "snapshot failed: \(error)")
        }
    }
}
