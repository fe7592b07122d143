/// Why a received packet was dropped by `WireCodec.decode`. Untrusted bytes never trap: every
/// way a packet can be malformed maps to exactly one reason, and the shell counts them
/// (`WireRejectionCounters`). The raw values are stable (they index the counters and may
/// appear in status output); add new reasons at the end.
public enum WireRejection: UInt8, Error, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    /// Fewer bytes than the fixed header.
    case truncatedHeader = 0
    /// More bytes than `WireCodec.packetBytesMax`.
    case oversized = 1
    /// Not a TotemKV packet (another protocol, or corosync itself on the same port).
    case badMagic = 2
    /// A format version this build does not speak.
    case unsupportedVersion = 3
    /// The header's reserved field is not zero.
    case reservedNotZero = 4
    /// The header announces a longer body than the datagram holds.
    case truncatedBody = 5
    /// The datagram holds bytes beyond the announced body.
    case trailingBytes = 6
    /// The CRC32C does not match (corruption, or a packet cut and glued).
    case badChecksum = 7
    /// A message type this version does not define.
    case unknownType = 8
    /// A flag bit this message type does not define.
    case unknownFlags = 9
    /// The body ends before its fields do (a count larger than the bytes that follow).
    case bodyTooShort = 10
    /// The body has bytes left after its last field.
    case bodyTooLong = 11
    /// A list count above its limit (`membersMax`, `retransmitRequestsMax`).
    case countOverLimit = 12
    /// NodeID 0 (reserved) where a node must be named.
    case zeroNodeID = 13
    /// A recovered mcast inside a recovered mcast: exactly one level of nesting is legal.
    case nestingTooDeep = 14
    /// A commit token whose member-info count differs from its member count.
    case memberInfoCountMismatch = 15
    /// A commit token whose members are not in ring order (strictly ascending node id).
    case membersNotInRingOrder = 16
    /// A node listed twice in a join's proc set or failed set.
    case duplicateNode = 17
    /// A commit token whose member index exceeds its member count.
    case memberIndexOutOfRange = 18
    /// A byte that encodes an enumeration (presence marker, ring-test kind) with no meaning.
    case invalidEnumValue = 19

    public var description: String {
        switch self {
        case .truncatedHeader: "truncated header"
        case .oversized: "oversized"
        case .badMagic: "bad magic"
        case .unsupportedVersion: "unsupported version"
        case .reservedNotZero: "reserved not zero"
        case .truncatedBody: "truncated body"
        case .trailingBytes: "trailing bytes"
        case .badChecksum: "bad checksum"
        case .unknownType: "unknown type"
        case .unknownFlags: "unknown flags"
        case .bodyTooShort: "body too short"
        case .bodyTooLong: "body too long"
        case .countOverLimit: "count over limit"
        case .zeroNodeID: "node id 0"
        case .nestingTooDeep: "nesting too deep"
        case .memberInfoCountMismatch: "member info count mismatch"
        case .membersNotInRingOrder: "members not in ring order"
        case .duplicateNode: "duplicate node"
        case .memberIndexOutOfRange: "member index out of range"
        case .invalidEnumValue: "invalid enum value"
        }
    }
}

/// Dropped packets counted per reason, for status and statistics. A fixed array indexed by
/// the reason's raw value, so counting allocates nothing and the order of `all` is stable.
public struct WireRejectionCounters: Hashable, Sendable {
    private var counts: [UInt64]

    public init() {
        counts = [UInt64](repeating: 0, count: WireRejection.allCases.count)
    }

    public mutating func record(_ reason: WireRejection) {
        counts[Int(reason.rawValue)] &+= 1
    }

    public subscript(reason: WireRejection) -> UInt64 {
        counts[Int(reason.rawValue)]
    }

    /// Every packet rejected, whatever the reason.
    public var total: UInt64 {
        counts.reduce(0, &+)
    }

    /// Every reason with its count, in raw-value order.
    public var all: [(reason: WireRejection, count: UInt64)] {
        WireRejection.allCases.map { ($0, counts[Int($0.rawValue)]) }
    }
}
