import Basics
import CMap
import Foundation
import Logging
import Replication
import RingLog
import Totem

/// A data directory the node cannot use: a clear message for the operator.
public struct RuntimeStartError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// What `NodeRuntime.open` recovers from the data directory.
@available(macOS 15, *)
enum RuntimeDisk {
    /// Opens (creating if needed) `<dir>/log` and recovers it.
    static func openLog(_ configuration: NodeRuntimeConfiguration, logger: Logger, metrics: NodeMetrics) throws -> RingLog {
        let directory = configuration.dataDirectory
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw RuntimeStartError("cannot create the data directory \(directory): \(error.localizedDescription)")
        }
        guard FileManager.default.isWritableFile(atPath: directory),
              FileManager.default.isReadableFile(atPath: directory) else {
            throw RuntimeStartError("the data directory \(directory) is not readable and writable by this user")
        }
        if !configuration.fsync {
            logger.warning("""
                store { fsync: off }: the log is NOT synced to disk; acknowledged writes can be lost \
                if this machine loses power. For experiments only.
                """)
        }
        let options = RingLogOptions(fsync: configuration.fsync ? .on : .off,
                                     segmentBytesMax: configuration.logSegmentBytesMax)
        do {
            return try RingLog(disk: MeasuredDisk(FileDisk(), metrics: metrics), directory: directory + "/log", options: options)
        } catch {
            throw RuntimeStartError("cannot open the log in \(directory)/log: \(error)")
        }
    }

    /// The log's group-commit delay (RingLog/SyncGathering.swift): while busy (the previous
    /// sync covered at least `gatherBusyRecords` records: 64 clients, not 1 or 16), a sync
    /// waits until its oldest record has waited `TOTEMKV_SYNC_GATHER_US` microseconds. Off
    /// by default: at 64 clients it cut fdatasyncs and acks per write by ~30 % but no CPU
    /// per write, and in five of five same-minute pairs 500 µs gave 3-13 % fewer writes/s
    /// than 0 (the added latency costs a closed loop more than the saved syncs give;
    /// Bench/results/all-2026-11-26c.md). Kept for experiments on slower disks.
    static let defaultGatherMicroseconds: UInt64 = 0
    static let gatherBusyRecords = 16

    static func syncGathering(environment: [String: String] = ProcessInfo.processInfo.environment) -> SyncGathering {
        var microseconds = defaultGatherMicroseconds
        if let text = environment["TOTEMKV_SYNC_GATHER_US"], let value = UInt64(text), value <= 100_000 {
            microseconds = value
        }
        return SyncGathering(windowNanoseconds: microseconds * 1000, busyRecords: gatherBusyRecords)
    }

    /// Reads the log, its meta and `ringseq`, and builds the cores as the simulator's `start`
    /// does.
    static func makeCore(_ configuration: NodeRuntimeConfiguration, log: RingLog, logger: Logger) throws -> ReplicatedNode {
        let directory = configuration.dataDirectory
        let entries: [Entry]
        // The newest valid snapshot, when the log was compacted (or a snapshot covers more).
        var store = CMapStateMachine()
        var applied = (index: LogIndex.zero, epoch: Epoch.zero)
        if let snapshots = try? SnapshotStore(directory: directory + "/snapshots") {
            let (loaded, rejected) = (try? snapshots.loadNewest()) ?? (nil, [])
            for r in rejected { logger.error("node \(configuration.nodeID): snapshot \(r.file.path) rejected: \(r.error)") }
            if let loaded, loaded.header.index.next >= log.firstIndex {
                store = CMapStateMachine(state: loaded.state)
                applied = (loaded.header.index, loaded.header.epoch)
                do {
                    try NodeRuntime.resetLog(log, through: LogPosition(index: applied.index, epoch: applied.epoch))
                } catch {
                    throw RuntimeStartError("cannot align the log with snapshot \(applied.index): \(error)")
                }
            }
        }
        if log.firstIndex > applied.index.next {
            throw RuntimeStartError("the log in \(directory)/log starts at \(log.firstIndex) but no valid snapshot covers what comes before it")
        }
        do {
            let from = max(log.firstIndex, applied.index.next)
            let records = log.lastIndex >= from ? try log.read(from: from, through: log.lastIndex) : []
            entries = try records.map { try Entry(index: $0.index, epoch: $0.epoch, payload: $0.payload) }
        } catch {
            throw RuntimeStartError("cannot read the log in \(directory)/log: \(error)")
        }
        let ringSeq = try RingSeqFile.read(directory: directory)
        let meta = log.meta
        if let meta, meta.nodeID != configuration.nodeID {
            throw RuntimeStartError("\(directory) belongs to node \(meta.nodeID), not node \(configuration.nodeID)")
        }
        let recovered = RecoveredState(normalEpoch: meta?.normalEpoch ?? .zero,
                                       commitIndex: min(meta?.commitIndex ?? .zero, log.lastIndex),
                                       appliedIndex: applied.index, appliedEpoch: applied.epoch,
                                       entries: entries, incarnation: UInt32.random(in: 1...UInt32.max))
        logger.info("""
            node \(configuration.nodeID): log \(log.firstIndex)...\(log.lastIndex) (\(log.recovery)), \
            normal epoch \(recovered.normalEpoch), commit \(recovered.commitIndex), ring seq \(ringSeq)
            """)
        // The shell is where randomness comes from: the cores get a seeded generator.
        let random = SeededGenerator(seed: UInt64.random(in: 1...UInt64.max))
        let totem = TotemInstance(nodeID: configuration.nodeID, options: configuration.totem,
                                  persistedRingSeq: ringSeq, random: random,
                                  allowedMembers: configuration.voters.map(\.0))
        let replica = Replica(configuration: ReplicaConfiguration(nodeID: configuration.nodeID,
                                                                  voters: Voters(configuration.voters)),
                              recovered: recovered)
        let quorum = try configuration.resolvedQuorumOptions()
        for warning in quorum.options.warnings { logger.warning("node \(configuration.nodeID): votequorum: \(warning)") }
        return ReplicatedNode(totem: totem, replica: replica, store: store, quorumOptions: quorum.options,
                              expectedVotes: quorum.expectedVotes)
    }
}

/// The ring seq Totem asks to persist (`ringseq`: the decimal number and a newline), written
/// atomically: temp file, fsync, rename, fsync of the directory.
enum RingSeqFile {
    static let name = "ringseq"
    static let bytesMax = 64

    static func read(directory: String) throws -> UInt64 {
        let path = directory + "/" + name
        guard FileManager.default.fileExists(atPath: path) else { return 0 }
        guard let data = FileManager.default.contents(atPath: path), data.count <= bytesMax,
              let text = String(data: data, encoding: .utf8),
              let seq = UInt64(text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw RuntimeStartError("\(path) is not a ring seq (a decimal number): remove it only if this node's ring history can be lost")
        }
        return seq
    }

    static func write(_ seq: UInt64, directory: String) throws {
        let path = directory + "/" + name
        let temp = path + ".tmp"
        let bytes = Array("\(seq)\n".utf8)
        let fd = Foundation.open(temp, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { throw RuntimeStartError("open \(temp): errno \(errno)") }
        let written = bytes.withUnsafeBytes { Foundation.write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd)
        close(fd)
        guard written == bytes.count, synced == 0 else { throw RuntimeStartError("write \(temp): errno \(errno)") }
        guard rename(temp, path) == 0 else { throw RuntimeStartError("rename \(temp): errno \(errno)") }
        let dirFD = Foundation.open(directory, O_RDONLY)
        guard dirFD >= 0 else { throw RuntimeStartError("open \(directory): errno \(errno)") }
        defer { close(dirFD) }
        guard fsync(dirFD) == 0 else { throw RuntimeStartError("fsync \(directory): errno \(errno)") }
    }
}
