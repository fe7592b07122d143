/// Identifiers shared by every core. Distinct types so that an index, a node and a count
/// can never be mixed up (STYLE.md: "distinct types for an index, a count and a byte count").

/// A node's identifier, as `nodelist.node.nodeid` in corosync.conf. 0 is reserved.
public struct NodeID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(_ rawValue: UInt32) { self.rawValue = rawValue }
    public static func < (a: NodeID, b: NodeID) -> Bool { a.rawValue < b.rawValue }
    public var description: String { String(rawValue) }
}

/// A Totem ring: its representative (lowest node id of the ring) and its sequence number,
/// which only grows (totem-notes 3.8). Printed as corosync does, `(rep.seq)` in hex.
public struct RingID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var representative: NodeID
    public var seq: UInt64
    public init(representative: NodeID, seq: UInt64) {
        self.representative = representative
        self.seq = seq
    }
    public static func < (a: RingID, b: RingID) -> Bool {
        (a.seq, a.representative.rawValue) < (b.seq, b.representative.rawValue)
    }
    public var description: String {
        "(\(String(representative.rawValue, radix: 16)).\(String(seq, radix: 16)))"
    }
}

/// A position in the replicated log. Counts from 1; 0 means "nothing".
public struct LogIndex: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt64
    public init(_ rawValue: UInt64) { self.rawValue = rawValue }
    public static let zero = LogIndex(0)
    public static func < (a: LogIndex, b: LogIndex) -> Bool { a.rawValue < b.rawValue }
    public var next: LogIndex { LogIndex(rawValue + 1) }
    public var description: String { String(rawValue) }
}

/// An epoch: the ring sequence of a regular configuration (DESIGN.md section 4).
public struct Epoch: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt64
    public init(_ rawValue: UInt64) { self.rawValue = rawValue }
    public static let zero = Epoch(0)
    public static func < (a: Epoch, b: Epoch) -> Bool { a.rawValue < b.rawValue }
    public var description: String { String(rawValue) }
}

/// A client of the store: one sequential caller (a connection). The duplicate-request table
/// is keyed by it, and a recorded history names its callers with it.
public struct ClientID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt64
    public init(_ rawValue: UInt64) { self.rawValue = rawValue }
    public static func < (a: ClientID, b: ClientID) -> Bool { a.rawValue < b.rawValue }
    public var description: String { String(rawValue) }
}
