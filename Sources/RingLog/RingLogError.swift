import Basics

/// Everything that can go wrong with the log, as values that name the file involved.
public enum RingLogError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A disk operation failed. If it was a write, truncate or sync, the log is now failed.
    case io(DiskError)
    /// The log stopped accepting writes after an earlier I/O error (the one given): it will
    /// not claim durability it cannot guarantee. Reopen it to recover.
    case failed(DiskError)
    /// A record that should be intact is not: at or below the last known commit index, or
    /// one read back after recovery. The node must not start (DESIGN.md section 5).
    case corruptRecord(file: String, offset: UInt64, reason: String)
    /// The segments end before the commit index from `meta`: committed entries are missing.
    case logTooShort(directory: String, lastIndex: LogIndex, commitIndex: LogIndex)
    /// A segment header, the meta file or the boundary file is damaged or unreadable.
    case corruptFile(path: String, reason: String)
    /// An appended payload exceeds `RingLogOptions.payloadBytesMax`; nothing was appended.
    case recordTooLarge(index: LogIndex, payloadBytes: Int, limit: Int)
    /// The entry was removed by compaction; the log starts at `firstIndex`.
    case compacted(index: LogIndex, firstIndex: LogIndex)

    public var description: String {
        switch self {
        case .io(let e): "I/O error: \(e)"
        case .failed(let e): "log failed after an I/O error and refuses writes: \(e)"
        case .corruptRecord(let file, let offset, let reason): "corrupt record in \(file) at offset \(offset): \(reason)"
        case .logTooShort(let directory, let last, let commit):
            "the log in \(directory) ends at index \(last), below the commit index \(commit)"
        case .corruptFile(let path, let reason): "corrupt file \(path): \(reason)"
        case .recordTooLarge(let index, let bytes, let limit):
            "record \(index) has \(bytes) payload bytes, more than the limit \(limit)"
        case .compacted(let index, let first): "entry \(index) was compacted away; the log starts at \(first)"
        }
    }
}

/// What recovery found when the log was opened.
public struct RecoveryReport: Equatable, Sendable {
    public var firstIndex: LogIndex
    public var lastIndex: LogIndex
    /// The compaction boundary read from disk (`.zero` if the log was never compacted).
    public var boundary: LogPosition
    /// The commit index from the meta file that recovery checked against.
    public var commitIndex: LogIndex
    public var segmentCount: Int
    /// Segments that an interrupted compaction had left and recovery deleted.
    public var segmentsCompacted: Int
    /// Where the log was cut, if its tail was torn or corrupt; nil if it ended cleanly.
    public var cut: Cut?

    /// A cut at the first bad record above the commit index: everything from `offset` in
    /// `file` on, and every later segment, was removed.
    public struct Cut: Equatable, Sendable {
        public var file: String
        public var offset: UInt64
        /// The first index that is no longer in the log.
        public var index: LogIndex
        public var reason: String
        public var bytesRemoved: UInt64
        /// Whole valid records that were removed with later segments (the bad record and
        /// anything after it in its own segment cannot be counted).
        public var validRecordsRemoved: Int
        public var segmentsRemoved: Int
    }
}
