import Basics

/// A node's state in votequorum's table (corosync `NODESTATE_*`, same values).
public enum NodeState: UInt8, Hashable, Sendable, CustomStringConvertible {
    case member = 1
    case dead = 2
    /// Shut down cleanly with allow_downscale: its votes may leave expected votes.
    case leaving = 3

    public var description: String {
        switch self {
        case .member: "member"
        case .dead: "dead"
        case .leaving: "leaving"
        }
    }
}

/// The flags a node announces in its NODEINFO (corosync `NODE_FLAGS_*`, same bit values).
public struct NodeInfoFlags: OptionSet, Hashable, Sendable {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    public static let quorate = NodeInfoFlags(rawValue: 1)
    public static let leaving = NodeInfoFlags(rawValue: 2)
    /// Still waiting for all votes (wait_for_all status).
    public static let waitForAllStatus = NodeInfoFlags(rawValue: 4)
    /// Set from start-up until the node first sees another member.
    public static let first = NodeInfoFlags(rawValue: 8)
    /// The bits this implementation knows; qdevice bits (16…256) are not supported.
    static let known: NodeInfoFlags = [.quorate, .leaving, .waitForAllStatus, .first]
}

/// What every member multicasts during each membership sync (corosync
/// `req_exec_quorum_nodeinfo`): its votes, its expected votes and its flags.
public struct NodeInfo: Hashable, Sendable {
    public var nodeID: NodeID
    public var votes: Votes
    public var expectedVotes: Votes
    public var flags: NodeInfoFlags

    public init(nodeID: NodeID, votes: Votes, expectedVotes: Votes, flags: NodeInfoFlags) {
        self.nodeID = nodeID
        self.votes = votes
        self.expectedVotes = expectedVotes
        self.flags = flags
    }

    static let encodedTag: UInt8 = 0x4E  // "N"
    public static let encodedBytes = 17

    /// `tag(1) nodeID(4) votes(4) expected(4) flags(4)`, little-endian.
    public func encoded() -> [UInt8] {
        var writer = ByteWriter(capacity: Self.encodedBytes)
        writer.write(Self.encodedTag)
        writer.write(nodeID.rawValue)
        writer.write(votes.rawValue)
        writer.write(expectedVotes.rawValue)
        writer.write(flags.rawValue)
        return writer.bytes
    }

    public init(decoding bytes: [UInt8]) throws(QuorumMessageError) {
        guard bytes.count == Self.encodedBytes else {
            throw .wrongLength(expectedBytes: Self.encodedBytes, actualBytes: bytes.count)
        }
        var reader = ByteReader(bytes)
        guard reader.readUInt8() == Self.encodedTag else { throw .unknownTag(bytes[0]) }
        // The length was checked above, so these reads cannot fail.
        guard let id = reader.readUInt32(), let votes = reader.readUInt32(),
            let expected = reader.readUInt32(), let flags = reader.readUInt32()
        else { throw .wrongLength(expectedBytes: Self.encodedBytes, actualBytes: bytes.count) }
        let decodedFlags = NodeInfoFlags(rawValue: flags)
        guard decodedFlags.isSubset(of: .known) else { throw .unknownFlags(flags) }
        guard id != 0 else { throw .reservedNodeID }
        self.init(
            nodeID: NodeID(id), votes: Votes(votes), expectedVotes: Votes(expected),
            flags: decodedFlags)
    }
}

/// An administrative change, delivered in total order to every node (corosync
/// `req_exec_quorum_reconfigure`): `setexpected`, `setvotes`, or cancelling wait_for_all.
public enum Reconfiguration: Hashable, Sendable, CustomStringConvertible {
    case expectedVotes(Votes)
    case nodeVotes(NodeID, Votes)
    case cancelWaitForAll

    static let encodedTag: UInt8 = 0x52  // "R"
    public static let encodedBytes = 10

    /// `tag(1) param(1: 1 expected, 2 node votes, 3 cancel wfa) nodeID(4) value(4)`,
    /// little-endian; corosync's parameter numbers.
    public func encoded() -> [UInt8] {
        var writer = ByteWriter(capacity: Self.encodedBytes)
        writer.write(Self.encodedTag)
        switch self {
        case .expectedVotes(let votes):
            writer.write(UInt8(1))
            writer.write(UInt32(0))
            writer.write(votes.rawValue)
        case .nodeVotes(let node, let votes):
            writer.write(UInt8(2))
            writer.write(node.rawValue)
            writer.write(votes.rawValue)
        case .cancelWaitForAll:
            writer.write(UInt8(3))
            writer.write(UInt32(0))
            writer.write(UInt32(0))
        }
        return writer.bytes
    }

    public init(decoding bytes: [UInt8]) throws(QuorumMessageError) {
        guard bytes.count == Self.encodedBytes else {
            throw .wrongLength(expectedBytes: Self.encodedBytes, actualBytes: bytes.count)
        }
        var reader = ByteReader(bytes)
        guard reader.readUInt8() == Self.encodedTag else { throw .unknownTag(bytes[0]) }
        guard let param = reader.readUInt8(), let node = reader.readUInt32(),
            let value = reader.readUInt32()
        else { throw .wrongLength(expectedBytes: Self.encodedBytes, actualBytes: bytes.count) }
        switch param {
        case 1: self = .expectedVotes(Votes(value))
        case 2:
            guard node != 0 else { throw .reservedNodeID }
            self = .nodeVotes(NodeID(node), Votes(value))
        case 3: self = .cancelWaitForAll
        default: throw .unknownParameter(param)
        }
    }

    public var description: String {
        switch self {
        case .expectedVotes(let n): "setexpected \(n)"
        case .nodeVotes(let node, let n): "setvotes \(node) \(n)"
        case .cancelWaitForAll: "cancel wait_for_all"
        }
    }
}

/// Why NODEINFO or RECONFIGURE bytes could not be decoded.
public enum QuorumMessageError: Error, Hashable, Sendable, CustomStringConvertible {
    case wrongLength(expectedBytes: Int, actualBytes: Int)
    case unknownTag(UInt8)
    case unknownFlags(UInt32)
    case unknownParameter(UInt8)
    case reservedNodeID

    public var description: String {
        switch self {
        case .wrongLength(let expected, let actual):
            "quorum message has \(actual) bytes, expected \(expected)"
        case .unknownTag(let tag): "unknown quorum message tag 0x\(String(tag, radix: 16))"
        case .unknownFlags(let flags): "NODEINFO has unknown flag bits 0x\(String(flags, radix: 16))"
        case .unknownParameter(let p): "unknown reconfigure parameter \(p)"
        case .reservedNodeID: "node id 0 is reserved"
        }
    }
}
