import Basics
import RingLog
import Simulation
import Testing

/// Truncation, compaction and the meta replacement, crashed at every one of their disk
/// operations in turn, under every crash mode: the recovered log is the state before or
/// after the operation (never a mix that loses data or resurrects a truncated entry).
@Suite("Crash at every step")
struct CrashAtEveryStepTests {
    typealias Operation = (RingLog, inout LogModel) throws -> Void

    static let meta = LogMeta(
        nodeID: NodeID(4), normalEpoch: Epoch(2), voters: [.init(nodeID: NodeID(4), votes: 1)],
        commitIndex: LogIndex(12))

    /// A log of 40 records in several small segments, synced, commit index 12 in meta, and
    /// five more records appended but not synced.
    static func prepare(_ disk: SimulatedDisk) throws -> (RingLog, LogModel) {
        let log = try RingLog(disk: disk, directory: "/node", options: smallSegments)
        var model = LogModel()
        model.records = records(1...20, epoch: 1, payloadBytes: 30) + records(21...40, epoch: 2, payloadBytes: 30)
        try log.append(model.records)
        try log.sync()
        try log.writeMeta(meta)
        model.durable = LogIndex(40)
        model.meta = meta
        let unsynced = records(41...45, epoch: 2, payloadBytes: 30)
        try log.append(unsynced)
        model.records += unsynced
        return (log, model)
    }

    /// Runs `operation` with the power failing after 0, 1, 2, ... disk operations until it
    /// completes, crashing in each crash mode, and checks each recovered log.
    static func crashAtEveryStep(_ name: String, _ operation: Operation) throws {
        for mode in SimulatedDisk.CrashMode.allCases {
            var completed = false
            var step = 0
            while !completed && step < 100 {
                let disk = SimulatedDisk(seed: UInt64(step * 7 + 1))
                let (log, before) = try Self.prepare(disk)
                var after = before
                disk.operationsUntilPowerFailure = step
                do {
                    try operation(log, &after)
                    completed = true
                } catch RingLogError.io {
                    #expect(log.failure != nil)
                }
                disk.crash(mode)
                let reopened = try RingLog(disk: disk, directory: "/node", options: smallSegments)
                _ = try LogModel.recovered(reopened, candidates: [before, after], context: "\(name) step \(step) \(mode)")
                step += 1
            }
            #expect(completed, "\(name) never completed")
        }
    }

    @Test func truncateIntoAnEarlierSegment() throws {
        try Self.crashAtEveryStep("truncate") { log, model in
            model.truncate(after: LogIndex(15))
            try log.truncate(after: LogIndex(15))
        }
    }

    @Test func truncateThenAppendAndSync() throws {
        try Self.crashAtEveryStep("truncate+append") { log, model in
            model.truncate(after: LogIndex(30))
            try log.truncate(after: LogIndex(30))
            let replacement = records(31...33, epoch: 3, payloadBytes: 10)
            model.records += replacement
            try log.append(replacement)
            try log.sync()
            model.durable = LogIndex(33)
        }
    }

    @Test func compactBelowTheLog() throws {
        try Self.crashAtEveryStep("compact") { log, model in
            model.boundary = LogPosition(index: LogIndex(27), epoch: Epoch(2))
            try log.compact(through: model.boundary)
        }
    }

    @Test func compactPastTheEnd() throws {
        try Self.crashAtEveryStep("install") { log, model in
            while model.last < LogIndex(60) { model.records.append(record(model.last.rawValue + 1, type: 255)) }
            model.boundary = LogPosition(index: LogIndex(60), epoch: Epoch(5))
            model.durable = LogIndex(60)
            try log.compact(through: model.boundary)
        }
    }

    @Test func syncAcrossNewSegments() throws {
        try Self.crashAtEveryStep("sync") { log, model in
            let more = records(46...70, epoch: 3, payloadBytes: 30)
            model.records += more
            try log.append(more)
            try log.sync()
            model.durable = LogIndex(70)
        }
    }

    @Test func replaceMeta() throws {
        try Self.crashAtEveryStep("meta") { log, model in
            let newMeta = LogMeta(
                nodeID: NodeID(4), normalEpoch: Epoch(3),
                voters: [.init(nodeID: NodeID(4), votes: 1), .init(nodeID: NodeID(5), votes: 1)],
                commitIndex: LogIndex(40))
            model.meta = newMeta
            try log.writeMeta(newMeta)
        }
    }

    /// Recovery itself, crashed at every step of cutting a torn tail, still converges.
    @Test func recoveryCrashedAtEveryStep() throws {
        for step in 0..<30 {
            let disk = SimulatedDisk(seed: UInt64(step))
            let (log, before) = try Self.prepare(disk)
            try log.sync()
            let place = try #require(log.location(of: LogIndex(22)))
            log.close()
            disk.flipBit(in: place.path, byteOffset: Int(place.offset) + 30)
            disk.operationsUntilPowerFailure = step
            if (try? RingLog(disk: disk, directory: "/node", options: smallSegments)) == nil {
                disk.crash(.random)
            }
            disk.operationsUntilPowerFailure = nil
            let reopened = try RingLog(disk: disk, directory: "/node", options: smallSegments)
            #expect(reopened.lastIndex == LogIndex(21))
            var expected = before
            expected.durable = LogIndex(21)
            _ = try LogModel.recovered(reopened, candidates: [expected], context: "recovery step \(step)")
        }
    }
}
