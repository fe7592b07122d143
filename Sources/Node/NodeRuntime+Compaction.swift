import Basics
import CMap
import Dispatch
import Foundation
import NIOCore
import RingLog

/// The node's own snapshots (DESIGN.md section 6): every `snapshot_entries` applied entries
/// or `snapshot_bytes` bytes, once the operations applied since the last snapshot reach
/// `snapshot_growth_percent` of its uncompressed size (`SnapshotPolicy`, `growthRuleBytes`),
/// and on the SNAPSHOT command. The loop only
/// captures the applied state (the store is a persistent map: capturing is O(1)); encoding,
/// compression and the durable write run on a queue of their own, and the compaction on the
/// log's queue, so writes keep committing meanwhile.
///
/// Order, for crash safety: the snapshot file is durable (temp, fsync, rename, fsync of the
/// directory) before the log's boundary moves past it; old snapshot files go last, keeping
/// the two newest. A crash at any point leaves a snapshot that covers everything the log no
/// longer holds, which is what recovery (`RuntimeDisk.makeCore`) needs.
@available(macOS 15, *)
extension NodeRuntime {
    /// One snapshot at a time is enough for the policy: a due snapshot while one is being
    /// written waits for the next threshold.
    func startAutomaticSnapshot() {
        guard !ops.isSnapshotInFlight, !isStopped else { return }
        Task.detached {
            do {
                _ = try await self.takeSnapshot(automatic: true)
            } catch {
                self.logger.error("node \(self.configuration.nodeID): snapshot failed: \(error)")
            }
        }
    }

    /// Captures, writes and compacts; returns the index the snapshot covers, or nil when an
    /// automatic snapshot was skipped because another one is in flight.
    func takeSnapshot(automatic: Bool) async throws -> LogIndex? {
        let captured = try await eventLoop.submit { () -> (CMapState, [SnapshotVoter])? in
            guard !(automatic && self.ops.isSnapshotInFlight), !self.isStopped else { return nil }
            self.noteWork(.snapshot, at: self.now())
            self.ops.isSnapshotInFlight = true
            self.ops.snapshotPolicy.snapshotTaken()
            let voters = self.core.replica.configuration.voters.votes.map { SnapshotVoter(nodeID: $0.node, votes: $0.votes) }
            return (self.core.store.capture(), voters)
        }.get()
        guard let (state, voters) = captured else { return nil }
        let started = now()
        do {
            let index = try await writeAndCompact(state, voters: voters)
            let elapsed = now().nanoseconds &- started.nanoseconds
            metrics.snapshotDuration.recordNanoseconds(Int64(clamping: elapsed))
            return index
        } catch {
            eventLoop.execute {
                self.ops.isSnapshotInFlight = false
                self.ops.snapshotsFailed &+= 1
            }
            throw error
        }
    }

    private func writeAndCompact(_ state: CMapState, voters: [SnapshotVoter]) async throws -> LogIndex {
        let index = state.appliedIndex
        let log = self.log
        let directory = configuration.dataDirectory + "/snapshots"
        // nil: a snapshot installed from a sync source already compacted past `index`.
        guard let epoch = try await log.perform({ $0.epoch(of: index) }) ?? (index == .zero ? Epoch.zero : nil) else {
            let current = try await eventLoop.submit {
                self.ops.isSnapshotInFlight = false
                return self.snapshotIndex
            }.get()
            return current
        }
        let stateBytes = try await Self.onSnapshotQueue { () -> Int in
            let bytes = try CMapSnapshot.encode(state, epoch: epoch, voters: voters)
            _ = try SnapshotStore(directory: directory).save(bytes, index: index)
            return Self.growthRuleBytes(ofSnapshot: bytes)
        }
        eventLoop.execute { self.ops.snapshotPolicy.snapshotWritten(bytes: stateBytes) }
        // The log checks again on its own queue: an installed snapshot or a truncation may have
        // moved things meanwhile, and compaction must stay below the durable index.
        let first = try await log.perform { [self] log -> LogIndex in
            guard !self.isLogClosing.load(ordering: .acquiring), index > log.boundary.index, index <= log.durableIndex, log.epoch(of: index) == epoch else {
                return log.firstIndex
            }
            try log.compact(through: LogPosition(index: index, epoch: epoch))
            return log.firstIndex
        }
        try? await Self.onSnapshotQueue {
            _ = try SnapshotStore(directory: directory).removeOld(below: index, keeping: 2)
        }
        try await eventLoop.submit {
            self.ops.isSnapshotInFlight = false
            self.ops.snapshotsTaken &+= 1
            self.ops.lastSnapshotUnixMilliseconds = Self.unixMilliseconds()
            if first > self.ops.logFirstIndex {
                self.ops.logFirstIndex = first
                self.ops.compactions &+= 1
            }
            self.snapshotIndex = max(self.snapshotIndex, index)
        }.get()
        logger.info("node \(configuration.nodeID): snapshot at \(index); the log now starts at \(first)")
        return index
    }

    /// What the growth rule measures a snapshot by: the uncompressed size of its body (the
    /// file's size when the header does not decode). A snapshot's cost (encoding and
    /// compressing every key) follows the uncompressed state, and the operations applied
    /// since are counted uncompressed too; against the compressed file, values that compress
    /// well made the rule moot: 0.5 MB files for ~21 MB of state, a snapshot every
    /// `snapshot_entries` (10,000) writes, ~20 % of the cluster's CPU per write at 64
    /// clients (Bench/results/cluster-2026-11-26c.md).
    static func growthRuleBytes(ofSnapshot bytes: [UInt8]) -> Int {
        guard let header = try? CMapSnapshot.decodeHeader(bytes).header else { return bytes.count }
        return Int(clamping: header.rawBodyBytes)
    }

    /// Encoding, compression and file writes: a serial queue of their own, off the loop and
    /// off Swift's cooperative pool (an fsync blocks its thread).
    private static let snapshotQueue = DispatchQueue(label: "totemkv.snapshots")

    private static func onSnapshotQueue<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            snapshotQueue.async { continuation.resume(with: Result { try body() }) }
        }
    }
}

@available(macOS 15, *)
extension RuntimeDisk {
    /// The newest snapshot file's modification time (Unix ms, for the snapshot age after a
    /// restart) and its uncompressed size for the growth rule (only the header is read);
    /// nil when there is none.
    static func newestSnapshotFile(_ configuration: NodeRuntimeConfiguration) -> (unixMilliseconds: UInt64, bytes: Int)? {
        guard let store = try? SnapshotStore(directory: configuration.dataDirectory + "/snapshots"),
              let newest = try? store.list().first,
              let attributes = try? FileManager.default.attributesOfItem(atPath: newest.path),
              let date = attributes[.modificationDate] as? Date,
              let size = attributes[.size] as? NSNumber
        else { return nil }
        let bytes = (try? store.header(of: newest)).map { Int(clamping: $0.rawBodyBytes) } ?? size.intValue
        return (UInt64(max(0, date.timeIntervalSince1970 * 1000)), bytes)
    }
}
