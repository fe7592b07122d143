import Basics
import RingLog
import Simulation
import Testing

@Suite("RingLog on both disks")
struct RingLogTests {
    @Test(arguments: DiskKind.allCases)
    func appendReadAndReopen(kind: DiskKind) throws {
        try withDisk(kind) { disk, dir in
            let written = records(1...50, epoch: 1) + records(51...100, epoch: 2)
            do {
                let log = try RingLog(disk: disk, directory: dir)
                #expect(log.firstIndex == LogIndex(1) && log.lastIndex == .zero && log.durableIndex == .zero)
                #expect(try log.lastRecord() == nil)
                try log.append(Array(written[0..<30]))
                try log.append(Array(written[30..<100]))
                #expect(log.lastIndex == LogIndex(100))
                #expect(log.durableIndex == .zero)
                #expect(try log.sync() == LogIndex(100))
                #expect(log.durableIndex == LogIndex(100))
                #expect(try allRecords(log) == written)
                #expect(try log.read(from: LogIndex(37), through: LogIndex(63)) == Array(written[36..<63]))
                #expect(try log.lastRecord() == written.last)
                #expect(log.epoch(of: LogIndex(50)) == Epoch(1))
                #expect(log.epoch(of: LogIndex(51)) == Epoch(2))
                #expect(log.epoch(of: .zero) == Epoch.zero)
                #expect(log.epoch(of: LogIndex(101)) == nil)
                #expect(log.lastPosition == LogPosition(index: LogIndex(100), epoch: Epoch(2)))
                log.close()
            }
            let reopened = try RingLog(disk: disk, directory: dir)
            #expect(reopened.recovery.cut == nil)
            #expect(reopened.firstIndex == LogIndex(1) && reopened.lastIndex == LogIndex(100))
            #expect(reopened.durableIndex == LogIndex(100))
            #expect(try allRecords(reopened) == written)
            #expect(reopened.epoch(of: LogIndex(77)) == Epoch(2))
        }
    }

    @Test(arguments: DiskKind.allCases)
    func segmentsAreNamedByTheirFirstIndex(kind: DiskKind) throws {
        try withDisk(kind) { disk, dir in
            let written = records(1...60, payloadBytes: 40)
            let log = try RingLog(disk: disk, directory: dir, options: smallSegments)
            try log.append(written)
            try log.sync()
            let names = try segmentNames(disk, dir)
            #expect(names.count > 5)
            #expect(names.first == "00000000000000000001.seg")
            // 32-byte header + 65-byte records in 512-byte segments: 7 records per segment.
            #expect(names[1] == "00000000000000000008.seg")
            #expect(try log.read(from: LogIndex(5), through: LogIndex(30)) == Array(written[4..<30]))
            log.close()
            let reopened = try RingLog(disk: disk, directory: dir, options: smallSegments)
            #expect(try allRecords(reopened) == written)
            #expect(reopened.recovery.segmentCount == names.count)
        }
    }

    @Test(arguments: DiskKind.allCases)
    func boundedReadsStopAtTheByteBudget(kind: DiskKind) throws {
        try withDisk(kind) { disk, dir in
            let log = try RingLog(disk: disk, directory: dir, options: smallSegments)
            try log.append(records(1...30))  // 41 bytes each, across three segments
            try log.sync()
            try log.append(records(31...33))  // partly unflushed
            #expect(try log.read(from: LogIndex(5), through: LogIndex(30), bytesMax: 41 * 10) == records(5...14))
            #expect(try log.read(from: LogIndex(5), through: LogIndex(30), bytesMax: 41 * 10 + 40) == records(5...14))
            #expect(try log.read(from: LogIndex(9), through: LogIndex(33), bytesMax: 1) == records(9...9))
            #expect(try log.read(from: LogIndex(20), through: LogIndex(33), bytesMax: 1 << 20) == records(20...33))
        }
    }

    @Test(arguments: DiskKind.allCases)
    func unsyncedRecordsAreReadableButNotDurable(kind: DiskKind) throws {
        try withDisk(kind) { disk, dir in
            let log = try RingLog(disk: disk, directory: dir)
            try log.append(records(1...3))
            #expect(try log.read(from: LogIndex(2), through: LogIndex(3)) == records(2...3))
            #expect(log.durableIndex == .zero)
            try log.sync()
            try log.append(records(4...4))
            #expect(log.durableIndex == LogIndex(3))
            #expect(log.lastIndex == LogIndex(4))
        }
    }

    @Test(arguments: DiskKind.allCases)
    func truncateRemovesTheSuffixDurably(kind: DiskKind) throws {
        try withDisk(kind) { disk, dir in
            let log = try RingLog(disk: disk, directory: dir, options: smallSegments)
            try log.append(records(1...60, payloadBytes: 40))
            try log.sync()
            try log.truncate(after: LogIndex(22))
            #expect(log.lastIndex == LogIndex(22) && log.durableIndex == LogIndex(22))
            #expect(log.epoch(of: LogIndex(23)) == nil)
            let replacement = records(23...30, epoch: 3, payloadBytes: 5)
            try log.append(replacement)
            try log.sync()
            let expected = records(1...22, payloadBytes: 40) + replacement
            #expect(try allRecords(log) == expected)
            log.close()
            let reopened = try RingLog(disk: disk, directory: dir, options: smallSegments)
            #expect(reopened.recovery.cut == nil)
            #expect(try allRecords(reopened) == expected)
            #expect(reopened.epoch(of: LogIndex(23)) == Epoch(3))
        }
    }

    /// Truncating right before a segment's first index keeps that segment, emptied.
    @Test(arguments: DiskKind.allCases)
    func truncateAtASegmentBoundary(kind: DiskKind) throws {
        try withDisk(kind) { disk, dir in
            let log = try RingLog(disk: disk, directory: dir, options: smallSegments)
            try log.append(records(1...30, payloadBytes: 40))
            try log.sync()
            try log.truncate(after: LogIndex(7))
            #expect(try segmentNames(disk, dir) == ["00000000000000000001.seg", "00000000000000000008.seg"])
            try log.append(records(8...9, epoch: 2))
            try log.sync()
            log.close()
            let reopened = try RingLog(disk: disk, directory: dir, options: smallSegments)
            #expect(try allRecords(reopened) == records(1...7, payloadBytes: 40) + records(8...9, epoch: 2))
            try reopened.truncate(after: .zero)
            #expect(reopened.lastIndex == .zero)
            #expect(try allRecords(reopened) == [])
            reopened.close()
            #expect(try allRecords(try RingLog(disk: disk, directory: dir, options: smallSegments)) == [])
        }
    }

    @Test(arguments: DiskKind.allCases)
    func compactionDeletesWholeSegmentsBelowTheSnapshot(kind: DiskKind) throws {
        try withDisk(kind) { disk, dir in
            let written = records(1...30, epoch: 4, payloadBytes: 40) + records(31...60, epoch: 5, payloadBytes: 40)
            let log = try RingLog(disk: disk, directory: dir, options: smallSegments)
            try log.append(written)
            try log.sync()
            try log.compact(through: LogPosition(index: LogIndex(33), epoch: Epoch(5)))
            #expect(log.firstIndex == LogIndex(34))
            #expect(log.boundary == LogPosition(index: LogIndex(33), epoch: Epoch(5)))
            #expect(log.epoch(of: LogIndex(33)) == Epoch(5))
            #expect(log.epoch(of: LogIndex(32)) == nil)
            #expect(throws: RingLogError.compacted(index: LogIndex(20), firstIndex: LogIndex(34))) {
                try log.read(from: LogIndex(20), through: LogIndex(40))
            }
            // Segments 1, 8, 15, 22 hold only entries <= 28; segment 29 holds 29...35 and stays.
            #expect(try segmentNames(disk, dir).first == "00000000000000000029.seg")
            #expect(try allRecords(log) == Array(written[33...]))
            try log.append(records(61...62, epoch: 5))
            try log.sync()
            log.close()
            let reopened = try RingLog(disk: disk, directory: dir, options: smallSegments)
            #expect(reopened.firstIndex == LogIndex(34))
            #expect(reopened.recovery.boundary == LogPosition(index: LogIndex(33), epoch: Epoch(5)))
            #expect(reopened.epoch(of: LogIndex(33)) == Epoch(5))
            #expect(try allRecords(reopened) == Array(written[33...]) + records(61...62, epoch: 5))
        }
    }

    /// A snapshot installed from a peer past the log's end empties the log.
    @Test(arguments: DiskKind.allCases)
    func compactionPastTheEndEmptiesTheLog(kind: DiskKind) throws {
        try withDisk(kind) { disk, dir in
            let log = try RingLog(disk: disk, directory: dir)
            try log.append(records(1...10))
            try log.sync()
            try log.compact(through: LogPosition(index: LogIndex(100), epoch: Epoch(6)))
            #expect(log.firstIndex == LogIndex(101) && log.lastIndex == LogIndex(100))
            #expect(log.durableIndex == LogIndex(100))
            #expect(try segmentNames(disk, dir) == [])
            #expect(log.lastPosition == LogPosition(index: LogIndex(100), epoch: Epoch(6)))
            try log.append(record(101, epoch: 7))
            try log.sync()
            log.close()
            let reopened = try RingLog(disk: disk, directory: dir)
            #expect(reopened.firstIndex == LogIndex(101) && reopened.lastIndex == LogIndex(101))
            #expect(try allRecords(reopened) == [record(101, epoch: 7)])
            #expect(reopened.epoch(of: LogIndex(100)) == Epoch(6))
        }
    }

    @Test(arguments: DiskKind.allCases)
    func metaIsWrittenAndReadBack(kind: DiskKind) throws {
        try withDisk(kind) { disk, dir in
            let meta = LogMeta(
                nodeID: NodeID(2), normalEpoch: Epoch(9),
                voters: [.init(nodeID: NodeID(1), votes: 1), .init(nodeID: NodeID(2), votes: 1)],
                commitIndex: LogIndex(4))
            let log = try RingLog(disk: disk, directory: dir)
            #expect(log.meta == nil)
            try log.append(records(1...5))
            try log.sync()
            try log.writeMeta(meta)
            log.close()
            #expect(try disk.list(directory: dir) == ["log", "meta"] || kind == .simulated)
            #expect(try RingLog(disk: disk, directory: dir).meta == meta)
        }
    }

    @Test(arguments: DiskKind.allCases)
    func corruptMetaIsAClearError(kind: DiskKind) throws {
        try withDisk(kind) { disk, dir in
            let log = try RingLog(disk: disk, directory: dir)
            try log.writeMeta(LogMeta(nodeID: NodeID(1), normalEpoch: Epoch(1), voters: [], commitIndex: .zero))
            log.close()
            try flipByte(disk, path: dir + "/meta", offset: 10)
            #expect(throws: RingLogError.corruptFile(path: dir + "/meta", reason: "checksum mismatch")) {
                try RingLog(disk: disk, directory: dir)
            }
        }
    }

    @Test(arguments: DiskKind.allCases)
    func oversizedPayloadIsRefusedWithoutFailingTheLog(kind: DiskKind) throws {
        try withDisk(kind) { disk, dir in
            let log = try RingLog(disk: disk, directory: dir, options: RingLogOptions(payloadBytesMax: 100))
            #expect(throws: RingLogError.recordTooLarge(index: LogIndex(2), payloadBytes: 101, limit: 100)) {
                try log.append([record(1, payloadBytes: 100), record(2, payloadBytes: 101)])
            }
            #expect(log.lastIndex == .zero && log.failure == nil)
            try log.append(record(1, payloadBytes: 100))
            #expect(try log.sync() == LogIndex(1))
        }
    }

    /// One sync covers any number of appends: one write and one fdatasync.
    @Test func groupCommitIssuesOneWriteAndOneSyncPerBatch() throws {
        let disk = SimulatedDisk(seed: 5)
        let log = try RingLog(disk: disk, directory: "/node")
        try log.append(records(1...1))
        try log.sync()
        let before = disk.operationCount
        for i in 2...65 { try log.append(record(UInt64(i))) }
        #expect(disk.operationCount == before)
        #expect(try log.sync() == LogIndex(65))
        #expect(disk.operationCount == before + 2)
        #expect(try log.sync() == LogIndex(65))
        #expect(disk.operationCount == before + 2)
    }

    /// `fsync: .off` advances the durable index without syncing, and says so.
    @Test func fsyncOffIsNotDurable() throws {
        let disk = SimulatedDisk(seed: 6)
        let options = RingLogOptions(fsync: .off)
        let log = try RingLog(disk: disk, directory: "/node", options: options)
        #expect(!log.isDurabilityReal)
        try log.append(records(1...10))
        #expect(try log.sync() == LogIndex(10))
        disk.crash(.loseUnsynced)
        let reopened = try RingLog(disk: disk, directory: "/node", options: options)
        #expect(reopened.lastIndex == .zero)
        #expect(try RingLog(disk: SimulatedDisk(seed: 1), directory: "/n").isDurabilityReal)
    }
}
