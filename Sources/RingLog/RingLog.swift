import Basics

/// The durable append-only log of one node (DESIGN.md section 5, docs/ringlog-format.md).
///
/// Layout under `directory`: `log/` holds the segment files, named by the index of their
/// first record, and `boundary` (the compaction point); `meta` holds the node's small state.
///
/// Single owner, synchronous: `append` buffers records (writing them to the file when the
/// buffer fills), `sync()` writes the rest and issues one fdatasync for all of them (group
/// commit) and only then advances `durableIndex`. `GroupCommitLog` runs this on a thread of
/// its own for the real node; the simulator calls it directly on a `SimulatedDisk`.
///
/// Invariants: `boundary.index < firstIndex <= lastIndex + 1`,
/// `durableIndex <= lastIndex`, `meta.commitIndex <= durableIndex`.
/// After a failed write, truncate or sync the log is `failure`d and refuses every change.
public final class RingLog {
    public let disk: any Disk
    public let directory: String
    public let options: RingLogOptions
    let logDirectory: String

    /// The first index the log holds (`boundary.index + 1`, or the first record on disk).
    public internal(set) var firstIndex: LogIndex = LogIndex(1)
    /// The last appended index (synced or not); `firstIndex - 1` when the log is empty.
    public internal(set) var lastIndex: LogIndex = .zero
    /// Everything through this index is on disk: fdatasync returned after it was written
    /// (or, with `fsync: .off`, only written; see `isDurabilityReal`).
    public internal(set) var durableIndex: LogIndex = .zero
    /// The compaction boundary: the snapshot's last index and epoch. `epoch(of:)` answers for it.
    public internal(set) var boundary: LogPosition = .zero
    /// The meta file's content, as last read or written.
    public internal(set) var meta: LogMeta?
    /// The I/O error that stopped the log, if any.
    public internal(set) var failure: DiskError?
    /// What recovery did when the log was opened.
    public internal(set) var recovery: RecoveryReport

    /// False with `fsync: .off`: the durable index then only means "written to the OS".
    public var isDurabilityReal: Bool { options.fsync == .on }

    var segments: [Segment] = []
    var epochs = EpochRuns()
    /// Encoded bytes of the last segment not yet written to its file.
    var buffer: [UInt8] = []
    /// Files written since the last sync, and whether the directory changed.
    var unsyncedHandles: [DiskHandle] = []
    var isDirectoryUnsynced = false
    /// Record bytes written to files since the last sync, and by the last sync
    /// (RingLog+Preallocation.swift).
    var unsyncedBytes = 0
    var lastSyncBytes = 0

    /// Opens (creating if needed) the log in `directory` and recovers it. Throws if a record
    /// at or below the meta's commit index is damaged, or on an I/O error.
    public init(disk: any Disk, directory: String, options: RingLogOptions = RingLogOptions()) throws {
        self.disk = disk
        self.directory = directory
        self.options = options
        self.logDirectory = diskPath(directory, "log")
        self.recovery = RecoveryReport(
            firstIndex: LogIndex(1), lastIndex: .zero, boundary: .zero, commitIndex: .zero,
            segmentCount: 0, segmentsCompacted: 0, cut: nil)
        do {
            try recover()
        } catch let error as DiskError {
            closeAll()
            throw RingLogError.io(error)
        } catch {
            closeAll()
            throw error
        }
    }

    deinit { closeAll() }

    /// Closes every file. The log must not be used afterwards.
    public func close() { closeAll() }

    // MARK: - Appending

    /// Appends records with consecutive indexes starting at `lastIndex + 1`. They are
    /// durable only after a later `sync()` returns. Throws without appending anything if a
    /// payload is too large; throws `.failed` once the log has failed.
    public func append(_ records: [LogRecord]) throws {
        let last = lastIndex
        for (k, record) in records.enumerated() {
            precondition(
                record.index.rawValue == last.rawValue &+ 1 &+ UInt64(k),
                "append of index \(record.index) at position \(k) after last index \(last)")
        }
        try append(count: records.count, payloadByteCount: { records[$0].payload.count }) { k, place in
            let record = records[k]
            record.payload.withUnsafeBytes { payload in
                place(RecordParts(index: record.index, epoch: record.epoch, type: record.type,
                                  head: payload, tail: UnsafeRawBufferPointer(start: nil, count: 0)))
            }
        }
    }

    public func append(_ record: LogRecord) throws { try append([record]) }

    /// One record handed to `append(count:payloadByteCount:parts:)`: its payload is `head`
    /// followed by `tail`, valid only during the call it is passed to.
    public struct RecordParts {
        public var index: LogIndex
        public var epoch: Epoch
        public var type: UInt8
        public var head: UnsafeRawBufferPointer
        public var tail: UnsafeRawBufferPointer

        public init(index: LogIndex, epoch: Epoch, type: UInt8, head: UnsafeRawBufferPointer, tail: UnsafeRawBufferPointer) {
            self.index = index
            self.epoch = epoch
            self.type = type
            self.head = head
            self.tail = tail
        }
    }

    /// Appends `count` records with consecutive indexes starting at `lastIndex + 1`, framed
    /// straight into the write buffer: for the `k`th, `payloadByteCount(k)` is its payload
    /// size and `parts(k, place)` must call `place` once with it. A caller whose payload is
    /// a few fixed fields and a byte string it holds (a replicated entry) needs no joined
    /// payload array. The files get the same bytes and the same writes as `append(_ records:)`.
    /// Durable only after a later `sync()`; throws without appending anything if a payload
    /// is too large; throws `.failed` once the log has failed.
    public func append(
        count: Int, payloadByteCount: (Int) -> Int, parts: (Int, (RecordParts) -> Void) -> Void
    ) throws {
        try checkNotFailed()
        for k in 0..<count where payloadByteCount(k) > options.payloadBytesMax {
            throw RingLogError.recordTooLarge(
                index: LogIndex(lastIndex.rawValue &+ 1 &+ UInt64(k)), payloadBytes: payloadByteCount(k),
                limit: options.payloadBytesMax)
        }
        try guardIO {
            var k = 0
            while k < count { k = try appendFramedRun(from: k, count: count, payloadByteCount, parts) }
        }
    }

    /// Places records from the `k`th on (at least one) until the segment is full or the
    /// write buffer must be written; returns the first one left. The per-record work runs
    /// on locals: every access to a stored property of this class is checked for
    /// exclusivity at run time (`swift_beginAccess`), which cost more than framing a record.
    /// The buffer and the offsets table are moved out and back, not copied.
    private func appendFramedRun(
        from k: Int, count: Int, _ payloadByteCount: (Int) -> Int, _ parts: (Int, (RecordParts) -> Void) -> Void
    ) throws -> Int {
        let first = lastIndex.next
        try startSegmentIfFull(for: first, recordBytes: UInt64(RecordCodec.headerBytes + payloadByteCount(k)))
        let s = segments.count - 1
        let fileBytes = segments[s].fileBytes
        let segmentBytesMax = UInt64(options.segmentBytesMax)
        let bufferBytesMax = options.writeBufferBytesMax
        var bytes: [UInt8] = []
        swap(&bytes, &buffer)
        var offsets: [UInt32] = []
        swap(&offsets, &segments[s].offsets)
        var index = first
        var runEpoch: Epoch?
        var j = k
        while j < count {
            let payloadBytes = payloadByteCount(j)
            // A record that would carry a non-empty segment past the limit starts the next
            // segment (the first one of the run was checked above).
            if j > k, fileBytes + UInt64(bytes.count) + UInt64(RecordCodec.headerBytes + payloadBytes) > segmentBytesMax {
                break
            }
            offsets.append(UInt32(fileBytes + UInt64(bytes.count)))
            var epoch: Epoch?
            parts(j) { r in
                precondition(epoch == nil, "record \(j) placed twice")
                precondition(r.index == index, "append of index \(r.index) at position \(j), expected \(index)")
                precondition(r.head.count + r.tail.count == payloadBytes,
                             "record \(r.index): \(r.head.count + r.tail.count) payload bytes, announced \(payloadBytes)")
                RecordCodec.encode(index: r.index, epoch: r.epoch, type: r.type, payload: r.head, r.tail, into: &bytes)
                epoch = r.epoch
            }
            guard let epoch else { preconditionFailure("record \(j) was not placed") }
            // `EpochRuns` keeps one run per epoch change: only a change needs telling it.
            if epoch != runEpoch {
                epochs.append(index, epoch)
                runEpoch = epoch
            }
            index = index.next
            j += 1
            if bytes.count >= bufferBytesMax { break }
        }
        swap(&bytes, &buffer)
        swap(&offsets, &segments[s].offsets)
        lastIndex = LogIndex(index.rawValue &- 1)
        if buffer.count >= bufferBytesMax { try flushBuffer() }
        return j
    }

    /// Starts a segment for record `first` of `recordBytes` encoded bytes when there is none,
    /// or when it would carry a non-empty segment past `segmentBytesMax` (the one rule every
    /// append path splits segments by, so that they all write the same files).
    func startSegmentIfFull(for first: LogIndex, recordBytes: UInt64) throws {
        if let last = segments.last {
            let end = last.fileBytes + UInt64(buffer.count)
            if last.recordCount > 0 && end + recordBytes > UInt64(options.segmentBytesMax) {
                try startSegment(at: first)
            }
        } else {
            try startSegment(at: first)
        }
    }

    /// Seals the current segment and starts a file whose name is `first`.
    func startSegment(at first: LogIndex) throws {
        if let last = segments.last {
            try flushBuffer()
            precondition(last.lastIndex.next == first, "new segment \(first) after \(last.lastIndex)")
        }
        let path = diskPath(logDirectory, SegmentName.name(firstIndex: first))
        let handle = try disk.open(path, mode: .createOrTruncate)
        segments.append(Segment(firstIndex: first, path: path, handle: handle, fileBytes: 0, allocatedBytes: 0, offsets: []))
        buffer = SegmentHeader(firstIndex: first).encoded()
        isDirectoryUnsynced = true
    }

    /// Writes the buffered bytes to the last segment's file (no sync).
    func flushBuffer() throws {
        guard !buffer.isEmpty, let k = segments.indices.last else { return }
        try buffer.withUnsafeBytes { try writeAtEnd(ofSegment: k, $0) }
        buffer.removeAll(keepingCapacity: true)
    }

    // MARK: - Group commit

    /// Writes everything appended and makes it durable with one fdatasync per touched file
    /// (normally one) and, after a new segment, one directory fsync. Returns the new durable
    /// index, which advances only after those calls return. With `fsync: .off` it only writes.
    @discardableResult
    public func sync() throws -> LogIndex {
        try checkNotFailed()
        if durableIndex == lastIndex && buffer.isEmpty && unsyncedHandles.isEmpty { return durableIndex }
        try guardIO {
            try flushBuffer()
            try zeroAheadBeforeSync()
            if options.fsync == .on {
                for handle in unsyncedHandles { try disk.sync(handle) }
                if isDirectoryUnsynced { try disk.syncDirectory(logDirectory) }
            }
        }
        unsyncedHandles.removeAll()
        lastSyncBytes = unsyncedBytes
        unsyncedBytes = 0
        isDirectoryUnsynced = false
        closeSealedSegments()
        durableIndex = lastIndex
        return durableIndex
    }

    // MARK: - Reading

    /// The epoch of the entry at `index`, of the compaction boundary, or nil if the log
    /// does not hold it (index 0 answers epoch 0).
    public func epoch(of index: LogIndex) -> Epoch? {
        if index == boundary.index { return boundary.epoch }
        guard index >= firstIndex, index <= lastIndex else { return nil }
        return epochs.epoch(of: index)
    }

    /// The last entry's index and epoch (the boundary when the log is empty).
    public var lastPosition: LogPosition {
        LogPosition(index: lastIndex, epoch: epoch(of: lastIndex) ?? boundary.epoch)
    }

    /// The last entry, or nil if the log holds none.
    public func lastRecord() throws -> LogRecord? {
        guard lastIndex >= firstIndex else { return nil }
        return try read(from: lastIndex, through: lastIndex).first
    }

    /// The entries `from...through`, which must lie within `firstIndex...lastIndex`
    /// (an index below `firstIndex` throws `.compacted`). A damaged record throws
    /// `.corruptRecord` naming the file and offset.
    public func read(from: LogIndex, through: LogIndex) throws -> [LogRecord] {
        guard from <= through else { return [] }
        if from < firstIndex { throw RingLogError.compacted(index: from, firstIndex: firstIndex) }
        precondition(through <= lastIndex, "read through \(through) past last index \(lastIndex)")
        if !buffer.isEmpty, let last = segments.last, last.contains(through), last.offset(of: through) >= last.fileBytes {
            try checkNotFailed()
            try guardIO { try flushBuffer() }
        }
        var result: [LogRecord] = []
        result.reserveCapacity(Int(through.rawValue - from.rawValue + 1))
        var next = from
        var k = segmentIndex(containing: from)
        while next <= through {
            let upTo = min(through, segments[k].lastIndex)
            try readRecords(in: k, from: next, through: upTo, into: &result)
            next = upTo.next
            k += 1
        }
        return result
    }

    /// The entries from `from` on, through at most `through`, stopping before the byte
    /// budget is exceeded (but always at least one entry): a bounded read for catch-up.
    public func read(from: LogIndex, through: LogIndex, bytesMax: Int) throws -> [LogRecord] {
        guard from <= through else { return [] }
        if from < firstIndex { throw RingLogError.compacted(index: from, firstIndex: firstIndex) }
        precondition(through <= lastIndex, "read through \(through) past last index \(lastIndex)")
        var end = from
        var bytes = recordBytes(from)
        while end < through {
            let next = recordBytes(end.next)
            if bytes + next > bytesMax { break }
            bytes += next
            end = end.next
        }
        return try read(from: from, through: end)
    }

    /// The encoded size of the record at `index`, from the offsets table.
    private func recordBytes(_ index: LogIndex) -> Int {
        let k = segmentIndex(containing: index)
        let segment = segments[k]
        let start = segment.offset(of: index)
        let fileEnd = k == segments.count - 1 ? segment.fileBytes + UInt64(buffer.count) : segment.fileBytes
        let end = index < segment.lastIndex ? segment.offset(of: index.next) : fileEnd
        return Int(end - start)
    }

    private func readRecords(in k: Int, from: LogIndex, through: LogIndex, into result: inout [LogRecord]) throws {
        let segment = segments[k]
        let start = segment.offset(of: from)
        let end = through < segment.lastIndex ? segment.offset(of: through.next) : segment.fileBytes
        let handle: DiskHandle
        do {
            handle = try self.handle(forSegment: k)
        } catch let error as DiskError {
            throw RingLogError.io(error)
        }
        let bytes: [UInt8]
        do {
            bytes = try disk.read(handle, at: start, count: Int(end - start))
        } catch let error as DiskError {
            throw RingLogError.io(error)
        }
        var position = 0
        var index = from
        while index <= through {
            let fileOffset = start + UInt64(position)
            switch RecordCodec.decode(bytes, at: position, payloadBytesMax: options.payloadBytesMax) {
            case .record(let record, let size) where record.index == index:
                result.append(record)
                position += size
                index = index.next
            case .record(let record, _):
                throw RingLogError.corruptRecord(
                    file: segment.path, offset: fileOffset, reason: "index \(record.index), expected \(index)")
            case .end:
                throw RingLogError.corruptRecord(
                    file: segment.path, offset: fileOffset, reason: "file ends before index \(index)")
            case .defect(let defect):
                throw RingLogError.corruptRecord(file: segment.path, offset: fileOffset, reason: defect.description)
            }
        }
    }

    /// Where the record at `index` starts on disk (a segment path and a byte offset), for
    /// error reports and repair tools; nil if the log does not hold it.
    public func location(of index: LogIndex) -> (path: String, offset: UInt64)? {
        guard index >= firstIndex, index <= lastIndex else { return nil }
        let segment = segments[segmentIndex(containing: index)]
        return (segment.path, segment.offset(of: index))
    }

    /// The position in `segments` of the segment holding `index` (which the log holds).
    func segmentIndex(containing index: LogIndex) -> Int {
        var low = 0
        var high = segments.count
        while low < high {
            let mid = (low + high) / 2
            if segments[mid].firstIndex <= index { low = mid + 1 } else { high = mid }
        }
        precondition(low > 0 && segments[low - 1].contains(index), "no segment holds index \(index)")
        return low - 1
    }

    func handle(forSegment k: Int) throws -> DiskHandle {
        if let handle = segments[k].handle { return handle }
        let handle = try disk.open(segments[k].path, mode: .existing)
        segments[k].handle = handle
        return handle
    }

    // MARK: - Failure

    func checkNotFailed() throws {
        if let failure { throw RingLogError.failed(failure) }
    }

    /// Runs a write-path operation; a disk error fails the log for good.
    func guardIO<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as DiskError {
            failure = error
            throw RingLogError.io(error)
        }
    }

    /// Closes the handles of sealed segments whose data is synced.
    func closeSealedSegments() {
        for k in segments.indices.dropLast() {
            if let handle = segments[k].handle, !unsyncedHandles.contains(handle) {
                disk.close(handle)
                segments[k].handle = nil
            }
        }
    }

    func closeAll() {
        for k in segments.indices {
            if let handle = segments[k].handle { disk.close(handle) }
            segments[k].handle = nil
        }
    }
}
