import Basics
import RingLog
import Simulation
import Testing

/// Differential check for the log's other append paths (`EncodedBatch`, framed payload
/// parts): random batches go to one log as `[LogRecord]` and to another through `appendOther`;
/// the two must leave the same files (the same bytes, split into the same segments), the
/// same records and epochs, and reopen to the same records. With `sameOperationCount`, the
/// disk must also have seen the same number of operations (the same writes and syncs).
func expectSameFilesAsRecordAppends(
    options: RingLogOptions, payloadMax: Int, sameOperationCount: Bool,
    appendOther: (RingLog, [LogRecord], inout SeededGenerator) throws -> Void
) throws {
    let plainDisk = SimulatedDisk(seed: 1)
    let otherDisk = SimulatedDisk(seed: 1)
    let plain = try RingLog(disk: plainDisk, directory: "/n", options: options)
    let other = try RingLog(disk: otherDisk, directory: "/n", options: options)
    var generator = SeededGenerator(seed: UInt64(payloadMax))
    var next: UInt64 = 1
    for round in 0..<40 {
        let count = Int(generator.next() % 40)
        let batch = (0..<count).map { k in
            record(next + UInt64(k), epoch: UInt64(1 + round / 10), payloadBytes: Int(generator.next() % UInt64(payloadMax)))
        }
        next += UInt64(count)
        try plain.append(batch)
        try appendOther(other, batch, &generator)
        #expect(other.lastIndex == plain.lastIndex)
        if round % 3 == 0 {
            #expect(try plain.sync() == other.sync())
        }
    }
    try plain.sync()
    try other.sync()
    #expect(other.lastIndex == plain.lastIndex && other.durableIndex == plain.durableIndex)
    if sameOperationCount {
        #expect(otherDisk.operationCount == plainDisk.operationCount)
    }
    let names = try segmentNames(plainDisk, "/n")
    #expect(names.count > 1)
    #expect(try segmentNames(otherDisk, "/n") == names)
    for name in names {
        #expect(otherDisk.contents(of: "/n/log/" + name) == plainDisk.contents(of: "/n/log/" + name), "\(name)")
    }
    #expect(try allRecords(other) == allRecords(plain))
    for index in [LogIndex(1), other.lastIndex] {
        #expect(other.epoch(of: index) == plain.epoch(of: index))
    }
    let reopened = try RingLog(disk: otherDisk, directory: "/n", options: options)
    #expect(try allRecords(reopened) == allRecords(plain))
}
