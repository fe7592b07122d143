import Basics
import Replication

/// Everything the process groups of a simulated cluster handed to members, for the checks
/// of `ProcessGroupChecks`.
public struct ProcessGroupRecord: Sendable {
    public struct Key: Hashable, Comparable, Sendable {
        public var member: ProcessGroupMember
        public var group: ProcessGroupName
        public init(member: ProcessGroupMember, group: ProcessGroupName) {
            self.member = member
            self.group = group
        }
        public static func < (a: Key, b: Key) -> Bool { (a.member, a.group) < (b.member, b.group) }
    }

    /// Per member and group: its notifications in the order delivered.
    public internal(set) var deliveries: [Key: [ProcessGroupNotification]] = [:]
    public internal(set) var replies: [ClientToken: ProcessGroupReply] = [:]
    public internal(set) var deliveryCount = 0

    public init() {}

    mutating func delivered(_ delivery: ProcessGroupDelivery, at node: NodeID) {
        let key = Key(member: ProcessGroupMember(node: node, connection: delivery.connection), group: delivery.group)
        deliveries[key, default: []].append(delivery.notification)
        deliveryCount += 1
    }

    public mutating func takeReply(_ token: ClientToken) -> ProcessGroupReply? { replies.removeValue(forKey: token) }
}

extension ReplicationCluster {
    /// A local client of node `index` asks the process groups; false if the node is down or
    /// paused (the client's connection does not get through). The reply, if `token` is
    /// set, lands in `processGroupRecord.replies`.
    public mutating func processGroupRequest(_ request: ProcessGroupRequest, token: ClientToken?, at index: Int) -> Bool {
        guard isUp(index), !isPaused(index) else { return false }
        feed(index, .processGroupRequested(token, request, at: queue.now))
        return true
    }
}
