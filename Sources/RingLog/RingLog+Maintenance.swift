import Basics

/// Changes other than appending: truncating an uncommitted suffix, compacting below a
/// snapshot, and replacing the meta file. Each is durable when it returns, and each leaves
/// the log recoverable if the machine crashes at any step (tests crash at every one).
extension RingLog {
    /// Removes every entry after `index`, durably. `index` must be at least the boundary
    /// and the meta's commit index (committed entries are never truncated).
    ///
    /// Order: later segment files are deleted newest first, then the segment holding
    /// `index + 1` is cut, then the file and the directory are synced. A crash in between
    /// leaves a prefix of the old log that still holds `index`.
    public func truncate(after index: LogIndex) throws {
        try checkNotFailed()
        precondition(index >= boundary.index, "truncate after \(index) below the compaction boundary \(boundary)")
        precondition(
            index >= (meta?.commitIndex ?? .zero),
            "truncate after \(index) below the commit index \(meta?.commitIndex ?? .zero)")
        guard index < lastIndex else { return }
        try guardIO {
            try flushBuffer()
            let keep = index.next
            var removedFile = false
            // A segment starting exactly at `keep` stays, emptied: its name fits the next append.
            while let last = segments.last, last.firstIndex > keep {
                if let handle = last.handle {
                    disk.close(handle)
                    unsyncedHandles.removeAll { $0 == handle }
                }
                try disk.remove(last.path)
                segments.removeLast()
                removedFile = true
            }
            if let k = segments.indices.last {
                let cutOffset = segments[k].contains(keep) ? segments[k].offset(of: keep) : segments[k].fileBytes
                let handle = try self.handle(forSegment: k)
                try disk.truncate(handle, to: cutOffset)
                try disk.sync(handle)
                unsyncedHandles.removeAll { $0 == handle }
                unsyncedBytes = 0  // what is left of them is synced now
                segments[k].fileBytes = cutOffset
                segments[k].allocatedBytes = cutOffset  // the next write zeros a new tail
                let kept = Int(index.rawValue &- segments[k].firstIndex.rawValue &+ 1)
                segments[k].offsets.removeLast(segments[k].offsets.count - max(0, kept))
            }
            if removedFile || isDirectoryUnsynced {
                try disk.syncDirectory(logDirectory)
                isDirectoryUnsynced = false
            }
        }
        epochs.truncate(after: index)
        lastIndex = index
        if durableIndex > index { durableIndex = index }
    }

    /// Discards the entries through `snapshot.index`, which a durable snapshot now covers:
    /// the log then starts at `snapshot.index + 1` and `epoch(of: snapshot.index)` answers
    /// `snapshot.epoch`. Whole segments wholly below the boundary are deleted; entries of a
    /// segment that straddles it stay on disk but are no longer served. A snapshot past the
    /// last index (installed from a peer) empties the log; the next append is then
    /// `snapshot.index + 1`.
    ///
    /// Order: the boundary file is replaced atomically first, then segments are deleted
    /// oldest first; recovery finishes an interrupted deletion.
    public func compact(through snapshot: LogPosition) throws {
        try checkNotFailed()
        guard snapshot.index > boundary.index else { return }
        if snapshot.index <= lastIndex {
            precondition(
                epoch(of: snapshot.index) == snapshot.epoch,
                "compaction at \(snapshot) but the log holds epoch \(String(describing: epoch(of: snapshot.index)))")
            precondition(snapshot.index <= durableIndex, "compaction at \(snapshot) past the durable index \(durableIndex)")
        }
        try guardIO {
            try writeFileAtomically(directory: logDirectory, name: BoundaryFile.name, BoundaryFile.encode(snapshot))
            boundary = snapshot
            if snapshot.index >= lastIndex {
                lastIndex = snapshot.index
                unsyncedHandles.removeAll()
                unsyncedBytes = 0
                isDirectoryUnsynced = false
            }
            if try finishCompaction() > 0 { try disk.syncDirectory(logDirectory) }
        }
        firstIndex = snapshot.index.next
        if snapshot.index >= durableIndex { durableIndex = snapshot.index }
        if segments.isEmpty { epochs.removeAll() } else { epochs.drop(below: firstIndex) }
    }

    /// Replaces the meta file atomically: write `meta.tmp`, sync it, rename it over `meta`,
    /// sync the directory. `meta.commitIndex` must not exceed `durableIndex`.
    public func writeMeta(_ newMeta: LogMeta) throws {
        try checkNotFailed()
        precondition(
            newMeta.commitIndex <= durableIndex,
            "meta commit index \(newMeta.commitIndex) past the durable index \(durableIndex)")
        try guardIO {
            try writeFileAtomically(directory: directory, name: "meta", MetaCodec.encode(newMeta))
        }
        meta = newMeta
    }

    /// Temporary file, sync, rename, sync directory: after a crash at any step the file
    /// holds either its old or its new content.
    func writeFileAtomically(directory: String, name: String, _ bytes: [UInt8]) throws {
        let temporary = diskPath(directory, name + ".tmp")
        let handle = try disk.open(temporary, mode: .createOrTruncate)
        do {
            try disk.write(handle, at: 0, bytes)
            try disk.sync(handle)
        } catch {
            disk.close(handle)
            throw error
        }
        disk.close(handle)
        try disk.rename(temporary, to: diskPath(directory, name))
        try disk.syncDirectory(directory)
    }
}
