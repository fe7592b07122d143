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
        let plainDisk = SimulatedDisk(seed: 1)
        let encodedDisk = SimulatedDisk(seed: 1)
        let plain = try RingLog(disk: plainDisk, directory: "/n", options: options)
        let encoded = try RingLog(disk: encodedDisk, directory: "/n", options: options)
        var generator = SeededGenerator(seed: UInt64(payloadMax))
        var next: UInt64 = 1
        for round in 0..<40 {
            let count = Int(generator.next() % 40)
            let batch = (0..<count).map { k in
                record(next + UInt64(k), epoch: UInt64(1 + round / 10), payloadBytes: Int(generator.next() % UInt64(payloadMax)))
            }
            next += UInt64(count)
            try plain.append(batch)
            try encoded.append(EncodedBatch(batch))
            if round % 3 == 0 {
                #expect(try plain.sync() == encoded.sync())
            }
        }
        try plain.sync()
        try encoded.sync()
        #expect(encoded.lastIndex == plain.lastIndex && encoded.durableIndex == plain.durableIndex)
        let names = try segmentNames(plainDisk, "/n")
        #expect(names.count > 1)
        #expect(try segmentNames(encodedDisk, "/n") == names)
        for name in names {
            #expect(encodedDisk.contents(of: "/n/log/" + name) == plainDisk.contents(of: "/n/log/" + name), "\(name)")
        }
        #expect(try allRecords(encoded) == allRecords(plain))
        #expect(encoded.epoch(of: encoded.lastIndex) == plain.epoch(of: plain.lastIndex))
        // And the encoded log reopens to the same records.
        let reopened = try RingLog(disk: encodedDisk, directory: "/n", options: options)
        #expect(try allRecords(reopened) == allRecords(plain))
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
