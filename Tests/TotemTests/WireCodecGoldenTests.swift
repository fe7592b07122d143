import Basics
import Foundation
import Testing
import Totem

/// The golden vectors in Data/vectors/: one file per message type (and per interesting
/// variant). Each file decodes to the value built here and that value encodes back to the
/// file's bytes exactly. A change of the format must change `WireCodec.formatVersion` and
/// the vectors together; regenerate them with
/// `TOTEMKV_WRITE_VECTORS=1 swift test --filter WireCodecGoldenTests`.
@Suite struct WireCodecGoldenTests {
    struct Vector: Sendable, CustomTestStringConvertible {
        var name: String
        var summary: String
        var ringNumber: UInt8
        var packet: TotemPacket
        var testDescription: String { name }
    }

    static let ring = RingID(representative: NodeID(1), seq: 0x10)
    static let oldRing = RingID(representative: NodeID(2), seq: 0x0C)

    static let vectors: [Vector] = [
        Vector(name: "token", summary: "regular token, no retransmission requests, aru == seq", ringNumber: 0,
               packet: TotemPacket(sender: NodeID(3), message: .token(OrderingToken(
                   ringID: ring, tokenSeq: 41, seq: 100, aru: 100, aruAddress: nil, fcc: 12, backlog: 3,
                   isRetransmitting: false, retransmitRequests: [])))),
        Vector(name: "token-rtr", summary: "token on ring 1 with three retransmission requests, aru lowered by node 2",
               ringNumber: 1,
               packet: TotemPacket(sender: NodeID(2), message: .token(OrderingToken(
                   ringID: ring, tokenSeq: 42, seq: 105, aru: 101, aruAddress: NodeID(2), fcc: 7, backlog: 0,
                   isRetransmitting: true, retransmitRequests: [
                       RetransmitRequest(ringID: ring, seq: 102),
                       RetransmitRequest(ringID: ring, seq: 104),
                       RetransmitRequest(ringID: oldRing, seq: 99),
                   ])))),
        Vector(name: "mcast", summary: "mcast with an application payload \"hello\"", ringNumber: 0,
               packet: TotemPacket(sender: NodeID(2), message: .mcast(Mcast(
                   ringID: ring, originator: NodeID(2), seq: 101, body: .application(Array("hello".utf8)))))),
        Vector(name: "mcast-recovered", summary: "RECOVERY: old-ring mcast 57 of node 5 rebroadcast by node 1 as seq 3",
               ringNumber: 0,
               packet: TotemPacket(sender: NodeID(1), message: .mcast(Mcast(
                   ringID: ring, originator: NodeID(1), seq: 3, body: .recovered(Mcast(
                       ringID: oldRing, originator: NodeID(5), seq: 57, body: .application([0xDE, 0xAD, 0xBE, 0xEF]))))))),
        Vector(name: "join", summary: "join: proc set {1, 2, 3, 5}, failed set {4}", ringNumber: 0,
               packet: TotemPacket(sender: NodeID(1), message: .join(Join(
                   procSet: [NodeID(1), NodeID(2), NodeID(3), NodeID(5)], failedSet: [NodeID(4)], ringSeq: 0x10)))),
        Vector(name: "join-leave", summary: "leave: node 3 moved from the proc set to the failed set", ringNumber: 0,
               packet: TotemPacket(sender: NodeID(3), message: .join(Join(
                   procSet: [NodeID(1), NodeID(2)], failedSet: [NodeID(3)], ringSeq: 0x10, isLeave: true)))),
        Vector(name: "commit-token", summary: "commit token for ring (1.14), two of three members filled in",
               ringNumber: 0,
               packet: TotemPacket(sender: NodeID(2), message: .commitToken(CommitToken(
                   ringID: RingID(representative: NodeID(1), seq: 0x14), tokenSeq: 2, memberIndex: 2,
                   members: [NodeID(1), NodeID(2), NodeID(7)],
                   memberInfo: [
                       CommitMemberInfo(oldRingID: ring, aru: 100, highDelivered: 100, hasReceivedAll: true),
                       CommitMemberInfo(oldRingID: oldRing, aru: 57, highDelivered: 55, hasReceivedAll: false),
                       nil,
                   ])))),
        Vector(name: "merge-detect", summary: "merge detect from the representative of ring (1.10)", ringNumber: 0,
               packet: TotemPacket(sender: NodeID(1), message: .mergeDetect(MergeDetect(ringID: ring)))),
        Vector(name: "token-hold-cancel", summary: "token hold cancel for ring (1.10)", ringNumber: 1,
               packet: TotemPacket(sender: NodeID(4), message: .tokenHoldCancel(TokenHoldCancel(ringID: ring)))),
        Vector(name: "ring-test-active", summary: "RRP ring test of ring 1 started by node 2", ringNumber: 1,
               packet: TotemPacket(sender: NodeID(3), message: .ringTest(RingTest(
                   kind: .active, ringNumber: 1, activator: NodeID(2))))),
        Vector(name: "ring-test-activate", summary: "RRP re-enable of ring 1 sent by node 2", ringNumber: 1,
               packet: TotemPacket(sender: NodeID(2), message: .ringTest(RingTest(
                   kind: .activate, ringNumber: 1, activator: NodeID(2))))),
    ]

    static let directory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Data/vectors")

    /// Hex digits; whitespace and `#` comments to the end of the line are ignored.
    static func parseHex(_ text: String) -> [UInt8]? {
        var bytes: [UInt8] = []
        var high: UInt8?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            for ch in line.prefix(while: { $0 != "#" }) where !ch.isWhitespace {
                guard let nibble = ch.hexDigitValue else { return nil }
                if let h = high {
                    bytes.append(h << 4 | UInt8(nibble))
                    high = nil
                } else {
                    high = UInt8(nibble)
                }
            }
        }
        return high == nil ? bytes : nil
    }

    static func render(_ vector: Vector, _ bytes: [UInt8]) -> String {
        func hex(_ slice: ArraySlice<UInt8>) -> String {
            slice.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }
                .joined(separator: " ")
        }
        var text = """
            # TotemKV wire format v\(WireCodec.formatVersion): \(vector.summary); sent on ring \(vector.ringNumber).
            # Layout: docs/wire-format.md. Written by Tests/TotemTests/WireCodecGoldenTests.swift.
            # header: magic version type ring flags reserved | sender | body length | crc32c
            \(hex(bytes[0..<8])) | \(hex(bytes[8..<12])) | \(hex(bytes[12..<16])) | \(hex(bytes[16..<20]))
            # body (\(bytes.count - 20) bytes)

            """.replacingOccurrences(of: " | ", with: "  ")
        var at = 20
        while at < bytes.count {
            let end = min(at + 16, bytes.count)
            text += hex(bytes[at..<end]) + "\n"
            at = end
        }
        return text
    }

    @Test(arguments: vectors) func vectorDecodesAndReencodesExactly(_ vector: Vector) throws {
        let url = Self.directory.appendingPathComponent("\(vector.name).hex")
        let encoded = WireCodec.encode(vector.packet, ringNumber: vector.ringNumber)
        if ProcessInfo.processInfo.environment["TOTEMKV_WRITE_VECTORS"] == "1" {
            try FileManager.default.createDirectory(at: Self.directory, withIntermediateDirectories: true)
            try Self.render(vector, encoded).write(to: url, atomically: true, encoding: .utf8)
        }
        let text = try String(contentsOf: url, encoding: .utf8)
        let bytes = try #require(Self.parseHex(text), "\(vector.name).hex is not valid hex")
        #expect(WireCodec.decode(bytes) == .success(WireCodec.Frame(packet: vector.packet, ringNumber: vector.ringNumber)))
        #expect(encoded == bytes)
    }

    @Test func everyMessageTypeHasAVector() {
        let types = Set(Self.vectors.map { WireCodecGoldenTests.typeByte($0.packet) })
        #expect(types == Set(WireCodec.MessageType.allCases.map(\.rawValue)))
    }

    static func typeByte(_ packet: TotemPacket) -> UInt8 {
        WireCodec.encode(packet, ringNumber: 0)[3]
    }
}
