import Basics
import Testing
@testable import Replication

@Suite struct MessageCodecTests {
    func randomEntry(_ rng: inout SeededGenerator, index: UInt64) -> Entry {
        Entry(index: LogIndex(index), epoch: Epoch(rng.next() % 100), originator: NodeID(UInt32(rng.next() % 9 + 1)),
              requestID: rng.next(), clientID: rng.next(), clientSeq: rng.next(),
              op: (0..<Int(rng.next() % 40)).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
    }

    func randomRing(_ rng: inout SeededGenerator) -> RingMessage {
        switch rng.next() % 3 {
        case 0:
            return .writes(epoch: Epoch(rng.next()), (0..<Int(rng.next() % 4)).map { _ in
                WriteRequest(requestID: rng.next(), clientID: rng.next(), clientSeq: rng.next(),
                             op: (0..<Int(rng.next() % 30)).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
            })
        case 1:
            return .syncState(SyncState(epoch: Epoch(rng.next()), normalEpoch: Epoch(rng.next()),
                                        lastIndex: LogIndex(rng.next()), lastEpoch: Epoch(rng.next()),
                                        commitIndex: LogIndex(rng.next())))
        default:
            return .readBarrier(epoch: Epoch(rng.next()), id: rng.next())
        }
    }

    func randomPeer(_ rng: inout SeededGenerator) -> PeerMessage {
        switch rng.next() % 3 {
        case 0: return .ack(epoch: Epoch(rng.next()), durableIndex: LogIndex(rng.next()), barrierID: rng.next())
        case 1: return .fetch(epoch: Epoch(rng.next()), from: LogIndex(rng.next()), through: LogIndex(rng.next()))
        default:
            let base = rng.next() % 1000
            return .entries(epoch: Epoch(rng.next()), (0..<(rng.next() % 5)).map { randomEntry(&rng, index: base + $0) })
        }
    }

    @Test func roundTrips() throws {
        var rng = SeededGenerator(seed: 5)
        for _ in 0..<2000 {
            let ring = randomRing(&rng)
            #expect(try RingMessage(decoding: ring.encoded()) == ring)
            let peer = randomPeer(&rng)
            #expect(try PeerMessage(decoding: peer.encoded()) == peer)
            let entry = randomEntry(&rng, index: rng.next())
            #expect(try Entry(index: entry.index, epoch: entry.epoch, payload: entry.encodedPayload()) == entry)
        }
    }

    /// Delivered payloads and log records are read in place as slices of a larger buffer
    /// (a Totem frame): decoding a slice that starts past 0 gives what decoding a copy gives,
    /// and an entry's op is a slice of the bytes it came from.
    @Test func slicesDecodeAsTheirCopies() throws {
        var rng = SeededGenerator(seed: 17)
        for _ in 0..<500 {
            let ring = randomRing(&rng)
            let lead = (0..<Int(rng.next() % 9)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            let trail = (0..<Int(rng.next() % 9)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            let framed = lead + ring.encoded() + trail
            let slice = framed[lead.count..<(framed.count - trail.count)]
            #expect(try RingMessage(decoding: slice) == ring)
            if case .writes(let epoch, let requests) = ring {
                #expect(RingMessage.checkedWritesCount(slice, epoch: epoch) == requests.count)
                #expect(RingMessage.checkedWritesCount(framed[lead.count...], epoch: epoch) == (trail.isEmpty ? requests.count : nil))
            }
            let entry = randomEntry(&rng, index: rng.next())
            let payload = lead + entry.encodedPayload() + trail
            let decoded = try Entry(index: entry.index, epoch: entry.epoch,
                                    payload: payload[lead.count..<(payload.count - trail.count)])
            #expect(decoded == entry)
            #expect(Array(decoded.op) == Array(entry.op))
            #expect(decoded.op.startIndex == lead.count + 32 || decoded.op.isEmpty)
        }
    }

    /// The simulator frames log records from the payload's two parts: joined, they are
    /// `encodedPayload()`; and a client write's own message is the one-request `.writes`.
    @Test func payloadPartsAndSingleWriteEncodings() {
        var rng = SeededGenerator(seed: 11)
        for _ in 0..<500 {
            let entry = randomEntry(&rng, index: rng.next())
            var joined: [UInt8] = []
            entry.withEncodedPayloadParts { head, op in joined = Array(head) + Array(op) }
            #expect(joined == entry.encodedPayload())
            #expect(entry.encodedPayloadByteCount == joined.count)
            let request = WriteRequest(requestID: rng.next(), clientID: rng.next(), clientSeq: rng.next(), op: Array(entry.op))
            let epoch = Epoch(rng.next())
            #expect(RingMessage.encodedWrite(epoch: epoch, request) == RingMessage.writes(epoch: epoch, [request]).encoded())
        }
    }

    /// The replica's direct path for writes accepts exactly the payloads the general decoder
    /// accepts as writes of that epoch, with the same count (truncated, flipped, and with
    /// an op length past the limit).
    @Test func writesCheckAgreesWithTheDecoder() {
        var rng = SeededGenerator(seed: 7)
        var accepted = 0
        var refused = 0
        for _ in 0..<3000 {
            var message: RingMessage = .writes(epoch: Epoch(rng.next() % 3), (0..<Int(rng.next() % 4)).map { _ in
                WriteRequest(requestID: rng.next(), clientID: rng.next(), clientSeq: rng.next(),
                             op: (0..<Int(rng.next() % 30)).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
            })
            if rng.next() % 8 == 0 { message = randomRing(&rng) }
            var bytes = message.encoded()
            switch rng.next() % 4 {
            case 0: bytes = Array(bytes.prefix(Int(rng.next() % UInt64(bytes.count))))
            case 1:
                let i = Int(rng.next() % UInt64(bytes.count))
                bytes[i] ^= UInt8(1 << (rng.next() % 8))
            case 2 where bytes.count > 40:
                // An op length just past the limit.
                let big = UInt32(Entry.opBytesMax + 1)
                for k in 0..<4 { bytes[13 + 24 + k] = UInt8(truncatingIfNeeded: big >> (8 * UInt32(k))) }
            default: break
            }
            let epoch = Epoch(rng.next() % 3)
            var expected: Int?
            if case .writes(let e, let requests)? = try? RingMessage(decoding: bytes), e == epoch { expected = requests.count }
            #expect(RingMessage.checkedWritesCount(bytes[...], epoch: epoch) == expected)
            if expected == nil { refused += 1 } else { accepted += 1 }
        }
        #expect(accepted > 300 && refused > 300)
    }

    /// The edges of the writes check, each against the decoder: a count of 0, at and just
    /// above the limit, one more than the bytes hold; an op of exactly the maximum length and
    /// one byte longer.
    @Test func writesCheckEdges() {
        let epoch = Epoch(4)
        func agrees(_ bytes: [UInt8]) -> Int? {
            var decoded: Int?
            if case .writes(let e, let requests)? = try? RingMessage(decoding: bytes), e == epoch { decoded = requests.count }
            #expect(RingMessage.checkedWritesCount(bytes[...], epoch: epoch) == decoded)
            return decoded
        }
        func withCount(_ bytes: [UInt8], _ count: UInt32) -> [UInt8] {
            var bytes = bytes
            for k in 0..<4 { bytes[9 + k] = UInt8(truncatingIfNeeded: count >> (8 * UInt32(k))) }
            return bytes
        }
        let one = WriteRequest(requestID: 1, clientID: 2, clientSeq: 3, op: [9, 9])
        #expect(agrees(RingMessage.writes(epoch: epoch, []).encoded()) == 0)
        let two = RingMessage.writes(epoch: epoch, [one, one]).encoded()
        #expect(agrees(two) == 2)
        #expect(agrees(withCount(two, 3)) == nil)
        #expect(agrees(withCount(two, 1)) == nil)
        let atMax = RingMessage.writes(epoch: epoch, Array(repeating: WriteRequest(requestID: 0, clientID: 0, clientSeq: 0, op: []),
                                                           count: RingMessage.writesMax)).encoded()
        #expect(agrees(atMax) == RingMessage.writesMax)
        #expect(agrees(withCount(atMax, UInt32(RingMessage.writesMax + 1))) == nil)
        #expect(agrees(withCount(atMax, UInt32.max)) == nil)
        let longest = WriteRequest(requestID: 1, clientID: 2, clientSeq: 3, op: Array(repeating: 7, count: Entry.opBytesMax))
        let atLimit = RingMessage.writes(epoch: epoch, [longest]).encoded()
        #expect(agrees(atLimit) == 1)
        var overLimit = atLimit + [7]
        let big = UInt32(Entry.opBytesMax + 1)
        for k in 0..<4 { overLimit[13 + 24 + k] = UInt8(truncatingIfNeeded: big >> (8 * UInt32(k))) }
        #expect(agrees(overLimit) == nil)
        #expect(RingMessage.checkedWritesCount(two[...], epoch: Epoch(5)) == nil)
    }

    /// Truncations, bit flips and garbage decode or throw; they never trap.
    @Test func malformedInputIsAnError() {
        var rng = SeededGenerator(seed: 6)
        var thrown = 0
        for _ in 0..<3000 {
            var bytes = rng.next() % 2 == 0 ? randomRing(&rng).encoded() : randomPeer(&rng).encoded()
            switch rng.next() % 3 {
            case 0: bytes = Array(bytes.prefix(Int(rng.next() % UInt64(bytes.count))))
            case 1:
                let i = Int(rng.next() % UInt64(bytes.count))
                bytes[i] ^= UInt8(1 << (rng.next() % 8))
            default: bytes = (0..<Int(rng.next() % 64)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            }
            do { _ = try RingMessage(decoding: bytes) } catch { thrown += 1 }
            do { _ = try PeerMessage(decoding: bytes) } catch { thrown += 1 }
        }
        #expect(thrown > 3000)
        #expect(throws: DecodeError.self) { try RingMessage(decoding: []) }
        // A count that claims more items than the bytes hold is refused before allocating.
        #expect(throws: DecodeError.self) { try PeerMessage(decoding: [3, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0x0F]) }
    }
}
