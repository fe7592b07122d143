import Basics
import RingLog
import Simulation
import Testing

/// `GroupCommitLog.appendFramed`: records framed by the caller from a payload's two parts
/// land exactly as `append` of the joined records would put them.
@Suite("GroupCommitLog.appendFramed")
struct AppendFramedTests {
    /// Frames `records` from two parts each: the first `split` payload bytes and the rest.
    static func frame(_ records: [LogRecord], split: Int, into batch: inout EncodedBatch) {
        for r in records {
            let cut = min(split, r.payload.count)
            r.payload.withUnsafeBytes { p in
                batch.append(index: r.index, epoch: r.epoch, type: r.type,
                             head: UnsafeRawBufferPointer(rebasing: p[0..<cut]),
                             tail: UnsafeRawBufferPointer(rebasing: p[cut...]))
            }
        }
    }

    @Test func framedPartsEncodeAsTheJoinedRecords() {
        let expected = EncodedBatch(records(1...5, payloadBytes: 300))
        for split in [0, 7, 32, 300] {
            var batch = EncodedBatch()
            Self.frame(records(1...5, payloadBytes: 300), split: split, into: &batch)
            #expect(batch == expected)
        }
    }

    @Test func framedAppendsBecomeDurableAndReadBack() async throws {
        let log = GroupCommitLog(try RingLog(disk: SimulatedDisk(seed: 41), directory: "/n"))
        try log.append(records(1...3))
        try log.appendFramed { Self.frame(records(4...9), split: 5, into: &$0) }
        try log.appendFramed { _ in }  // nothing framed: nothing appended
        try log.append(records(10...10))
        #expect(try await log.waitDurable(through: LogIndex(10)) == LogIndex(10))
        let read = try await log.perform { try $0.read(from: LogIndex(1), through: LogIndex(10)) }
        #expect(read == records(1...10))
    }

    @Test func anOversizedFramedPayloadIsRefusedAndAppendsNothing() async throws {
        let log = GroupCommitLog(
            try RingLog(disk: SimulatedDisk(seed: 42), directory: "/n", options: RingLogOptions(payloadBytesMax: 32)))
        try log.append(records(1...2, payloadBytes: 32))
        #expect(throws: RingLogError.recordTooLarge(index: LogIndex(4), payloadBytes: 33, limit: 32)) {
            try log.appendFramed {
                Self.frame(records(3...3, payloadBytes: 32) + records(4...4, payloadBytes: 33), split: 4, into: &$0)
            }
        }
        #expect(log.lastIndex == LogIndex(2))
        try log.appendFramed { Self.frame(records(3...3, payloadBytes: 32), split: 4, into: &$0) }
        #expect(try await log.waitDurable(through: LogIndex(3)) == LogIndex(3))
        #expect(log.failure == nil)
    }
}
