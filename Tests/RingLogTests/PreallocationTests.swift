import Basics
import RingLog
import Simulation
import Testing

/// Preallocated segments (RingLog+Preallocation.swift): the file ends in a tail of zeros
/// after the records, recovery reads that tail as the end, and a torn record or garbage is
/// still cut exactly as without it.
@Suite("Preallocation")
struct PreallocationTests {
    /// Zero tails written 1 KiB at a time; 41-byte records, so 20 of them end at 852.
    static let kib = RingLogOptions(preallocationBytes: 1024)
    static let end20: UInt64 = 32 + 20 * 41
    static let meta10 = LogMeta(nodeID: NodeID(1), normalEpoch: Epoch(1), voters: [], commitIndex: LogIndex(10))

    /// 20 records synced, commit index 10 in meta; the segment's path.
    static func prepare(_ disk: any Disk, _ dir: String, options: RingLogOptions = kib) throws -> String {
        let log = try RingLog(disk: disk, directory: dir, options: options)
        try log.append(records(1...20))
        try log.sync()
        try log.writeMeta(meta10)
        let path = try #require(log.location(of: LogIndex(1))).path
        log.close()
        return path
    }

    @Test(arguments: DiskKind.allCases)
    func preallocatedTailIsACleanEnd(kind: DiskKind) throws {
        try withDisk(kind) { disk, dir in
            let segment = try Self.prepare(disk, dir)
            #expect(try fileSize(disk, segment) == 1024)
            #expect(try readBytes(disk, segment, from: Self.end20).allSatisfy { $0 == 0 })
            let log = try RingLog(disk: disk, directory: dir, options: Self.kib)
            #expect(log.lastIndex == LogIndex(20) && log.recovery.cut == nil)
            #expect(try fileSize(disk, segment) == 1024)  // recovery keeps the tail
            // Records inside the tail overwrite it: the file keeps its size.
            try log.append(record(21))
            try log.sync()
            #expect(log.location(of: LogIndex(21))?.offset == Self.end20)
            #expect(try fileSize(disk, segment) == 1024)
            // Past it, a new tail is zeroed to the next KiB.
            try log.append(records(22...30))
            try log.sync()
            #expect(try fileSize(disk, segment) == 2048)
            log.close()
            let again = try RingLog(disk: disk, directory: dir, options: Self.kib)
            #expect(again.recovery.cut == nil)
            #expect(try allRecords(again) == records(1...30))
        }
    }

    /// A record torn in the tail: its bytes, then zeros. The zeros after it do not make it
    /// a clean end: the record fails its checksum and the log is cut there.
    @Test(arguments: DiskKind.allCases)
    func tornRecordFollowedByZerosIsCut(kind: DiskKind) throws {
        try withDisk(kind) { disk, dir in
            let segment = try Self.prepare(disk, dir)
            try writeBytes(disk, segment, at: Self.end20, Array(RecordCodec.encode(record(21)).prefix(30)))
            #expect(try fileSize(disk, segment) == 1024)
            let log = try RingLog(disk: disk, directory: dir, options: Self.kib)
            #expect(log.lastIndex == LogIndex(20))
            #expect(try allRecords(log) == records(1...20))
            let cut = try #require(log.recovery.cut)
            #expect(cut.file == segment && cut.index == LogIndex(21) && cut.offset == Self.end20)
            #expect(cut.reason == "checksum mismatch" && cut.bytesRemoved == 1024 - Self.end20)
            #expect(try fileSize(disk, segment) == Self.end20)
            // The log goes on from the cut and zeros a new tail.
            try log.append(record(21, epoch: 2))
            try log.sync()
            #expect(try fileSize(disk, segment) == 1024)
            log.close()
            let again = try RingLog(disk: disk, directory: dir, options: Self.kib)
            #expect(again.recovery.cut == nil)
            #expect(try again.lastRecord() == record(21, epoch: 2))
        }
    }

    /// Zeros, then something else: not a clean end (a torn write whose first page was lost,
    /// or damage), so the log is cut where the zeros start, whatever the garbage looks like.
    @Test(arguments: DiskKind.allCases)
    func garbageAfterZerosIsCut(kind: DiskKind) throws {
        for (at, garbage) in [(1000 as UInt64, [0x11 as UInt8, 0, 0, 0, 0x22]), (1023, [1])] {
            try withDisk(kind) { disk, dir in
                let segment = try Self.prepare(disk, dir)
                try writeBytes(disk, segment, at: at, garbage)
                let log = try RingLog(disk: disk, directory: dir, options: Self.kib)
                #expect(try allRecords(log) == records(1...20))
                let cut = try #require(log.recovery.cut)
                #expect(cut.index == LogIndex(21) && cut.offset == Self.end20 && cut.reason == "zero length field")
                #expect(cut.bytesRemoved == 1024 - Self.end20)
            }
        }
        // A whole valid record after a run of zeros is garbage too: records are back to back.
        try withDisk(kind) { disk, dir in
            let segment = try Self.prepare(disk, dir)
            try writeBytes(disk, segment, at: Self.end20 + 41, RecordCodec.encode(record(22)))
            let log = try RingLog(disk: disk, directory: dir, options: Self.kib)
            #expect(log.lastIndex == LogIndex(20) && log.recovery.cut?.index == LogIndex(21))
        }
    }

    /// A segment written by the format before preallocation, byte by byte (header, then
    /// records, the file ending at the last one), opens; appending then gives it a tail.
    @Test(arguments: DiskKind.allCases)
    func fileFromTheOldFormatOpens(kind: DiskKind) throws {
        try withDisk(kind) { disk, dir in
            try disk.createDirectory(dir)
            try disk.createDirectory(dir + "/log")
            let path = dir + "/log/00000000000000000001.seg"
            var bytes = oldFormatHeader(firstIndex: 1)
            for r in records(1...5) { RecordCodec.encode(r, into: &bytes) }
            let handle = try disk.open(path, mode: .createOrTruncate)
            try disk.write(handle, at: 0, bytes)
            try disk.sync(handle)
            disk.close(handle)
            try disk.syncDirectory(dir + "/log")

            let log = try RingLog(disk: disk, directory: dir, options: Self.kib)
            #expect(try allRecords(log) == records(1...5) && log.recovery.cut == nil)
            #expect(try fileSize(disk, path) == UInt64(bytes.count))  // opening writes nothing
            try log.append(records(6...8))
            try log.sync()
            #expect(log.location(of: LogIndex(6))?.offset == UInt64(bytes.count))
            #expect(try fileSize(disk, path) == 1024)
            log.close()
            // Read back by a log that does not preallocate, too.
            let plain = try RingLog(disk: disk, directory: dir, options: RingLogOptions(preallocationBytes: 0))
            #expect(try allRecords(plain) == records(1...8) && plain.recovery.cut == nil)
        }
    }

    /// Sealed segments keep their tails, which stop at the segment size; the log reads
    /// across them and reopens whole.
    @Test(arguments: DiskKind.allCases)
    func segmentRolloverWithPreallocation(kind: DiskKind) throws {
        try withDisk(kind) { disk, dir in
            let options = RingLogOptions(segmentBytesMax: 512, writeBufferBytesMax: 256, preallocationBytes: 128)
            let log = try RingLog(disk: disk, directory: dir, options: options)
            for k in stride(from: 1 as UInt64, through: 60, by: 3) {
                try log.append(records(k...(k + 2)))
                try log.sync()
            }
            let names = try segmentNames(disk, dir)
            #expect(names.count == 6)  // 11 records of 41 bytes per 512-byte segment
            for name in names.dropLast() {
                let path = dir + "/log/" + name
                #expect(try fileSize(disk, path) == 512)
                #expect(try readBytes(disk, path, from: 32 + 11 * 41).allSatisfy { $0 == 0 })
            }
            let last = dir + "/log/" + names[names.count - 1]
            #expect(try fileSize(disk, last) == 256)  // 5 records end at 237: zeroed to 2 x 128
            #expect(try allRecords(log) == records(1...60))
            log.close()
            let again = try RingLog(disk: disk, directory: dir, options: options)
            #expect(again.recovery.cut == nil && again.recovery.segmentCount == 6)
            #expect(try allRecords(again) == records(1...60))
        }
    }

    /// A record that alone fills a segment gets no tail (the tail never passes the
    /// segment size) and the next segment starts one.
    @Test func noTailPastTheSegmentSize() throws {
        let disk = SimulatedDisk(seed: 5)
        let log = try RingLog(disk: disk, directory: "/n", options: RingLogOptions(segmentBytesMax: 512, preallocationBytes: 128))
        try log.append([record(1, payloadBytes: 600), record(2)])
        try log.sync()
        let first = try #require(log.location(of: LogIndex(1))).path
        let second = try #require(log.location(of: LogIndex(2))).path
        #expect(first != second)
        #expect(disk.contents(of: first)?.count == 32 + 25 + 600)
        #expect(disk.contents(of: second)?.count == 128)
    }

    /// A large write (a catch-up batch) just extends the file: zeros ahead of it would
    /// double its bytes for one saved inode write. The next small write zeros a tail.
    @Test func largeWritesGetNoTail() throws {
        let disk = SimulatedDisk(seed: 6)
        let log = try RingLog(disk: disk, directory: "/n", options: RingLogOptions(preallocationBytes: 256 << 10))
        try log.append(records(1...2000, payloadBytes: 100))  // 250 KB in one write
        try log.sync()
        let path = try #require(log.location(of: LogIndex(1))).path
        let end = 32 + 2000 * 125
        #expect(disk.contents(of: path)?.count == end)
        #expect(try log.preallocateAhead() == false)  // nor zeros ahead of time
        try log.append(record(2001, payloadBytes: 100))
        try log.sync()
        #expect(disk.contents(of: path)?.count == 256 << 10)
        log.close()
        let again = try RingLog(disk: disk, directory: "/n")
        #expect(again.lastIndex == LogIndex(2001) && again.recovery.cut == nil)
    }

    @Test(arguments: DiskKind.allCases)
    func truncationOnPreallocatedFiles(kind: DiskKind) throws {
        try withDisk(kind) { disk, dir in
            let options = RingLogOptions(segmentBytesMax: 512, writeBufferBytesMax: 256, preallocationBytes: 128)
            let log = try RingLog(disk: disk, directory: dir, options: options)
            try log.append(records(1...40))
            try log.sync()
            // Inside the last segment, then into an earlier one (sealed, with a full tail).
            try log.truncate(after: LogIndex(38))
            let last = try #require(log.location(of: LogIndex(38)))
            #expect(try fileSize(disk, last.path) == last.offset + 41)  // cut with its tail
            try log.truncate(after: LogIndex(15))
            let held = try #require(log.location(of: LogIndex(15)))
            #expect(try fileSize(disk, held.path) == held.offset + 41)
            try log.append(records(16...30, epoch: 2))
            try log.sync()
            let expected = records(1...15) + records(16...30, epoch: 2)
            #expect(try allRecords(log) == expected)
            log.close()
            let again = try RingLog(disk: disk, directory: dir, options: options)
            #expect(again.recovery.cut == nil)
            #expect(try allRecords(again) == expected)
        }
    }

    @Test(arguments: DiskKind.allCases)
    func compactionOnPreallocatedFiles(kind: DiskKind) throws {
        try withDisk(kind) { disk, dir in
            let options = RingLogOptions(segmentBytesMax: 512, writeBufferBytesMax: 256, preallocationBytes: 128)
            let log = try RingLog(disk: disk, directory: dir, options: options)
            try log.append(records(1...40))
            try log.sync()
            try log.compact(through: LogPosition(index: LogIndex(25), epoch: Epoch(1)))
            #expect(log.firstIndex == LogIndex(26))
            try log.append(records(41...50))
            try log.sync()
            log.close()
            var again = try RingLog(disk: disk, directory: dir, options: options)
            #expect(again.recovery.cut == nil && again.firstIndex == LogIndex(26))
            #expect(try allRecords(again) == records(26...50))
            // A snapshot past the end empties the log; the next segment gets its own tail.
            try again.compact(through: LogPosition(index: LogIndex(60), epoch: Epoch(3)))
            try again.append(records(61...62, epoch: 3))
            try again.sync()
            let path = try #require(again.location(of: LogIndex(61))).path
            #expect(try fileSize(disk, path) == 128)
            again.close()
            again = try RingLog(disk: disk, directory: dir, options: options)
            #expect(try allRecords(again) == records(61...62, epoch: 3) && again.recovery.cut == nil)
        }
    }

    /// `preallocateAhead` zeros and syncs the next step when less than half of one is
    /// left, and only then; records appended afterwards leave the file size alone.
    @Test func preallocateAheadExtendsWhenLow() throws {
        let disk = SimulatedDisk(seed: 9)
        let log = try RingLog(disk: disk, directory: "/n", options: Self.kib)
        try log.append(records(1...20))
        #expect(try log.preallocateAhead() == false)  // records are buffered
        try log.sync()
        let path = try #require(log.location(of: LogIndex(1))).path
        #expect(disk.contents(of: path)?.count == 1024)
        #expect(try log.preallocateAhead() == true)  // 172 bytes left of 1024
        #expect(disk.contents(of: path)?.count == 2048)
        #expect(try log.preallocateAhead() == false)
        // Synced: a crash that loses everything unsynced keeps the zeros.
        disk.crash(.loseUnsynced)
        var reopened = try RingLog(disk: disk, directory: "/n", options: Self.kib)
        #expect(disk.contents(of: path)?.count == 2048 && reopened.lastIndex == LogIndex(20))
        try reopened.append(records(21...40))
        try reopened.sync()
        #expect(disk.contents(of: path)?.count == 2048)
        reopened.close()
        reopened = try RingLog(disk: disk, directory: "/n", options: Self.kib)
        #expect(try allRecords(reopened) == records(1...40))
        // Without preallocation it never writes.
        let plain = try RingLog(disk: SimulatedDisk(seed: 9), directory: "/m", options: RingLogOptions(preallocationBytes: 0))
        try plain.append(records(1...3))
        try plain.sync()
        #expect(try plain.preallocateAhead() == false)
    }

    /// `fsync: .off` gains nothing from zeros written ahead, and writes none.
    @Test func noTailWithoutFsync() throws {
        let disk = SimulatedDisk(seed: 4)
        let log = try RingLog(disk: disk, directory: "/n", options: RingLogOptions(fsync: .off))
        try log.append(records(1...20))
        try log.sync()
        let path = try #require(log.location(of: LogIndex(1))).path
        #expect(disk.contents(of: path)?.count == Int(Self.end20))
    }

    /// The power fails at every step of writing zeros ahead (idle) and of a write that
    /// passes the tail (records, then new zeros, then the sync), in every crash mode: the
    /// recovered log holds every synced record, only records that were written, and is
    /// never cut for a zero tail.
    @Test func crashBetweenExtensionAndWrite() throws {
        for mode in SimulatedDisk.CrashMode.allCases {
            for step in 0..<8 {
                let disk = SimulatedDisk(seed: UInt64(step * 13 + 1))
                let log = try RingLog(disk: disk, directory: "/n", options: Self.kib)
                try log.append(records(1...20))
                try log.sync()
                disk.operationsUntilPowerFailure = step
                var durable = LogIndex(20)
                do {
                    try log.preallocateAhead()  // zeros 1024..<2048, sync
                    try log.append(records(21...60))  // 32 + 60 * 41 = 2492: past the tail
                    try log.sync()
                    durable = LogIndex(60)
                } catch RingLogError.io {
                    #expect(log.failure != nil)
                }
                disk.crash(mode)
                let reopened = try RingLog(disk: disk, directory: "/n", options: Self.kib)
                let context = "step \(step) \(mode)"
                #expect(reopened.lastIndex >= durable && reopened.lastIndex <= LogIndex(60), "\(context)")
                #expect(try allRecords(reopened) == records(1...reopened.lastIndex.rawValue), "\(context)")
                if mode == .loseUnsynced || mode == .keepUnsynced {
                    #expect(reopened.recovery.cut == nil, "\(context)")
                }
            }
        }
    }
}

/// A segment header as the format before preallocation wrote it (docs/ringlog-format.md).
func oldFormatHeader(firstIndex: UInt64) -> [UInt8] {
    var bytes = Array("TKVL".utf8)
    withUnsafeBytes(of: UInt16(1).littleEndian) { bytes.append(contentsOf: $0) }
    withUnsafeBytes(of: UInt16(32).littleEndian) { bytes.append(contentsOf: $0) }
    withUnsafeBytes(of: firstIndex.littleEndian) { bytes.append(contentsOf: $0) }
    bytes.append(contentsOf: [UInt8](repeating: 0, count: 12))
    let crc = bytes.withUnsafeBytes { CRC32C.checksum($0) }
    withUnsafeBytes(of: crc.littleEndian) { bytes.append(contentsOf: $0) }
    return bytes
}

func writeBytes(_ disk: any Disk, _ path: String, at offset: UInt64, _ bytes: [UInt8]) throws {
    let handle = try disk.open(path, mode: .existing)
    defer { disk.close(handle) }
    try disk.write(handle, at: offset, bytes)
    try disk.sync(handle)
}

func readBytes(_ disk: any Disk, _ path: String, from offset: UInt64) throws -> [UInt8] {
    let handle = try disk.open(path, mode: .existing)
    defer { disk.close(handle) }
    let size = try disk.size(of: handle)
    return try disk.read(handle, at: offset, count: Int(size - min(size, offset)))
}
