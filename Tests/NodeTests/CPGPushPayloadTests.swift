import Basics
import NIOCore
import Replication
import Testing
@testable import Node

/// The batched push encoding (one buffer per batch) writes what the one-at-a-time encoding
/// writes, for messages (binary payloads, ids of every width) and membership changes.
@Suite struct CPGPushPayloadTests {
    @Test func aBatchEncodesLikeOneAtATime() throws {
        let group = try ProcessGroupName("g")
        let batch = ProcessGroupTestBatch.mixed(group: group) { $0 * 7 }
        let batched = CommandDispatcher.processGroupPushPayloads(batch)
        let single = batch.map { CommandDispatcher.processGroupPushPayload($0.notification) }
        #expect(batched == single)
        #expect(String(buffer: batched[1]) == "message 1:1 " + String(decoding: ProcessGroupTestBatch.payload(7), as: UTF8.self))
        #expect(CommandDispatcher.processGroupPushPayloads([]).isEmpty)
    }

    @Test func decimalDigits() {
        for value: UInt64 in [0, 7, 10, 42, 1_000, 999_999, UInt64.max] {
            var buffer = ByteBuffer()
            buffer.writeDecimal(value)
            #expect(String(buffer: buffer) == String(value))
        }
    }
}
