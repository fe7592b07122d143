import Basics

/// Preallocation: the active segment's file is kept ahead of its records by a tail of
/// zeros, written `preallocationBytes` at a time. A record write then overwrites blocks
/// that are allocated and already written, in a file whose size does not change, so the
/// fdatasync after it flushes data only. An appending write makes every fdatasync also
/// write the inode (size, extents): on ext4 here a 16 KiB write + fdatasync took 0.24 ms
/// appending and 0.10 ms over zeros (p50; Bench/results/ringlog-2026-11-26e.md).
///
/// Zeros, not `fallocate`: fallocate leaves "unwritten" extents, and converting them on the
/// first write into each is metadata again (measured: no better than appending for 16 KiB
/// writes). The zeros are written through `Disk.write`, so the simulator's disk tears and
/// loses them like any other write, and recovery's rule for a zero tail is exercised there.
///
/// The zeros go out with the records' own sync (`zeroAheadBeforeSync`: one sync in every
/// `preallocationBytes` of records pays for them), or ahead of time in
/// `preallocateAhead()`, which `GroupCommitLog` calls when it has nothing to sync.
extension RingLog {
    /// The bytes of zeros written ahead at a time; 0 when preallocation is off (`fsync:
    /// .off` gains nothing from it).
    var preallocationStep: UInt64 {
        options.fsync == .on ? UInt64(options.preallocationBytes) : 0
    }

    /// Writes `bytes` at the end of the records of the last segment (over its zero tail,
    /// or extending the file past it). No sync.
    func writeAtEnd(ofSegment k: Int, _ bytes: UnsafeRawBufferPointer) throws {
        precondition(k == segments.count - 1, "records written to the sealed segment \(segments[k].path)")
        let handle = try handle(forSegment: k)
        let start = segments[k].fileBytes
        let end = start + UInt64(bytes.count)
        try disk.write(handle, at: start, bytes)
        segments[k].fileBytes = end
        if end > segments[k].allocatedBytes { segments[k].allocatedBytes = end }
        unsyncedBytes += bytes.count
        if !unsyncedHandles.contains(handle) { unsyncedHandles.append(handle) }
    }

    /// In `sync()`, after the records are written and before the fdatasync: when they have
    /// used up the active segment's zero tail, zeros a new one after them, so that this
    /// sync makes it durable with them and the next syncs find it. Only after a small sync
    /// (`zeroAheadWriteBytesMax`). Decided per sync, not per write, so that every append
    /// path (buffered, or a large batch written straight) leaves the same files.
    func zeroAheadBeforeSync() throws {
        guard preallocationStep > 0, unsyncedBytes > 0, unsyncedBytes < Self.zeroAheadWriteBytesMax,
            let k = segments.indices.last, segments[k].fileBytes == segments[k].allocatedBytes
        else { return }
        let handle = try handle(forSegment: k)
        try zeroTail(ofSegment: k, handle: handle, through: zeroTarget(after: segments[k].fileBytes, in: k))
        if !unsyncedHandles.contains(handle) { unsyncedHandles.append(handle) }
    }

    /// Extends the zeroed tail of the active segment when less than half a step of it is
    /// left, and syncs it: for an idle moment, so that the next record writes need not
    /// carry the zeros and the new file size in their own sync. Does nothing while records
    /// are buffered or unsynced (the zeros would go after bytes not yet written, and the
    /// sync here would be theirs, with the durable index not advanced), after a large sync
    /// (`zeroAheadWriteBytesMax`: the next records would gain nothing from zeros, and the
    /// next batch is likely already on its way), when preallocation is off, or once the
    /// log has failed. Returns whether it wrote anything.
    @discardableResult
    public func preallocateAhead() throws -> Bool {
        try checkNotFailed()
        guard preallocationStep > 0, buffer.isEmpty, unsyncedHandles.isEmpty,
            lastSyncBytes < Self.zeroAheadWriteBytesMax, let k = segments.indices.last
        else { return false }
        let segment = segments[k]
        guard segment.allocatedBytes - segment.fileBytes < preallocationStep / 2 else { return false }
        let target = zeroTarget(after: segment.allocatedBytes, in: k)
        guard target > segment.allocatedBytes else { return false }
        try guardIO {
            let handle = try handle(forSegment: k)
            try zeroTail(ofSegment: k, handle: handle, through: target)
            try disk.sync(handle)
        }
        return true
    }

    /// Where a zeroed tail that starts at `end` should stop: the next multiple of the step
    /// past `end`, but not beyond `segmentBytesMax` (the segment ends before that).
    private func zeroTarget(after end: UInt64, in k: Int) -> UInt64 {
        let step = preallocationStep
        guard step > 0 else { return end }
        let target = min((end / step + 1) * step, UInt64(options.segmentBytesMax))
        return max(target, end)
    }

    /// Writes zeros from the segment's allocated end through `target`.
    private func zeroTail(ofSegment k: Int, handle: DiskHandle, through target: UInt64) throws {
        var offset = segments[k].allocatedBytes
        guard target > offset else { return }
        let chunk = Self.zeros.count
        while offset < target {
            let count = Int(min(UInt64(chunk), target - offset))
            try Self.zeros.withUnsafeBytes { raw in
                try disk.write(handle, at: offset, UnsafeRawBufferPointer(rebasing: raw[0..<count]))
            }
            offset += UInt64(count)
            // Advanced per chunk: after a failed write the log is failed anyway, and what
            // was written is zeros, which recovery reads as the end.
            segments[k].allocatedBytes = offset
        }
    }

    /// A sync of at least this many bytes that passes the zero tail just extends the file.
    /// Zeros ahead cost as many bytes as the records that later overwrite them and save one
    /// inode write per sync: a win for the small writes of group commit (16 KiB per sync:
    /// fdatasync 0.30 -> 0.12 ms), a loss once they are large (256 KiB per sync measured
    /// 80 % of the raw loop with a 256 KiB step). The next small sync zeros a tail.
    static let zeroAheadWriteBytesMax = 64 << 10

    /// Zeros written from one shared, immutable buffer.
    private static let zeros = [UInt8](repeating: 0, count: 256 << 10)
}
