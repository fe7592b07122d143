import Basics
import RingLog
import Simulation
import Testing

@Suite("Recovery on open")
struct RecoveryTests {
    static let meta10 = LogMeta(nodeID: NodeID(1), normalEpoch: Epoch(1), voters: [], commitIndex: LogIndex(10))

    /// 20 records of 41 bytes in one segment, synced, with commit index 10 in meta. Without
    /// preallocation (the format before it: the file ends at the last record), so bytes
    /// appended to the file follow the records; every test then opens it with the default
    /// options, which preallocate: old files must keep opening.
    static func prepare(
        _ disk: any Disk, _ dir: String, options: RingLogOptions = RingLogOptions(preallocationBytes: 0)
    ) throws -> (segment: String, offsets: [UInt64]) {
        let log = try RingLog(disk: disk, directory: dir, options: options)
        try log.append(records(1...20))
        try log.sync()
        try log.writeMeta(meta10)
        let offsets = (1...20).map { log.location(of: LogIndex(UInt64($0)))!.offset }
        let segment = log.location(of: LogIndex(1))!.path
        log.close()
        return (segment, offsets)
    }

    @Test(arguments: DiskKind.allCases)
    func tornTailIsCutAndReported(kind: DiskKind) throws {
        try withDisk(kind) { disk, dir in
            let (segment, _) = try Self.prepare(disk, dir)
            let torn = Array(RecordCodec.encode(record(21)).prefix(30))
            try appendBytes(disk, path: segment, torn)
            let log = try RingLog(disk: disk, directory: dir)
            #expect(log.lastIndex == LogIndex(20))
            #expect(try allRecords(log) == records(1...20))
            let cut = try #require(log.recovery.cut)
            #expect(cut.file == segment && cut.index == LogIndex(21))
            #expect(cut.offset == 32 + 20 * 41)
            #expect(cut.bytesRemoved == 30 && cut.reason == "record truncated")
            // The cut is durable and the log goes on from there.
            try log.append(record(21, epoch: 2))
            try log.sync()
            log.close()
            let again = try RingLog(disk: disk, directory: dir)
            #expect(again.recovery.cut == nil)
            #expect(try again.lastRecord() == record(21, epoch: 2))
        }
    }

    /// Zeros after the records (blocks a crash left unwritten, in a file from before
    /// preallocation) read as a preallocated tail: the clean end, kept, and overwritten by
    /// the next append. (Before preallocation this was a cut.)
    @Test(arguments: DiskKind.allCases)
    func zeroFilledTailIsACleanEnd(kind: DiskKind) throws {
        try withDisk(kind) { disk, dir in
            let (segment, offsets) = try Self.prepare(disk, dir)
            try appendBytes(disk, path: segment, [UInt8](repeating: 0, count: 4096))
            let log = try RingLog(disk: disk, directory: dir)
            #expect(log.lastIndex == LogIndex(20))
            #expect(log.recovery.cut == nil)
            #expect(try fileSize(disk, segment) == offsets[19] + 41 + 4096)
            try log.append(record(21, epoch: 2))
            try log.sync()
            #expect(log.location(of: LogIndex(21))?.offset == offsets[19] + 41)
            log.close()
            let again = try RingLog(disk: disk, directory: dir)
            #expect(again.recovery.cut == nil)
            #expect(try allRecords(again) == records(1...20) + [record(21, epoch: 2)])
        }
    }

    @Test(arguments: DiskKind.allCases)
    func corruptRecordAboveTheCommitIndexIsCutThere(kind: DiskKind) throws {
        try withDisk(kind) { disk, dir in
            let (segment, offsets) = try Self.prepare(disk, dir)
            try flipByte(disk, path: segment, offset: offsets[14] + 30)  // in record 15's payload
            let log = try RingLog(disk: disk, directory: dir)
            #expect(log.lastIndex == LogIndex(14))
            #expect(try allRecords(log) == records(1...14))
            let cut = try #require(log.recovery.cut)
            #expect(cut.index == LogIndex(15) && cut.offset == offsets[14] && cut.file == segment)
            #expect(cut.reason == "checksum mismatch")
            #expect(cut.bytesRemoved == 6 * 41)
        }
    }

    /// Below the commit index damage is never a torn tail: opening fails, naming the place.
    @Test(arguments: DiskKind.allCases)
    func corruptRecordBelowTheCommitIndexIsAnError(kind: DiskKind) throws {
        try withDisk(kind) { disk, dir in
            let (segment, offsets) = try Self.prepare(disk, dir)
            try flipByte(disk, path: segment, offset: offsets[4] + 2)  // record 5's length field, now past the end of the file
            #expect(
                throws: RingLogError.corruptRecord(
                    file: segment, offset: offsets[4],
                    reason: "record truncated (index 5 is at or below the commit index 10)")
            ) { try RingLog(disk: disk, directory: dir) }
        }
    }

    @Test(arguments: DiskKind.allCases)
    func damageInAnEarlierSegmentCutsEveryLaterSegment(kind: DiskKind) throws {
        try withDisk(kind) { disk, dir in
            let log = try RingLog(disk: disk, directory: dir, options: smallSegments)
            try log.append(records(1...30))
            try log.sync()
            let damaged = try #require(log.location(of: LogIndex(14)))
            // 41-byte records, 11 per 512-byte segment: 12...22 is damaged, 23...30 is removed.
            let firstAfter = try #require(log.location(of: LogIndex(23))).path
            #expect(firstAfter != damaged.path)
            log.close()
            try flipByte(disk, path: damaged.path, offset: damaged.offset + 12)
            let reopened = try RingLog(disk: disk, directory: dir, options: smallSegments)
            #expect(reopened.lastIndex == LogIndex(13))
            let cut = try #require(reopened.recovery.cut)
            #expect(cut.file == damaged.path && cut.offset == damaged.offset && cut.index == LogIndex(14))
            #expect(cut.segmentsRemoved == 1 && cut.validRecordsRemoved == 8)
            // One sync for all 30: only the last segment, active at the sync, got a zero
            // tail (to the segment size); it is removed with the file.
            #expect(cut.bytesRemoved == UInt64(9 * 41 + 512))
            #expect(try !disk.exists(String(firstAfter.split(separator: "/").last!), in: dir + "/log"))
        }
    }

    @Test(arguments: DiskKind.allCases)
    func missingSegmentBelowTheCommitIndexIsAnError(kind: DiskKind) throws {
        try withDisk(kind) { disk, dir in
            let log = try RingLog(disk: disk, directory: dir, options: smallSegments)
            try log.append(records(1...40))
            try log.sync()
            try log.writeMeta(LogMeta(nodeID: NodeID(1), normalEpoch: Epoch(1), voters: [], commitIndex: LogIndex(40)))
            let second = try #require(log.location(of: LogIndex(12))).path
            log.close()
            try disk.remove(second)
            #expect(throws: RingLogError.self) { try RingLog(disk: disk, directory: dir, options: smallSegments) }
            do {
                _ = try RingLog(disk: disk, directory: dir, options: smallSegments)
            } catch let RingLogError.corruptRecord(file, offset, reason) {
                #expect(file.hasSuffix(".seg") && file != second && offset == 0)
                #expect(reason.contains("expected"))
            }
        }
    }

    @Test(arguments: DiskKind.allCases)
    func damagedSegmentHeaderBelowTheCommitIndexIsAnError(kind: DiskKind) throws {
        try withDisk(kind) { disk, dir in
            let (segment, _) = try Self.prepare(disk, dir)
            try flipByte(disk, path: segment, offset: 9)
            #expect(
                throws: RingLogError.corruptFile(
                    path: segment,
                    reason: "segment header checksum mismatch (index 1 is at or below the commit index 10)")
            ) { try RingLog(disk: disk, directory: dir) }
        }
    }

    /// Random bytes where a segment should be never crash recovery.
    @Test func garbageSegmentFilesNeverCrash() throws {
        var g = SeededGenerator(seed: 31)
        for seed in 0..<200 {
            let disk = SimulatedDisk(seed: UInt64(seed))
            let log = try RingLog(disk: disk, directory: "/n", options: smallSegments)
            try log.append(records(1...20))
            try log.sync()
            log.close()
            let path = "/n/log/00000000000000000012.seg"
            let size = try #require(disk.contents(of: path)).count
            for _ in 0..<(1 + Int(g.next() % 4)) {
                let at = Int(g.next() % UInt64(size + 8))
                disk.overwrite(in: path, at: at, with: (0..<Int(1 + g.next() % 40)).map { _ in UInt8(truncatingIfNeeded: g.next()) })
            }
            let reopened = try RingLog(disk: disk, directory: "/n", options: smallSegments)
            #expect(reopened.lastIndex >= LogIndex(11) && reopened.lastIndex <= LogIndex(20))
            #expect(try allRecords(reopened) == records(1...reopened.lastIndex.rawValue))
        }
    }

    /// A damaged record read back after recovery is reported, not skipped.
    @Test func corruptionFoundByAReadNamesTheFile() throws {
        let disk = SimulatedDisk(seed: 3)
        let log = try RingLog(disk: disk, directory: "/n")
        try log.append(records(1...5))
        try log.sync()
        let place = try #require(log.location(of: LogIndex(3)))
        disk.flipBit(in: place.path, byteOffset: Int(place.offset) + 27, bit: 3)
        #expect(throws: RingLogError.corruptRecord(file: place.path, offset: place.offset, reason: "checksum mismatch")) {
            try log.read(from: LogIndex(1), through: LogIndex(5))
        }
    }
}


@Suite("Recovery: missing tail")
struct MissingTailTests {
    /// A lost last segment below the commit index is an error, not a shorter log.
    @Test(arguments: DiskKind.allCases)
    func logEndingBelowTheCommitIndexIsAnError(kind: DiskKind) throws {
        try withDisk(kind) { disk, dir in
            let log = try RingLog(disk: disk, directory: dir, options: smallSegments)
            try log.append(records(1...30))
            try log.sync()
            try log.writeMeta(LogMeta(nodeID: NodeID(1), normalEpoch: Epoch(1), voters: [], commitIndex: LogIndex(30)))
            let last = try #require(log.location(of: LogIndex(30))).path
            log.close()
            try disk.remove(last)
            #expect(
                throws: RingLogError.logTooShort(
                    directory: dir + "/log", lastIndex: LogIndex(22), commitIndex: LogIndex(30))
            ) { try RingLog(disk: disk, directory: dir, options: smallSegments) }
        }
    }
}
