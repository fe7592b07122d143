import Basics
import RingLog
import Testing

@Suite("Record codec")
struct RecordCodecTests {
    @Test func roundTrip() {
        for payloadBytes in [0, 1, 7, 100, 5000] {
            let original = record(42, epoch: 7, payloadBytes: payloadBytes, type: 9)
            let bytes = RecordCodec.encode(original)
            #expect(bytes.count == original.encodedByteCount)
            #expect(
                RecordCodec.decode(bytes, at: 0, payloadBytesMax: 1 << 20)
                    == .record(original, byteCount: bytes.count))
        }
    }

    @Test func emptyInputIsEndAndShortInputIsTruncated() {
        #expect(RecordCodec.decode([], at: 0, payloadBytesMax: 100) == .end)
        let bytes = RecordCodec.encode(record(1))
        for cut in 1..<bytes.count {
            #expect(RecordCodec.decode(Array(bytes.prefix(cut)), at: 0, payloadBytesMax: 100) == .defect(.truncated))
        }
        #expect(RecordCodec.decode(bytes, at: bytes.count + 3, payloadBytesMax: 100) == .defect(.truncated))
    }

    @Test func zerosAndOversizedLengthsAreDefects() {
        #expect(RecordCodec.decode([UInt8](repeating: 0, count: 64), at: 0, payloadBytesMax: 100) == .defect(.zeroLength))
        let big = RecordCodec.encode(record(1, payloadBytes: 200))
        #expect(RecordCodec.decode(big, at: 0, payloadBytesMax: 100) == .defect(.lengthOutOfRange(217)))
    }

    /// CRC32C detects every single-bit error, and the checksum covers the length field.
    @Test func everySingleBitFlipIsDetected() {
        let bytes = RecordCodec.encode(record(3, epoch: 2, payloadBytes: 40))
        for bit in 0..<(bytes.count * 8) {
            var damaged = bytes
            damaged[bit / 8] ^= UInt8(1) << UInt8(bit % 8)
            guard case .defect = RecordCodec.decode(damaged, at: 0, payloadBytesMax: 1 << 20) else {
                Issue.record("bit \(bit) flip not detected")
                return
            }
        }
    }

    @Test func randomBytesNeverCrash() {
        var g = SeededGenerator(seed: 0xF00D)
        for _ in 0..<3000 {
            let count = Int(g.next() % 300)
            var bytes = (0..<count).map { _ in UInt8(truncatingIfNeeded: g.next()) }
            // Make some inputs start with a plausible length.
            if count >= 4 && g.chance(0.5) {
                let length = UInt32(17 + g.next() % 64)
                withUnsafeBytes(of: length.littleEndian) { for i in 0..<4 { bytes[i] = $0[i] } }
            }
            let offset = Int(g.next() % UInt64(count + 2))
            if case .record(let r, let n) = RecordCodec.decode(bytes, at: offset, payloadBytesMax: 1000) {
                #expect(RecordCodec.encode(r) == Array(bytes[offset..<(offset + n)]))
            }
        }
    }

    @Test func mutatedRecordsNeverCrashAndNeverDecodeToSomethingElse() {
        var g = SeededGenerator(seed: 0xBEEF)
        for trial in 0..<2000 {
            let original = record(UInt64(trial + 1), epoch: g.next() % 5, payloadBytes: Int(g.next() % 80))
            var bytes = RecordCodec.encode(original)
            switch g.next() % 4 {
            case 0: bytes[Int(g.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: g.next())
            case 1: bytes.removeLast(Int(g.next() % UInt64(bytes.count)))
            case 2: bytes.append(contentsOf: (0..<Int(g.next() % 20)).map { _ in UInt8(truncatingIfNeeded: g.next()) })
            default:
                for _ in 0..<3 { bytes[Int(g.next() % UInt64(bytes.count))] ^= UInt8(truncatingIfNeeded: g.next()) }
            }
            if case .record(let r, let n) = RecordCodec.decode(bytes, at: 0, payloadBytesMax: 1000) {
                // Only an unchanged record (or one followed by extra bytes) may decode.
                #expect(r == original && n == original.encodedByteCount)
            }
        }
    }

    @Test func metaRoundTripAndDamage() throws {
        let meta = LogMeta(
            nodeID: NodeID(3), normalEpoch: Epoch(12),
            voters: [.init(nodeID: NodeID(1), votes: 1), .init(nodeID: NodeID(3), votes: 2)],
            commitIndex: LogIndex(99))
        let bytes = MetaCodec.encode(meta)
        #expect(try MetaCodec.decode(bytes).get() == meta)
        for bit in 0..<(bytes.count * 8) {
            var damaged = bytes
            damaged[bit / 8] ^= UInt8(1) << UInt8(bit % 8)
            #expect(throws: FormatDefect.self) { try MetaCodec.decode(damaged).get() }
        }
        var g = SeededGenerator(seed: 77)
        for _ in 0..<2000 {
            let junk = (0..<Int(g.next() % 120)).map { _ in UInt8(truncatingIfNeeded: g.next()) }
            _ = MetaCodec.decode(junk)
            _ = MetaCodec.decode(Array(bytes.prefix(Int(g.next() % UInt64(bytes.count)))))
        }
    }
}
