import Basics
import NIOCore
import RESP
import Replication
import Testing
@testable import Node

/// The direct sink writes its pushes without the payloads array
/// (`ProcessGroupChannelSink.writePushes`): the bytes must be those of the push task's
/// encoding (`writeRESPPushMessage` of `processGroupPushPayloads`).
@Suite struct ProcessGroupSinkEncodingTests {
    static func reference(_ batch: [ProcessGroupDelivery], channel: ByteBuffer) -> ByteBuffer {
        var push = ByteBuffer()
        for payload in CommandDispatcher.processGroupPushPayloads(batch) {
            push.writeRESPPushMessage(channel: channel, payload: payload)
        }
        return push
    }

    @Test func writesWhatThePushTaskWrites() throws {
        let group = try ProcessGroupName("bench")
        let channel = ByteBuffer(string: "bench")
        let ids: [UInt64] = [0, 1, 9, 10, 99, 100, 12_345, UInt64(UInt32.max), UInt64.max]
        var batch: [ProcessGroupDelivery] = []
        for (n, id) in ids.enumerated() {
            let from = ProcessGroupMember(node: NodeID(UInt32(truncatingIfNeeded: id)), connection: ConnectionID(id))
            // Payload lengths across the bulk length's digit boundaries (0, 7, ... 9, 10, 99, 100).
            let count = [0, 7, 9, 10, 64, 89, 90, 99, 1_000][n]
            let payload = (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 37) }
            batch.append(ProcessGroupDelivery(connection: ConnectionID(5), group: group,
                                              notification: .message(from: from, payload: payload), isFinal: false))
        }
        let member = ProcessGroupMember(node: NodeID(2), connection: ConnectionID(7))
        let change = ProcessGroupChange(members: [member], joined: [ProcessGroupMemberChange(member, .join)], left: [])
        batch.insert(ProcessGroupDelivery(connection: ConnectionID(5), group: group, notification: .membership(change),
                                          isFinal: false), at: 3)
        // The whole batch, and each delivery on its own (the latency path's batch of one).
        for part in [batch] + batch.map({ [$0] }) + [[]] {
            var push = ByteBuffer()
            ProcessGroupChannelSink.writePushes(part, channel: channel, into: &push)
            #expect(push == Self.reference(part, channel: channel))
        }
        var one = ByteBuffer()
        ProcessGroupChannelSink.writePushes([batch[1]], channel: channel, into: &one)
        #expect(String(buffer: one) == "*3\r\n$7\r\nmessage\r\n$5\r\nbench\r\n$19\r\nmessage 1:1 " +
            String(decoding: (0..<7).map { UInt8(truncatingIfNeeded: $0 &* 37) }, as: UTF8.self) + "\r\n")
    }

    @Test func decimalDigitsCountsWhatWriteDecimalWrites() {
        for value: UInt64 in [0, 9, 10, 99, 100, 12_345, UInt64(UInt32.max), UInt64.max] {
            var buffer = ByteBuffer()
            buffer.writeDecimal(value)
            #expect(ProcessGroupChannelSink.decimalDigits(value) == buffer.readableBytes)
        }
    }
}
