import Basics
import CMap
import NIOCore
import Replication
import RingLog
import Totem

@available(macOS 15, *)
extension NodeRuntime: NodeService {
    public func execute(_ request: ReplicatedNode.ClientRequest) async -> ReplicatedNode.ClientReply {
        await submit(request).value
    }

    public func status() async -> NodeStatus {
        // The loop only fails to run the task once it is shut down.
        (try? await eventLoop.submit { self.makeStatus() }.get()) ?? stoppedStatus()
    }

    public func track(_ filter: CMapTrackFilter) async -> (TrackID, AsyncStream<CMapTrackEvent>) {
        let (stream, continuation) = AsyncStream<CMapTrackEvent>.makeStream()
        let id: TrackID = (try? await eventLoop.submit {
            let id = TrackID(self.nextTrack)
            self.nextTrack &+= 1
            guard !self.isStopped else {
                continuation.finish()
                return id
            }
            self.core.withTracker { $0.add(id, filter: filter) }
            self.trackStreams[id] = continuation
            return id
        }.get()) ?? TrackID(0)
        continuation.onTermination = { _ in
            Task { await self.untrack(id) }
        }
        return (id, stream)
    }

    public func untrack(_ id: TrackID) async {
        try? await eventLoop.submit {
            self.core.withTracker { $0.remove(id) }
            self.trackStreams.removeValue(forKey: id)?.finish()
        }.get()
    }

    /// Captures the state on the loop, encodes and saves it off the loop, then compacts the
    /// log below it (NodeRuntime+Compaction.swift).
    public func snapshot() async throws -> LogIndex {
        guard let index = try await takeSnapshot(automatic: false) else {
            throw RuntimeStartError("node \(configuration.nodeID) is stopped")
        }
        return index
    }

    /// Leaves the ring cleanly: feeds `.leaveRequested` and performs its sends, waits for the
    /// in-flight fsyncs, closes the sockets. Waiting requests get `.unknownOutcome`.
    public func stop() async {
        let alreadyStopped = (try? await eventLoop.submit { () -> Bool in
            guard !self.isStopped else { return true }
            if self.isStarted { self.enqueue(.core(.leaveRequested(at: self.now()))) }
            self.stopLocally()
            return false
        }.get()) ?? true
        if !alreadyStopped {
            let last = log.lastIndex
            _ = try? await log.waitDurable(through: last)
        }
        await closeEverything()
    }

    /// Stops without leaving or waiting (a crash as far as the other nodes can tell): for
    /// tests that restart a node from its data directory.
    public func kill() async {
        _ = try? await eventLoop.submit { self.stopLocally() }.get()
        await closeEverything()
    }

    private func closeEverything() async {
        await transport?.close()
        await peers?.close()
        // Let the log's queue finish what it has, then release the files. A compaction
        // queued after this sees `isLogClosing` and leaves the closed log alone.
        isLogClosing.store(true, ordering: .releasing)
        _ = try? await log.perform { $0.close() }
        sink?.runtime = nil
    }

    func makeStatus() -> NodeStatus {
        let replica = core.replica
        let members = replica.members.isEmpty ? (core.lastConfiguration?.members ?? []) : replica.members
        let ringStatus = rings.status.map { ring in
            NodeStatus.RingInterface(ringNumber: ring.ringNumber, isFaulty: ring.isFaulty,
                                     detail: ring.faultReason.map { "FAULTY: \($0)" } ?? "ring \(ring.ringNumber) active with no faults")
        }
        let totemStats = core.totem.stats
        var counters: [(String, UInt64)] = [
            ("configuration_changes", totemStats.operationalEntered),
            ("fetches_served", self.counters.fetchesServed),
            ("log_entries_appended", self.counters.appendedEntries),
            ("mcasts_retransmitted", totemStats.mcastsRetransmitted),
            ("mcasts_sent", totemStats.mcastsSent),
            ("packets_received", self.counters.packetsReceived),
            ("peer_messages_dropped_disconnected", peers?.counters.droppedDisconnected ?? 0),
            ("peer_messages_received", peers?.counters.received ?? 0),
            ("peer_messages_rejected", peers?.counters.rejected ?? 0),
            ("peer_messages_sent", peers?.counters.sent ?? 0),
            ("ring_faults", self.counters.ringFaults),
            ("stale_durable_reports", self.counters.staleDurableReports),
            ("token_holds", tokenPacer.counters.held),
            ("token_holds_ended_by_broadcast", tokenPacer.counters.releasedByBroadcast),
            ("token_holds_ended_by_packet", tokenPacer.counters.releasedByPacket),
            ("token_holds_ended_by_timer", tokenPacer.counters.releasedByTimer),
            ("token_retransmits", totemStats.tokenRetransmits),
            ("tokens_received", totemStats.tokensReceived),
        ] + opsCounters()
        // Per ring: datagrams, and every drop reason that occurred (packets rejected by reason).
        for ring in transport?.counters() ?? [] {
            let prefix = "ring\(ring.ringNumber)_"
            counters.append((prefix + "datagrams_received", ring.datagramsReceived))
            counters.append((prefix + "datagrams_sent", ring.datagramsSent))
            counters.append((prefix + "receive_drops_total", ring.receiveDropsTotal))
            for (reason, count) in ring.allDrops where count > 0 {
                let name = String("\(reason)".map { $0.isLetter || $0.isNumber ? $0 : "_" })
                counters.append((prefix + "drop_" + name, count))
            }
        }
        counters += processGroupCounters()
        counters.sort { $0.0 < $1.0 }
        return NodeStatus(
            nodeID: configuration.nodeID, ringID: core.totem.ringID, members: members,
            totemState: isStopped ? "stopped" : "\(core.totem.state)", phase: replica.phase,
            epoch: replica.epoch, normalEpoch: replica.normalEpoch, firstIndex: ops.logFirstIndex,
            lastIndex: replica.lastIndex, durableIndex: replica.durableIndex, commitIndex: replica.commitIndex,
            appliedIndex: replica.appliedIndex, snapshotIndex: snapshotIndex,
            keyCount: core.store.state.count(prefix: CMapPrefix.all),
            isQuorate: !isStopped && replica.configuration.voters.isMajority(members) && members.contains(configuration.nodeID),
            totalVotes: replica.configuration.voters.totalVotes, majorityVotes: replica.configuration.voters.majorityVotes,
            rings: ringStatus,
            isFsyncOn: configuration.fsync, counters: counters, lastStall: stallStatus())
    }

    private func stoppedStatus() -> NodeStatus {
        NodeStatus(nodeID: configuration.nodeID, ringID: RingID(representative: configuration.nodeID, seq: 0),
                   members: [], totemState: "stopped", phase: .inactive, epoch: .zero, normalEpoch: .zero,
                   firstIndex: LogIndex(1), lastIndex: .zero, durableIndex: .zero, commitIndex: .zero,
                   appliedIndex: .zero, snapshotIndex: .zero, keyCount: 0, isQuorate: false,
                   totalVotes: voters.totalVotes, majorityVotes: voters.majorityVotes, rings: [],
                   isFsyncOn: configuration.fsync, counters: [])
    }
}
