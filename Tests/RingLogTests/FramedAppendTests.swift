import Basics
import RingLog
import Simulation
import Testing

/// `RingLog.append(count:payloadByteCount:parts:)` frames records from payloads in two
/// parts; the files and the writes must be those of `append(_: [LogRecord])` with the parts
/// joined, and the two-part encoder must give `RecordCodec.encode`'s bytes.
@Suite struct FramedAppendTests {
    /// Every split of payloads around the encoder's inline limit, the empty parts included.
    @Test func twoPartEncodingEqualsTheJoinedPayload() {
        for payloadBytes in [0, 1, 31, 32, 70, 71, 72, 73, 100, 139, 5000] {
            let original = record(9, epoch: 4, payloadBytes: payloadBytes, type: 3)
            let expected = RecordCodec.encode(original)
            for split in Set([0, 1, 32, 71, 72, payloadBytes / 2, payloadBytes]) where split <= payloadBytes {
                var bytes: [UInt8] = [0xEE]  // appends after what the buffer holds
                Array(original.payload[..<split]).withUnsafeBytes { head in
                    Array(original.payload[split...]).withUnsafeBytes { tail in
                        RecordCodec.encode(index: original.index, epoch: original.epoch, type: original.type,
                                           payload: head, tail, into: &bytes)
                    }
                }
                #expect(bytes == [0xEE] + expected, "payload \(payloadBytes) split at \(split)")
            }
        }
    }

    /// Random batches, small segments and a small write buffer (so runs stop at segment and
    /// flush boundaries), one log fed records and the other the same payloads in two parts:
    /// the same files, the same number of disk operations, the same records read back.
    @Test(arguments: [
        (RingLogOptions(segmentBytesMax: 512, writeBufferBytesMax: 256), 300),
        (RingLogOptions(segmentBytesMax: 300 << 10, writeBufferBytesMax: 32 << 10), 9000),
    ] as [(RingLogOptions, Int)])
    func sameFilesAndWritesAsRecords(options: RingLogOptions, payloadMax: Int) throws {
        try expectSameFilesAsRecordAppends(options: options, payloadMax: payloadMax, sameOperationCount: true) { log, batch, generator in
            try appendInParts(batch, to: log, split: Int(generator.next() % 64))
        }
    }

    /// Epochs change inside one call: each index keeps its own.
    @Test func epochsChangingWithinOneAppend() throws {
        let log = try RingLog(disk: SimulatedDisk(seed: 3), directory: "/n")
        let batch = [record(1, epoch: 2), record(2, epoch: 2), record(3, epoch: 5), record(4, epoch: 7)]
        try appendInParts(batch, to: log, split: 5)
        #expect((1...4).map { log.epoch(of: LogIndex($0)) } == [Epoch(2), Epoch(2), Epoch(5), Epoch(7)])
        #expect(try allRecords(log) == batch)
    }

    @Test func aTooLargePayloadAppendsNothing() throws {
        let log = try RingLog(disk: SimulatedDisk(seed: 2), directory: "/n", options: RingLogOptions(payloadBytesMax: 100))
        #expect(throws: RingLogError.recordTooLarge(index: LogIndex(2), payloadBytes: 101, limit: 100)) {
            try appendInParts([record(1, payloadBytes: 10), record(2, payloadBytes: 101)], to: log, split: 4)
        }
        #expect(log.lastIndex == .zero && log.failure == nil)
        try appendInParts([record(1, payloadBytes: 100)], to: log, split: 60)
        #expect(try log.sync() == LogIndex(1))
        #expect(try allRecords(log) == [record(1, payloadBytes: 100)])
    }

    /// Hands each record's payload as two parts split at `split` (or at its end).
    private func appendInParts(_ records: [LogRecord], to log: RingLog, split: Int) throws {
        try log.append(count: records.count, payloadByteCount: { records[$0].payload.count }) { k, place in
            let r = records[k]
            let cut = min(split, r.payload.count)
            Array(r.payload[..<cut]).withUnsafeBytes { head in
                Array(r.payload[cut...]).withUnsafeBytes { tail in
                    place(RingLog.RecordParts(index: r.index, epoch: r.epoch, type: r.type, head: head, tail: tail))
                }
            }
        }
    }
}
