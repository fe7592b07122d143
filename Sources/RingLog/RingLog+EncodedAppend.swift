import Basics

extension RingLog {
    /// Runs of at least this many encoded bytes go from the batch straight to the file
    /// instead of through the write buffer: the copy would cost more than the extra write.
    static let directWriteBytesMin = 64 << 10

    /// Appends records encoded elsewhere (`EncodedBatch`), which must start at
    /// `lastIndex + 1`. The segment files get exactly the bytes `append(_ records:)` would
    /// write, split across segments by the same rule. Like that method, durable only after
    /// a later `sync()`; throws without appending anything if a payload is too large.
    public func append(_ batch: EncodedBatch) throws {
        try checkNotFailed()
        guard !batch.isEmpty else { return }
        precondition(
            batch.firstIndex == lastIndex.next, "append of index \(batch.firstIndex) after last index \(lastIndex)")
        for k in 0..<batch.count {
            let payloadBytes = batch.range(of: k).count - RecordCodec.headerBytes
            if payloadBytes > options.payloadBytesMax {
                throw RingLogError.recordTooLarge(
                    index: batch.index(of: k), payloadBytes: payloadBytes, limit: options.payloadBytesMax)
            }
        }
        try guardIO {
            var k = 0
            while k < batch.count { k = try appendRun(of: batch, from: k) }
        }
    }

    /// Places the records of `batch` from the `k`th on that fit the current segment (at least
    /// one, after starting a new segment if the rule says so); returns the first one left.
    private func appendRun(of batch: EncodedBatch, from k: Int) throws -> Int {
        try startSegmentIfFull(for: batch.index(of: k), recordBytes: UInt64(batch.range(of: k).count))
        let s = segments.count - 1
        let runStart = segments[s].fileBytes + UInt64(buffer.count)
        let segmentBytesMax = UInt64(options.segmentBytesMax)
        // The per-record work runs on locals: every access to a stored property of this class
        // is checked for exclusivity at run time (`swift_beginAccess`), which cost more than
        // the rest of placing a record. The offsets table is moved out and back, not copied.
        var offsets: [UInt32] = []
        swap(&offsets, &segments[s].offsets)
        let wasEmpty = offsets.isEmpty
        var end = runStart
        var j = k
        var runEpoch: Epoch?
        // The same rule as one record at a time: a record that would carry a non-empty
        // segment past the limit starts the next segment.
        while j < batch.count {
            let size = UInt64(batch.range(of: j).count)
            if j > k || !wasEmpty, end + size > segmentBytesMax { break }
            offsets.append(UInt32(end))
            // `EpochRuns` keeps one run per epoch change: only a change needs telling it.
            let epoch = batch.epochs[j]
            if epoch != runEpoch {
                epochs.append(batch.index(of: j), epoch)
                runEpoch = epoch
            }
            end += size
            j += 1
        }
        swap(&offsets, &segments[s].offsets)
        lastIndex = batch.index(of: j - 1)
        let bytes = batch.range(of: k).lowerBound..<batch.range(of: j - 1).upperBound
        if bytes.count >= RingLog.directWriteBytesMin {
            try flushBuffer()
            try batch.bytes.withUnsafeBytes { raw in
                try writeAtEnd(ofSegment: s, UnsafeRawBufferPointer(rebasing: raw[bytes]))
            }
        } else {
            buffer.append(contentsOf: batch.bytes[bytes])
            if buffer.count >= options.writeBufferBytesMax { try flushBuffer() }
        }
        return j
    }
}
