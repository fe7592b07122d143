import Basics
import RingLog
import Simulation
import Testing

/// `RingLog.append(_: EncodedBatch)` must leave exactly the files `append(_: [LogRecord])`
/// leaves: the same bytes, split into the same segments.
@Suite struct EncodedBatchTests {
    @Test func encodedBatchBytesAreTheRecordEncodings() {
        let batch = EncodedBatch(records(7...9, payloadBytes: 33))
        #expect(batch.firstIndex == LogIndex(7) && batch.lastIndex == LogIndex(9) && batch.count == 3)
        #expect(batch.bytes == records(7...9, payloadBytes: 33).flatMap { RecordCodec.encode($0) })
        #expect(EncodedBatch().isEmpty)
    }

    /// A recycled batch (emptied, storage kept) encodes the next records exactly as a new one.
    @Test func aRecycledBatchEncodesLikeANewOne() {
        var batch = EncodedBatch(records(1...50, payloadBytes: 500))
        batch.removeAll()
        #expect(batch.isEmpty && batch.bytes.isEmpty)
        batch.append(records(51...53, payloadBytes: 7))
        #expect(batch == EncodedBatch(records(51...53, payloadBytes: 7)))
        #expect(batch.firstIndex == LogIndex(51) && batch.lastIndex == LogIndex(53))
    }

    /// Random batch sizes and payload sizes (some larger than a segment, some runs large
    /// enough to be written straight from the batch), both ways, then the files compared.
    @Test(arguments: [
        (RingLogOptions(segmentBytesMax: 512, writeBufferBytesMax: 256), 300),
        (RingLogOptions(segmentBytesMax: 300 << 10, writeBufferBytesMax: 32 << 10), 9000),
    ] as [(RingLogOptions, Int)])
    func sameFilesAsRecordByRecord(options: RingLogOptions, payloadMax: Int) throws {
        try expectSameFilesAsRecordAppends(options: options, payloadMax: payloadMax, sameOperationCount: false) { log, batch, _ in
            try log.append(EncodedBatch(batch))
        }
    }

    @Test func aTooLargePayloadAppendsNothing() throws {
        let log = try RingLog(disk: SimulatedDisk(seed: 2), directory: "/n", options: RingLogOptions(payloadBytesMax: 100))
        let batch = EncodedBatch([record(1, payloadBytes: 10), record(2, payloadBytes: 101)])
        #expect(throws: RingLogError.recordTooLarge(index: LogIndex(2), payloadBytes: 101, limit: 100)) {
            try log.append(batch)
        }
        #expect(log.lastIndex == .zero && log.failure == nil)
        try log.append(EncodedBatch([record(1, payloadBytes: 100)]))
        #expect(try log.sync() == LogIndex(1))
    }
}
