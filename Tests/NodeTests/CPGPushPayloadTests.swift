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
        let ids: [UInt64] = [0, 1, 9, 10, 99, 100, 12_345, UInt64(UInt32.max), UInt64.max]
        var batch: [ProcessGroupDelivery] = []
        for (n, id) in ids.enumerated() {
            let from = ProcessGroupMember(node: NodeID(UInt32(truncatingIfNeeded: id)), connection: ConnectionID(id))
            let payload = (0..<n * 7).map { UInt8(truncatingIfNeeded: $0 &* 37) }
            batch.append(ProcessGroupDelivery(connection: ConnectionID(5), group: group,
                                              notification: .message(from: from, payload: payload), isFinal: false))
        }
        let member = ProcessGroupMember(node: NodeID(2), connection: ConnectionID(7))
        let change = ProcessGroupChange(members: [member], joined: [ProcessGroupMemberChange(member, .join)], left: [])
        batch.insert(ProcessGroupDelivery(connection: ConnectionID(5), group: group, notification: .membership(change),
                                          isFinal: false), at: 3)
        let batched = CommandDispatcher.processGroupPushPayloads(batch)
        let single = batch.map { CommandDispatcher.processGroupPushPayload($0.notification) }
        #expect(batched == single)
        #expect(String(buffer: batched[1]) == "message 1:1 " + String(decoding: (0..<7).map { UInt8(truncatingIfNeeded: $0 &* 37) }, as: UTF8.self))
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
