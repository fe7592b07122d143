import Basics
import RingLog
import Simulation
import Testing

/// After a failed write or sync the log stops: it reports the error and refuses further
/// changes instead of claiming durability it does not have.
@Suite("I/O failures")
struct FailureTests {
    static func expectFailed(_ log: RingLog, durable: LogIndex) {
        #expect(log.failure != nil)
        #expect(log.durableIndex == durable)
        let next = log.lastIndex.rawValue + 1
        #expect(throws: RingLogError.failed(log.failure!)) { try log.append(record(next)) }
        #expect(throws: RingLogError.failed(log.failure!)) { try log.sync() }
        #expect(throws: RingLogError.failed(log.failure!)) { try log.truncate(after: log.lastIndex) }
        #expect(throws: RingLogError.failed(log.failure!)) {
            try log.writeMeta(LogMeta(nodeID: NodeID(1), normalEpoch: .zero, voters: [], commitIndex: .zero))
        }
    }

    @Test func failedSyncStopsTheLog() throws {
        let disk = SimulatedDisk(seed: 11)
        let log = try RingLog(disk: disk, directory: "/n")
        try log.append(records(1...5))
        try log.sync()
        try log.append(records(6...9))
        disk.failingSyncs = 1
        #expect(throws: RingLogError.self) { try log.sync() }
        Self.expectFailed(log, durable: LogIndex(5))
        // Whatever the crash keeps, everything reported durable is there.
        disk.crash(.random)
        let reopened = try RingLog(disk: disk, directory: "/n")
        #expect(reopened.lastIndex >= LogIndex(5))
        #expect(try allRecords(reopened) == records(1...reopened.lastIndex.rawValue))
    }

    @Test func failedWriteStopsTheLog() throws {
        let disk = SimulatedDisk(seed: 12)
        let log = try RingLog(disk: disk, directory: "/n")
        try log.append(records(1...3))
        try log.sync()
        try log.append(records(4...6))
        disk.failingWrites = 1
        do {
            try log.sync()
            Issue.record("sync succeeded after a failed write")
        } catch let RingLogError.io(error) {
            #expect(error.operation == .write && error.errno == 5)
        }
        Self.expectFailed(log, durable: LogIndex(3))
        #expect(try log.read(from: LogIndex(1), through: LogIndex(3)) == records(1...3))
    }

    @Test func failedDirectorySyncAfterANewSegmentStopsTheLog() throws {
        let disk = SimulatedDisk(seed: 13)
        let log = try RingLog(disk: disk, directory: "/n", options: smallSegments)
        try log.append(records(1...5))
        try log.sync()
        try log.append(records(6...20))  // starts a second segment
        disk.failingSyncs = 2  // the segment files' syncs fail first
        #expect(throws: RingLogError.self) { try log.sync() }
        Self.expectFailed(log, durable: LogIndex(5))
    }

    @Test func failedMetaWriteKeepsTheOldMeta() throws {
        let disk = SimulatedDisk(seed: 14)
        let log = try RingLog(disk: disk, directory: "/n")
        let old = LogMeta(nodeID: NodeID(1), normalEpoch: Epoch(1), voters: [], commitIndex: .zero)
        try log.writeMeta(old)
        disk.failingSyncs = 1
        #expect(throws: RingLogError.self) {
            try log.writeMeta(LogMeta(nodeID: NodeID(1), normalEpoch: Epoch(2), voters: [], commitIndex: .zero))
        }
        #expect(log.meta == old)
        disk.crash(.random)
        #expect(try RingLog(disk: disk, directory: "/n").meta == old)
    }

    /// On the real disk: an error from the file system (here: the log directory replaced
    /// by a file) is a thrown value naming the path and errno.
    @Test func realDiskErrorsNameThePath() throws {
        try withTemporaryDirectory { dir in
            let disk = FileDisk()
            let handle = try disk.open(dir + "/log", mode: .createOrTruncate)
            disk.close(handle)
            do {
                _ = try RingLog(disk: disk, directory: dir)
                Issue.record("opened a log whose log directory is a file")
            } catch let RingLogError.io(error) {
                #expect(error.operation == .createDirectory && error.path == dir + "/log")
                #expect(error.errno == 17)  // EEXIST
            }
        }
    }
}
