import Basics

/// The node's small durable state next to the log (DESIGN.md section 5), replaced
/// atomically by `RingLog.writeMeta`.
public struct LogMeta: Hashable, Sendable {
    /// At most this many voters are stored; a larger configuration is a programmer error.
    public static let votersMax = 1024

    public var nodeID: NodeID
    /// The last epoch in which this node finished sync (DESIGN.md section 4).
    public var normalEpoch: Epoch
    /// The voter configuration, in the order given (keep it sorted by node id).
    public var voters: [Voter]
    /// The last commit index this node knows of. Recovery treats a damaged record at or below
    /// it as corruption, never as a torn tail, so it must never exceed what this log holds
    /// durably (`RingLog.writeMeta` checks this).
    public var commitIndex: LogIndex

    public init(nodeID: NodeID, normalEpoch: Epoch, voters: [Voter], commitIndex: LogIndex) {
        self.nodeID = nodeID
        self.normalEpoch = normalEpoch
        self.voters = voters
        self.commitIndex = commitIndex
    }

    public struct Voter: Hashable, Sendable {
        public var nodeID: NodeID
        public var votes: UInt32
        public init(nodeID: NodeID, votes: UInt32) {
            self.nodeID = nodeID
            self.votes = votes
        }
    }
}

/// The `meta` file format (docs/ringlog-format.md), little-endian:
///
///     0   4  magic "TKVM"
///     4   2  version (1)
///     6   2  reserved, zero
///     8   4  node id
///     12  8  normal epoch
///     20  8  commit index
///     28  4  voter count n (at most LogMeta.votersMax)
///     32  8n (node id u32, votes u32) per voter
///     ..  4  CRC32C of everything before it
public enum MetaCodec {
    static let magic: [UInt8] = Array("TKVM".utf8)
    static let version: UInt16 = 1
    static let fixedBytes = 36

    public static func encode(_ meta: LogMeta) -> [UInt8] {
        precondition(meta.voters.count <= LogMeta.votersMax, "meta with \(meta.voters.count) voters")
        var w = ByteWriter(capacity: fixedBytes + 8 * meta.voters.count)
        w.append(contentsOf: magic)
        w.append(version)
        w.append(UInt16(0))
        w.append(meta.nodeID.rawValue)
        w.append(meta.normalEpoch.rawValue)
        w.append(meta.commitIndex.rawValue)
        w.append(UInt32(meta.voters.count))
        for voter in meta.voters {
            w.append(voter.nodeID.rawValue)
            w.append(voter.votes)
        }
        w.appendChecksum()
        return w.bytes
    }

    public static func decode(_ bytes: [UInt8]) -> Result<LogMeta, FormatDefect> {
        guard bytes.count >= fixedBytes else { return .failure(.init("file too short (\(bytes.count) bytes)")) }
        guard ByteReader.hasValidTrailingChecksum(bytes) else { return .failure(.init("checksum mismatch")) }
        guard Array(bytes[0..<4]) == magic else { return .failure(.init("bad magic")) }
        var r = ByteReader(bytes)
        _ = r.read(UInt32.self)
        guard let v = r.read(UInt16.self), v == version else { return .failure(.init("unsupported version")) }
        _ = r.read(UInt16.self)
        guard let node = r.read(UInt32.self), let epoch = r.read(UInt64.self),
            let commit = r.read(UInt64.self), let count = r.read(UInt32.self)
        else { return .failure(.init("truncated")) }
        guard count <= UInt32(LogMeta.votersMax), bytes.count == fixedBytes + 8 * Int(count) else {
            return .failure(.init("voter count \(count) does not match the file size \(bytes.count)"))
        }
        var voters: [LogMeta.Voter] = []
        for _ in 0..<count {
            guard let id = r.read(UInt32.self), let votes = r.read(UInt32.self) else {
                return .failure(.init("truncated voter list"))
            }
            voters.append(LogMeta.Voter(nodeID: NodeID(id), votes: votes))
        }
        return .success(
            LogMeta(nodeID: NodeID(node), normalEpoch: Epoch(epoch), voters: voters, commitIndex: LogIndex(commit)))
    }
}
