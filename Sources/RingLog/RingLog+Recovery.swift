import Basics

/// Recovery on open: read every segment forward; a segment's records end where only zeros
/// are left (its preallocated tail) or at the end of the file. At the first bad point (a
/// torn or corrupt record with anything but zeros after it, a bad header, a gap between
/// files) either cut the log there, when the point is above the commit index from `meta`,
/// or refuse to open, when it is at or below it: those entries were durable and committed,
/// so their loss is corruption, not a torn tail. A zero tail that ends the records too
/// early is caught the same way: by the gap before the next segment, or by the log ending
/// below the commit index.
extension RingLog {
    func recover() throws {
        try disk.createDirectory(directory)
        try disk.createDirectory(logDirectory)
        meta = try readMeta()
        boundary = try readBoundary()
        let commit = meta?.commitIndex ?? .zero

        var scan = Scan(commit: commit)
        for (first, name) in try segmentFiles() {
            let path = diskPath(logDirectory, name)
            if scan.cut != nil {
                try removeAfterCut(path: path, scan: &scan)
                continue
            }
            let expected = scan.expected ?? LogIndex(min(first.rawValue, boundary.index.rawValue &+ 1))
            if first != expected {
                try scan.badPoint(
                    at: expected, file: path, offset: 0, corruptFile: false,
                    reason: "file starts at index \(first), expected \(expected)")
                try removeAfterCut(path: path, scan: &scan)
                continue
            }
            try scanSegment(path: path, first: first, scan: &scan)
        }
        lastIndex = scan.expected.map { LogIndex($0.rawValue - 1) } ?? boundary.index
        if max(lastIndex, boundary.index) < commit {
            throw RingLogError.logTooShort(directory: logDirectory, lastIndex: lastIndex, commitIndex: commit)
        }
        let compacted = try finishCompaction()
        if lastIndex < boundary.index { lastIndex = boundary.index }
        firstIndex = boundary.index.next
        if let first = segments.first, first.firstIndex > firstIndex { firstIndex = first.firstIndex }
        epochs.drop(below: firstIndex)

        // Whatever survived may still sit unsynced in the page cache (after a process crash):
        // make it durable before calling it durable, together with the cut.
        for k in segments.indices { try disk.sync(try handle(forSegment: k)) }
        try disk.syncDirectory(logDirectory)
        closeSealedSegments()
        durableIndex = lastIndex
        recovery = RecoveryReport(
            firstIndex: firstIndex, lastIndex: lastIndex, boundary: boundary, commitIndex: commit,
            segmentCount: segments.count, segmentsCompacted: compacted, cut: scan.cut)
    }

    /// The segment files of `log/`, by first index. Leftover temporary files are removed.
    private func segmentFiles() throws -> [(LogIndex, String)] {
        var found: [(LogIndex, String)] = []
        for name in try disk.list(directory: logDirectory) {
            if name.hasSuffix(".tmp") {
                try disk.remove(diskPath(logDirectory, name))
            } else if name.hasSuffix(SegmentName.suffix) {
                guard let first = SegmentName.firstIndex(of: name), first > .zero else {
                    throw RingLogError.corruptFile(path: diskPath(logDirectory, name), reason: "bad segment file name")
                }
                found.append((first, name))
            }
        }
        return found.sorted { $0.0 < $1.0 }
    }

    /// Reads one segment, appends it to `segments`, and cuts it at its first bad record.
    private func scanSegment(path: String, first: LogIndex, scan: inout Scan) throws {
        let handle = try disk.open(path, mode: .existing)
        let size = try disk.size(of: handle)
        let bytes = try disk.read(handle, at: 0, count: Int(size))
        switch SegmentHeader.decode(bytes) {
        case .success(let header) where header.firstIndex == first:
            break
        case let result:
            disk.close(handle)
            let reason: String
            switch result {
            case .failure(let defect): reason = defect.description
            case .success(let header): reason = "header says first index \(header.firstIndex)"
            }
            try scan.badPoint(at: first, file: path, offset: 0, corruptFile: true, reason: reason)
            try removeAfterCut(path: path, scan: &scan)
            return
        }
        var segment = Segment(
            firstIndex: first, path: path, handle: handle, fileBytes: size, allocatedBytes: size, offsets: [])
        var offset = SegmentHeader.byteCount
        var next = first
        scanning: while true {
            let defect: String
            switch RecordCodec.decode(bytes, at: offset, payloadBytesMax: options.payloadBytesMax) {
            case .end:
                break scanning
            case .record(let record, let count) where record.index == next:
                segment.offsets.append(UInt32(offset))
                if record.index > boundary.index { epochs.append(record.index, record.epoch) }
                offset += count
                next = next.next
                continue scanning
            case .record(let record, _):
                defect = "index \(record.index), expected \(next)"
            case .defect(let d):
                // Zeros from here to the end of the file: the preallocated tail (or blocks
                // a crash left unwritten), the clean end of this segment's records. The
                // file keeps them; the next append overwrites them.
                if RecordCodec.isAllZero(bytes, from: offset) {
                    segment.fileBytes = UInt64(offset)
                    break scanning
                }
                defect = d.description
            }
            try scan.badPoint(at: next, file: path, offset: UInt64(offset), corruptFile: false, reason: defect)
            try disk.truncate(handle, to: UInt64(offset))
            scan.cut?.bytesRemoved += size - UInt64(offset)
            segment.fileBytes = UInt64(offset)
            segment.allocatedBytes = UInt64(offset)
            break scanning
        }
        segments.append(segment)
        scan.expected = next
    }

    /// Deletes a segment that lies after the cut, counting what it held.
    private func removeAfterCut(path: String, scan: inout Scan) throws {
        let handle = try disk.open(path, mode: .existing)
        let size = try disk.size(of: handle)
        let bytes = try disk.read(handle, at: 0, count: Int(size))
        disk.close(handle)
        var offset = SegmentHeader.byteCount
        var records = 0
        if case .success = SegmentHeader.decode(bytes) {
            while case .record(_, let count) = RecordCodec.decode(
                bytes, at: offset, payloadBytesMax: options.payloadBytesMax)
            {
                offset += count
                records += 1
            }
        }
        try disk.remove(path)
        scan.cut?.bytesRemoved += size
        scan.cut?.validRecordsRemoved += records
        scan.cut?.segmentsRemoved += 1
    }

    /// Deletes the segments an interrupted compaction left wholly at or below the boundary.
    func finishCompaction() throws -> Int {
        var removed = 0
        while let first = segments.first {
            let last = segments.count > 1 ? segments[1].firstIndex.rawValue - 1 : lastIndex.rawValue
            guard last <= boundary.index.rawValue else { break }
            if let handle = first.handle {
                disk.close(handle)
                unsyncedHandles.removeAll { $0 == handle }
            }
            try disk.remove(first.path)
            segments.removeFirst()
            removed += 1
        }
        if segments.isEmpty { buffer.removeAll() }
        return removed
    }

    func readMeta() throws -> LogMeta? {
        guard let bytes = try readSmallFile(directory, "meta") else { return nil }
        switch MetaCodec.decode(bytes) {
        case .success(let meta): return meta
        case .failure(let defect):
            throw RingLogError.corruptFile(path: diskPath(directory, "meta"), reason: defect.reason)
        }
    }

    func readBoundary() throws -> LogPosition {
        guard let bytes = try readSmallFile(logDirectory, BoundaryFile.name) else { return .zero }
        switch BoundaryFile.decode(bytes) {
        case .success(let position): return position
        case .failure(let defect):
            throw RingLogError.corruptFile(path: diskPath(logDirectory, BoundaryFile.name), reason: defect.reason)
        }
    }

    /// The content of a small file, or nil if it does not exist.
    private func readSmallFile(_ directory: String, _ name: String) throws -> [UInt8]? {
        guard try disk.exists(name, in: directory) else { return nil }
        let path = diskPath(directory, name)
        let handle = try disk.open(path, mode: .existing)
        defer { disk.close(handle) }
        let size = try disk.size(of: handle)
        guard size <= 1 << 20 else { throw RingLogError.corruptFile(path: path, reason: "\(size) bytes, too large") }
        return try disk.read(handle, at: 0, count: Int(size))
    }
}

/// The state of the forward scan.
private struct Scan {
    let commit: LogIndex
    /// The index the next record must have (nil before the first segment).
    var expected: LogIndex?
    var cut: RecoveryReport.Cut?

    init(commit: LogIndex) { self.commit = commit }

    /// Records the first bad point, or throws if it lies at or below the commit index.
    mutating func badPoint(at index: LogIndex, file: String, offset: UInt64, corruptFile: Bool, reason: String) throws {
        if index <= commit {
            let why = "\(reason) (index \(index) is at or below the commit index \(commit))"
            if corruptFile { throw RingLogError.corruptFile(path: file, reason: why) }
            throw RingLogError.corruptRecord(file: file, offset: offset, reason: why)
        }
        cut = RecoveryReport.Cut(
            file: file, offset: offset, index: index, reason: reason, bytesRemoved: 0,
            validRecordsRemoved: 0, segmentsRemoved: 0)
        expected = index
    }
}
