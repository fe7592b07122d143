import Basics
import Testing
import Totem

/// The buffer forms of the codec (the UDP transport encodes into its send buffer and decodes
/// from its receive buffer) give exactly the array forms' bytes and results.
@Suite struct WireCodecBufferTests {
    @Test func encodingIntoABufferWritesTheSameBytes() {
        var random = RandomPackets(seed: 0x5EED_0101)
        for round in 0..<3_000 {
            let packet = random.packet()
            let ringNumber = UInt8(random.int(0...1))
            let expected = WireCodec.encode(packet, ringNumber: ringNumber)
            #expect(WireCodec.encodedByteCount(packet) == expected.count)
            // Room to spare, filled with a marker that must survive past the packet.
            let spare = round % 3
            var buffer = [UInt8](repeating: 0xA5, count: expected.count + spare)
            buffer.withUnsafeMutableBytes { WireCodec.encode(packet, ringNumber: ringNumber, into: $0) }
            #expect(Array(buffer.prefix(expected.count)) == expected)
            #expect(buffer.suffix(spare).allSatisfy { $0 == 0xA5 })
        }
    }

    @Test func decodingRawBytesCountsLikeDecodingAnArray() {
        var random = RandomPackets(seed: 0x5EED_0102)
        var fromArrays = WireRejectionCounters()
        var fromRaw = WireRejectionCounters()
        for _ in 0..<5_000 {
            let bytes = random.mutate(WireCodec.encode(random.packet(), ringNumber: UInt8(random.int(0...1))))
            let a = WireCodec.decode(bytes, counting: &fromArrays)
            let b = bytes.withUnsafeBytes { WireCodec.decode($0, counting: &fromRaw) }
            #expect(a == b)
        }
        #expect(fromArrays.all.map(\.reason) == fromRaw.all.map(\.reason) && fromArrays.all.map(\.count) == fromRaw.all.map(\.count))
        #expect(fromRaw.total > 0)
    }
}
