import Basics

/// Records already framed (header and CRC32C) as they will lie in a segment file, so the
/// encoding can run on one thread while another waits in fdatasync: `GroupCommitLog`
/// encodes the next batch while the current one is being synced, and `RingLog.append(_:)`
/// then only places the bytes. The bytes are exactly those `RecordCodec.encode` gives for
/// each record, back to back, so the file format does not depend on which path wrote it.
public struct EncodedBatch: Sendable, Equatable {
    /// The encodings of the records, back to back.
    public private(set) var bytes: [UInt8] = []
    /// The index of the first record (meaningless when the batch is empty).
    public private(set) var firstIndex: LogIndex = .zero
    /// Per record: its epoch and where its encoding ends in `bytes`.
    private(set) var epochs: [Epoch] = []
    private(set) var ends: [Int] = []

    public init() {}

    /// Encodes `records`, whose indexes must be consecutive.
    public init(_ records: [LogRecord]) {
        append(records)
    }

    public var count: Int { ends.count }
    public var isEmpty: Bool { ends.isEmpty }
    /// The last index, or `firstIndex - 1` when empty.
    public var lastIndex: LogIndex { LogIndex(firstIndex.rawValue &+ UInt64(ends.count) &- 1) }

    /// Encodes more records after those already in the batch.
    public mutating func append(_ records: [LogRecord]) {
        guard let first = records.first else { return }
        if isEmpty {
            firstIndex = first.index
        }
        var total = 0
        for record in records { total &+= record.encodedByteCount }
        bytes.reserveCapacity(bytes.count + total)
        epochs.reserveCapacity(epochs.count + records.count)
        ends.reserveCapacity(ends.count + records.count)
        for record in records {
            precondition(
                record.index.rawValue == firstIndex.rawValue &+ UInt64(ends.count),
                "encoded batch: index \(record.index) does not follow \(lastIndex)")
            RecordCodec.encode(record, into: &bytes)
            epochs.append(record.epoch)
            ends.append(bytes.count)
        }
    }

    /// Encodes one more record whose payload is `head` followed by `tail`, without joining
    /// them first (`RecordCodec.encode(index:epoch:type:payload:_:into:)`): the node frames a
    /// replicated entry from its fixed fields and its op this way, with no payload array.
    public mutating func append(index: LogIndex, epoch: Epoch, type: UInt8,
                                head: UnsafeRawBufferPointer, tail: UnsafeRawBufferPointer) {
        if isEmpty { firstIndex = index }
        precondition(
            index.rawValue == firstIndex.rawValue &+ UInt64(ends.count),
            "encoded batch: index \(index) does not follow \(lastIndex)")
        RecordCodec.encode(index: index, epoch: epoch, type: type, payload: head, tail, into: &bytes)
        epochs.append(epoch)
        ends.append(bytes.count)
    }

    /// Room for `records` more records of `bytes` encoded bytes in all.
    public mutating func reserveCapacity(records: Int, bytes byteCount: Int) {
        bytes.reserveCapacity(bytes.count + byteCount)
        epochs.reserveCapacity(epochs.count + records)
        ends.reserveCapacity(ends.count + records)
    }

    /// The largest payload among the records, and the index of the first record that has it.
    func largestPayload() -> (index: LogIndex, bytes: Int)? {
        var largest: (index: LogIndex, bytes: Int)?
        for k in 0..<ends.count {
            let payload = range(of: k).count - RecordCodec.headerBytes
            if payload > (largest?.bytes ?? -1) { largest = (index(of: k), payload) }
        }
        return largest
    }

    /// Empties the batch but keeps its storage, so the next batch can be encoded into it
    /// without allocating (GroupCommitLog recycles its batches this way).
    public mutating func removeAll() {
        bytes.removeAll(keepingCapacity: true)
        epochs.removeAll(keepingCapacity: true)
        ends.removeAll(keepingCapacity: true)
        firstIndex = .zero
    }

    /// Where the `k`th record's encoding starts and ends in `bytes`.
    func range(of k: Int) -> Range<Int> {
        (k == 0 ? 0 : ends[k - 1])..<ends[k]
    }

    func index(of k: Int) -> LogIndex { LogIndex(firstIndex.rawValue &+ UInt64(k)) }
}
