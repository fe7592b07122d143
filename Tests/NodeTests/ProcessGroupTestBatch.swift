import Basics
import Replication
@testable import Node

/// A batch of deliveries for the push-encoding tests: one message from each sender id in
/// `senderIDs` (ids of every decimal width) with a binary payload of `payloadCount(n)`
/// bytes, and a membership change at position 3.
enum ProcessGroupTestBatch {
    static let senderIDs: [UInt64] = [0, 1, 9, 10, 99, 100, 12_345, UInt64(UInt32.max), UInt64.max]

    /// The payload of `count` bytes every test expects: byte i is i * 37.
    static func payload(_ count: Int) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 37) }
    }

    static func mixed(group: ProcessGroupName, payloadCount: (Int) -> Int) -> [ProcessGroupDelivery] {
        var batch: [ProcessGroupDelivery] = []
        for (n, id) in senderIDs.enumerated() {
            let from = ProcessGroupMember(node: NodeID(UInt32(truncatingIfNeeded: id)), connection: ConnectionID(id))
            batch.append(ProcessGroupDelivery(connection: ConnectionID(5), group: group,
                                              notification: .message(from: from, payload: payload(payloadCount(n))),
                                              isFinal: false))
        }
        let member = ProcessGroupMember(node: NodeID(2), connection: ConnectionID(7))
        let change = ProcessGroupChange(members: [member], joined: [ProcessGroupMemberChange(member, .join)], left: [])
        batch.insert(ProcessGroupDelivery(connection: ConnectionID(5), group: group, notification: .membership(change),
                                          isFinal: false), at: 3)
        return batch
    }
}
