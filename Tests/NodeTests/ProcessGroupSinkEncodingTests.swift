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
        // Payload lengths across the bulk length's digit boundaries (0, 7, ... 9, 10, 99, 100).
        let batch = ProcessGroupTestBatch.mixed(group: group) { [0, 7, 9, 10, 64, 89, 90, 99, 1_000][$0] }
        // The whole batch, and each delivery on its own (the latency path's batch of one).
        for part in [batch] + batch.map({ [$0] }) + [[]] {
            var push = ByteBuffer()
            ProcessGroupChannelSink.writePushes(part, channel: channel, into: &push)
            #expect(push == Self.reference(part, channel: channel))
        }
        var one = ByteBuffer()
        ProcessGroupChannelSink.writePushes([batch[1]], channel: channel, into: &one)
        #expect(String(buffer: one) == "*3\r\n$7\r\nmessage\r\n$5\r\nbench\r\n$19\r\nmessage 1:1 " +
            String(decoding: ProcessGroupTestBatch.payload(7), as: UTF8.self) + "\r\n")
    }

    @Test func decimalDigitsCountsWhatWriteDecimalWrites() {
        for value: UInt64 in [0, 9, 10, 99, 100, 12_345, UInt64(UInt32.max), UInt64.max] {
            var buffer = ByteBuffer()
            buffer.writeDecimal(value)
            #expect(ProcessGroupChannelSink.decimalDigits(value) == buffer.readableBytes)
        }
    }
}
