import Basics

/// One entry of the log as stored: its position, the epoch it was ordered in, a type byte
/// whose meaning belongs to the layer above (Replication), and opaque payload bytes.
public struct LogRecord: Hashable, Sendable {
    public var index: LogIndex
    public var epoch: Epoch
    public var type: UInt8
    public var payload: [UInt8]

    public init(index: LogIndex, epoch: Epoch, type: UInt8 = 0, payload: [UInt8]) {
        self.index = index
        self.epoch = epoch
        self.type = type
        self.payload = payload
    }

    /// The bytes this record takes in a segment file.
    public var encodedByteCount: Int { RecordCodec.headerBytes + payload.count }
}

/// An index together with the epoch of the entry at that index: the log's compaction
/// boundary (the snapshot's last index and epoch), or the log's last entry.
public struct LogPosition: Hashable, Sendable, CustomStringConvertible {
    public var index: LogIndex
    public var epoch: Epoch
    public init(index: LogIndex, epoch: Epoch) {
        self.index = index
        self.epoch = epoch
    }
    public static let zero = LogPosition(index: .zero, epoch: .zero)
    public var description: String { "\(index)@\(epoch)" }
}
