import Basics

// The vocabulary of closed process groups (CPG, DESIGN.md section 7, totem-notes section 9):
// a group has a name; a member is one client connection on one node; members receive the
// group's messages and membership changes in Totem's agreed order.

/// A group's name: 1...128 bytes (corosync's CPG_MAX_NAME_LENGTH), printable ASCII without
/// spaces, so that it reads the same in a channel name (`cpg:<name>`) and in event text.
public struct ProcessGroupName: Hashable, Comparable, Sendable, CustomStringConvertible {
    public static let bytesMax = 128
    public let bytes: [UInt8]

    public enum Invalid: Error, Equatable, Sendable, CustomStringConvertible {
        case empty
        case tooLong(Int)
        case badByte(UInt8)
        public var description: String {
            switch self {
            case .empty: "a group name cannot be empty"
            case .tooLong(let n): "a group name has at most \(ProcessGroupName.bytesMax) bytes, not \(n)"
            case .badByte(let b): "a group name is printable ASCII without spaces (byte 0x\(String(b, radix: 16)))"
            }
        }
    }

    public init(validating bytes: [UInt8]) throws(Invalid) {
        guard !bytes.isEmpty else { throw .empty }
        guard bytes.count <= Self.bytesMax else { throw .tooLong(bytes.count) }
        if let bad = bytes.first(where: { $0 <= 0x20 || $0 >= 0x7f }) { throw .badByte(bad) }
        self.bytes = bytes
    }

    public init(_ text: String) throws(Invalid) { try self.init(validating: Array(text.utf8)) }

    public static func < (a: ProcessGroupName, b: ProcessGroupName) -> Bool {
        a.bytes.lexicographicallyPrecedes(b.bytes)
    }

    public var description: String { String(decoding: bytes, as: UTF8.self) }
}

/// A client connection on one node, as the node's client server numbers it (CLIENT ID).
public struct ConnectionID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt64
    public init(_ rawValue: UInt64) { self.rawValue = rawValue }
    public static func < (a: ConnectionID, b: ConnectionID) -> Bool { a.rawValue < b.rawValue }
    public var description: String { String(rawValue) }
}

/// A group member: corosync's (nodeid, pid), here (node id, connection id). Printed
/// `node:connection`.
public struct ProcessGroupMember: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var node: NodeID
    public var connection: ConnectionID
    public init(node: NodeID, connection: ConnectionID) {
        self.node = node
        self.connection = connection
    }
    public static func < (a: ProcessGroupMember, b: ProcessGroupMember) -> Bool {
        (a.node, a.connection) < (b.node, b.connection)
    }
    public var description: String { "\(node):\(connection)" }
}

/// Why a member joined or left; corosync's numbering (cpg.h `cpg_reason_t`).
public enum ProcessGroupReason: UInt8, Hashable, Sendable, CustomStringConvertible {
    /// It asked to join (CPG.JOIN).
    case join = 1
    /// It asked to leave (CPG.LEAVE).
    case leave = 2
    /// Its node left the ring (crash, partition, shutdown).
    case nodeDown = 3
    /// Its node came into the ring (learned from the node's announcement after a
    /// configuration change).
    case nodeUp = 4
    /// Its connection closed (or fell too far behind its pushes) without leaving.
    case processDown = 5

    public var description: String {
        switch self {
        case .join: "join"
        case .leave: "leave"
        case .nodeDown: "node-down"
        case .nodeUp: "node-up"
        case .processDown: "process-down"
        }
    }
}

public struct ProcessGroupMemberChange: Hashable, Sendable, CustomStringConvertible {
    public var member: ProcessGroupMember
    public var reason: ProcessGroupReason
    public init(_ member: ProcessGroupMember, _ reason: ProcessGroupReason) {
        self.member = member
        self.reason = reason
    }
    public var description: String { "\(member)(\(reason))" }
}

/// corosync's confchg callback: the members after the change, who joined and who left.
public struct ProcessGroupChange: Hashable, Sendable {
    public var members: [ProcessGroupMember]
    public var joined: [ProcessGroupMemberChange]
    public var left: [ProcessGroupMemberChange]
    public init(members: [ProcessGroupMember], joined: [ProcessGroupMemberChange], left: [ProcessGroupMemberChange]) {
        self.members = members
        self.joined = joined
        self.left = left
    }
}

/// What a member receives, in the group's total order.
public enum ProcessGroupNotification: Hashable, Sendable {
    /// A group message; the sender receives its own messages too.
    case message(from: ProcessGroupMember, payload: [UInt8])
    case membership(ProcessGroupChange)
}

/// One notification for one local member. `isFinal`: the member has left the group (this
/// is its own leave), nothing more will come for it.
public struct ProcessGroupDelivery: Hashable, Sendable {
    public var connection: ConnectionID
    public var group: ProcessGroupName
    public var notification: ProcessGroupNotification
    public var isFinal: Bool
    public init(connection: ConnectionID, group: ProcessGroupName, notification: ProcessGroupNotification, isFinal: Bool) {
        self.connection = connection
        self.group = group
        self.notification = notification
        self.isFinal = isFinal
    }
}

/// What a local client asks of the process-group service.
public enum ProcessGroupRequest: Hashable, Sendable {
    case join(ProcessGroupName, ConnectionID)
    case leave(ProcessGroupName, ConnectionID)
    case mcast(ProcessGroupName, ConnectionID, payload: [UInt8])
    /// The connection closed: it leaves every group with reason process down.
    case connectionClosed(ConnectionID)
    /// The connection fell too far behind its pushes of `group`: it leaves that group with
    /// reason process down (the shell cannot deliver the rest in order).
    case fellBehind(ProcessGroupName, ConnectionID)
}

public enum ProcessGroupRefusal: Error, Hashable, Sendable, CustomStringConvertible {
    case notJoined
    case alreadyJoined
    case tooManyGroups(max: Int)
    case tooManyLocalMembers(max: Int)
    case payloadTooLarge(bytes: Int, max: Int)
    /// Totem's send queue is full (corosync's CS_ERR_TRY_AGAIN): nothing was sent.
    case tryAgain
    /// The node has left the ring (stopping).
    case notRunning

    public var description: String {
        switch self {
        case .notJoined: "this connection is not a member of the group"
        case .alreadyJoined: "this connection is already a member of the group"
        case .tooManyGroups(let max): "a connection may be in at most \(max) groups"
        case .tooManyLocalMembers(let max): "this node already holds \(max) group memberships"
        case .payloadTooLarge(let bytes, let max): "a message has at most \(max) bytes, not \(bytes)"
        case .tryAgain: "the ring's send queue is full: nothing was sent, retry"
        case .notRunning: "the node is leaving the ring"
        }
    }
}

public enum ProcessGroupReply: Hashable, Sendable {
    /// Queued for Totem: it will be delivered in agreed order (a join is complete when the
    /// member receives its own join event).
    case accepted
    case refused(ProcessGroupRefusal)
}
