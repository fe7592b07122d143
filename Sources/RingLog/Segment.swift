import Basics

/// One segment file as the log tracks it in memory: where each record starts, so a read
/// seeks straight to it.
struct Segment {
    let firstIndex: LogIndex
    let path: String
    /// Open while the segment is being written or read; sealed segments are closed after
    /// their data is synced and reopened on demand.
    var handle: DiskHandle?
    /// Bytes of records (and header) already written to the file: the end of the log in
    /// this file (the log's write buffer continues from here).
    var fileBytes: UInt64
    /// The file's size as the log left it: at least `fileBytes`; the bytes in between are
    /// zeros written ahead (preallocation, RingLog+Preallocation.swift).
    var allocatedBytes: UInt64
    /// The file offset of each record, in index order. Offsets fit UInt32 because
    /// `RingLogOptions` bounds segments and payloads to 1 GiB each.
    var offsets: [UInt32]

    var recordCount: Int { offsets.count }

    /// The index of the last record, or `firstIndex - 1` when the segment is empty.
    var lastIndex: LogIndex { LogIndex(firstIndex.rawValue &+ UInt64(offsets.count) &- 1) }

    func contains(_ index: LogIndex) -> Bool {
        index >= firstIndex && index.rawValue - firstIndex.rawValue < UInt64(offsets.count)
    }

    func offset(of index: LogIndex) -> UInt64 {
        precondition(contains(index), "index \(index) is not in segment \(path)")
        return UInt64(offsets[Int(index.rawValue - firstIndex.rawValue)])
    }
}
