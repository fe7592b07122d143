import Basics

/// A closed-process-group message as it travels through Totem, inside
/// `RingMessage.processGroup`. The member's node is Totem's originator of the message, never
/// a field: a node can only speak for its own connections. Not written to the log.
public enum ProcessGroupMessage: Hashable, Sendable {
    case join(ProcessGroupName, ConnectionID)
    /// `reason` is `.leave` or `.processDown` (a connection that fell behind).
    case leave(ProcessGroupName, ConnectionID, reason: ProcessGroupReason)
    /// The connection closed: it leaves every group it is in.
    case processDown(ConnectionID)
    case mcast(ProcessGroupName, ConnectionID, payload: [UInt8])
    /// After the regular configuration `ring`, the originator's complete list of local
    /// memberships (corosync's CPG "joinlist" sync): it is authoritative for that node.
    case announce(ring: RingID, [Announced])

    public struct Announced: Hashable, Sendable {
        public var group: ProcessGroupName
        public var connection: ConnectionID
        public init(group: ProcessGroupName, connection: ConnectionID) {
            self.group = group
            self.connection = connection
        }
    }
}

extension RingMessage {
    /// Tag of `.processGroup`: far from the replication tags (1, 2, 3, and the ones other
    /// services append) so that it never collides with them.
    static let processGroupTag: UInt8 = 16

    /// Whether an encoded ring message is a process-group message, without decoding it.
    public static func isProcessGroupPayload<Bytes: Collection<UInt8>>(_ bytes: Bytes) -> Bool { bytes.first == processGroupTag }
}

extension ProcessGroupMessage {
    private static let joinTag: UInt8 = 1, leaveTag: UInt8 = 2, processDownTag: UInt8 = 3
    private static let mcastTag: UInt8 = 4, announceTag: UInt8 = 5
    /// Largest message payload; the rest of Totem's 1 MiB payload limit is for the header.
    public static let payloadBytesMax = (1 << 20) - 1024
    /// Announced memberships per node (bounds an announcement to well under 1 MiB).
    public static let announcedMax = 4096

    func encode(into w: inout ByteWriter) {
        switch self {
        case .join(let group, let connection):
            w.u8(Self.joinTag)
            w.blob(group.bytes)
            w.u64(connection.rawValue)
        case .leave(let group, let connection, let reason):
            w.u8(Self.leaveTag)
            w.blob(group.bytes)
            w.u64(connection.rawValue)
            w.u8(reason.rawValue)
        case .processDown(let connection):
            w.u8(Self.processDownTag)
            w.u64(connection.rawValue)
        case .mcast(let group, let connection, let payload):
            w.u8(Self.mcastTag)
            w.blob(group.bytes)
            w.u64(connection.rawValue)
            w.blob(payload)
        case .announce(let ring, let entries):
            w.u8(Self.announceTag)
            w.u32(ring.representative.rawValue)
            w.u64(ring.seq)
            w.u32(UInt32(entries.count))
            for entry in entries {
                w.blob(entry.group.bytes)
                w.u64(entry.connection.rawValue)
            }
        }
    }

    static func decode(from r: inout ByteReader) throws -> ProcessGroupMessage {
        func group() throws -> ProcessGroupName {
            let bytes = try r.blob("group name", maxBytes: ProcessGroupName.bytesMax)
            do {
                return try ProcessGroupName(validating: bytes)
            } catch {
                throw DecodeError(reason: error.description, offset: r.offset)
            }
        }
        switch try r.u8("process group message tag") {
        case joinTag:
            return .join(try group(), ConnectionID(try r.u64("connection")))
        case leaveTag:
            let name = try group(), connection = ConnectionID(try r.u64("connection"))
            let raw = try r.u8("reason")
            guard let reason = ProcessGroupReason(rawValue: raw), reason == .leave || reason == .processDown else {
                throw DecodeError(reason: "leave reason \(raw) is not leave or process down", offset: r.offset)
            }
            return .leave(name, connection, reason: reason)
        case processDownTag:
            return .processDown(ConnectionID(try r.u64("connection")))
        case mcastTag:
            let name = try group(), connection = ConnectionID(try r.u64("connection"))
            return .mcast(name, connection, payload: try r.blob("payload", maxBytes: payloadBytesMax))
        case announceTag:
            let ring = RingID(representative: NodeID(try r.u32("ring representative")), seq: try r.u64("ring seq"))
            // Each entry: a 4-byte length, at least one name byte, an 8-byte connection.
            let n = try r.count("announced memberships", max: announcedMax, minItemBytes: 13)
            var entries: [Announced] = []
            entries.reserveCapacity(n)
            for _ in 0..<n {
                entries.append(Announced(group: try group(), connection: ConnectionID(try r.u64("connection"))))
            }
            return .announce(ring: ring, entries)
        case let tag:
            throw DecodeError(reason: "unknown process group message tag \(tag)", offset: r.offset)
        }
    }
}
