/// How a `RingLog` writes. The defaults suit a node; tests use small segments.
public struct RingLogOptions: Sendable, Equatable {
    public enum Fsync: Sendable, Equatable {
        /// `sync()` calls fdatasync: the durable index is true.
        case on
        /// For experiments only: `sync()` writes to the page cache and advances the durable
        /// index without fdatasync, so "durable" is a lie after a machine crash. Meta,
        /// boundary and truncation writes are still synced.
        case off
    }

    public var fsync: Fsync
    /// A new segment starts once the current one would grow past this many bytes.
    public var segmentBytesMax: Int
    /// The largest payload a record may carry; a longer one is refused on append and a
    /// longer length field read back is corruption.
    public var payloadBytesMax: Int
    /// Appended records are buffered in memory and written to the file when the buffer
    /// reaches this size or on `sync()`.
    public var writeBufferBytesMax: Int
    /// With `fsync: .on`, the active segment's file is kept ahead of its records by a tail
    /// of zeros written this many bytes at a time (0: no preallocation; the file grows with
    /// every write, as before). An fdatasync after a write into blocks that are already
    /// allocated and written, in a file whose size does not change, flushes the data only:
    /// on ext4 here 0.10 instead of 0.24 ms for 16 KiB (Bench/results/ringlog-2026-11-26e.md). Recovery reads a zero tail as the end of
    /// the log (docs/ringlog-format.md). Never beyond `segmentBytesMax`. 256 KiB: the sync
    /// that carries a stretch takes about 1 ms longer; 1 MiB saved nothing more per record
    /// and made that sync 3-4 ms longer (and the simulator, which copies the zeros, slower).
    public var preallocationBytes: Int

    public init(
        fsync: Fsync = .on,
        segmentBytesMax: Int = 64 << 20,
        payloadBytesMax: Int = 16 << 20,
        writeBufferBytesMax: Int = 1 << 20,
        preallocationBytes: Int = 256 << 10
    ) {
        // Record offsets inside a segment are stored as UInt32.
        precondition(
            segmentBytesMax > 0 && payloadBytesMax >= 0 && writeBufferBytesMax > 0
                && segmentBytesMax <= 1 << 30 && payloadBytesMax <= 1 << 30
                && preallocationBytes >= 0 && preallocationBytes <= 1 << 30,
            "RingLogOptions out of range: segment \(segmentBytesMax), payload \(payloadBytesMax), preallocation \(preallocationBytes)")
        self.fsync = fsync
        self.segmentBytesMax = segmentBytesMax
        self.payloadBytesMax = payloadBytesMax
        self.writeBufferBytesMax = writeBufferBytesMax
        self.preallocationBytes = preallocationBytes
    }
}
