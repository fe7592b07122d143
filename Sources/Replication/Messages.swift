import Basics
import Quorum

/// What a member reports at the start of a sync (DESIGN.md section 4 rule 3).
public struct SyncState: Hashable, Sendable {
    /// The regular configuration being synced.
    public var epoch: Epoch
    /// The last epoch in which the sender finished a sync.
    public var normalEpoch: Epoch
    /// The sender's last durable index, and the epoch of that entry.
    public var lastIndex: LogIndex
    public var lastEpoch: Epoch
    /// The sender's known commit index (never above the true one).
    public var commitIndex: LogIndex
    public init(epoch: Epoch, normalEpoch: Epoch, lastIndex: LogIndex, lastEpoch: Epoch, commitIndex: LogIndex) {
        self.epoch = epoch
        self.normalEpoch = normalEpoch
        self.lastIndex = lastIndex
        self.lastEpoch = lastEpoch
        self.commitIndex = commitIndex
    }
}

/// One client write as it travels through Totem; the originator is Totem's.
public struct WriteRequest: Hashable, Sendable {
    public var requestID: UInt64
    public var clientID: UInt64
    public var clientSeq: UInt64
    public var op: [UInt8]
    public init(requestID: UInt64, clientID: UInt64, clientSeq: UInt64, op: [UInt8]) {
        self.requestID = requestID
        self.clientID = clientID
        self.clientSeq = clientSeq
        self.op = op
    }
}

/// Messages ordered by Totem: every member delivers them in the same order.
public enum RingMessage: Hashable, Sendable {
    /// Writes submitted in `epoch`; delivered in another epoch they are dropped everywhere.
    case writes(epoch: Epoch, [WriteRequest])
    case syncState(SyncState)
    /// A linearizable-read barrier; `id` grows per originator.
    case readBarrier(epoch: Epoch, id: UInt64)
    /// votequorum's NODEINFO for the membership sync of `ringID` (QuorumMessages.swift).
    case nodeInfo(ringID: RingID, NodeInfo)
    /// A closed-process-group message (ProcessGroupMessage.swift); never written to the log.
    case processGroup(ProcessGroupMessage)
}

/// Point-to-point messages outside the total order. They may be lost, duplicated or
/// reordered: every one is idempotent or cumulative, and resent on the tick timer.
public enum PeerMessage: Hashable, Sendable {
    /// "In `epoch`, my log is durable through `durableIndex`, and the last read barrier of
    /// yours that I delivered is `barrierID`." Sent only by members that finished sync in
    /// `epoch` (DESIGN rule 5).
    case ack(epoch: Epoch, durableIndex: LogIndex, barrierID: UInt64)
    /// A syncing member asks the source for entries `from...through`.
    case fetch(epoch: Epoch, from: LogIndex, through: LogIndex)
    /// The source's answer: consecutive entries starting at the requested index.
    case entries(epoch: Epoch, [Entry])
    /// The source's answer when it has compacted past the requested index: its state at
    /// `index` (ordered in `snapshotEpoch`), as a CMap snapshot file.
    case snapshot(epoch: Epoch, index: LogIndex, snapshotEpoch: Epoch, bytes: [UInt8])
}

extension RingMessage {
    private static let writesTag: UInt8 = 1, syncTag: UInt8 = 2, barrierTag: UInt8 = 3
    static let writesMax = 4096
    /// Tag, epoch, count.
    static let writesHeaderBytes = 1 + 8 + 4

    static func isWrites(_ payload: ArraySlice<UInt8>) -> Bool { payload.first == writesTag }

    /// The number of writes in a `.writes` payload of `epoch` that `init(decoding:)` would
    /// accept (the same bounds, count and length checks), without copying anything; nil
    /// when it would throw or the epoch differs. Plain offsets: it runs on every delivery.
    static func checkedWritesCount(_ payload: ArraySlice<UInt8>, epoch: Epoch) -> Int? {
        payload.withUnsafeBytes { raw -> Int? in
            guard raw.count >= writesHeaderBytes, raw[0] == writesTag,
                  UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 1, as: UInt64.self)) == epoch.rawValue
            else { return nil }
            let n = Int(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 9, as: UInt32.self)))
            var offset = writesHeaderBytes
            guard n <= writesMax, n * 28 <= raw.count - offset else { return nil }
            for _ in 0..<n {
                // Request id, client id, client seq, op length; then the op.
                guard raw.count - offset >= 28 else { return nil }
                let length = Int(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: offset + 24, as: UInt32.self)))
                offset += 28
                guard length <= Entry.opBytesMax, raw.count - offset >= length else { return nil }
                offset += length
            }
            return offset == raw.count ? n : nil
        }
    }

    /// `RingMessage.writes(epoch: epoch, [request]).encoded()` without the array: each
    /// client write is sent as a message of its own.
    static func encodedWrite(epoch: Epoch, _ request: WriteRequest) -> [UInt8] {
        ExactWriter.bytes(count: writesHeaderBytes + 8 + 8 + 8 + 4 + request.op.count) { w in
            w.u8(Self.writesTag)
            w.u64(epoch.rawValue)
            w.u32(1)
            Self.encode(request, into: &w)
        }
    }

    private static func encode(_ r: WriteRequest, into w: inout ExactWriter) {
        w.u64(r.requestID)
        w.u64(r.clientID)
        w.u64(r.clientSeq)
        w.blob(r.op)
    }

    public func encoded() -> [UInt8] {
        // Made only for the other messages: a writer reserves its buffer when made.
        var w: ByteWriter
        switch self {
        case .writes(let epoch, let requests):
            // Every client write is encoded here once: sized first, then written in place.
            var count = 1 + 8 + 4
            for r in requests { count += 8 + 8 + 8 + 4 + r.op.count }
            return ExactWriter.bytes(count: count) { w in
                w.u8(Self.writesTag)
                w.u64(epoch.rawValue)
                w.u32(UInt32(requests.count))
                for r in requests { Self.encode(r, into: &w) }
            }
        case .syncState(let s):
            w = ByteWriter()
            w.u8(Self.syncTag)
            for v in [s.epoch.rawValue, s.normalEpoch.rawValue, s.lastIndex.rawValue,
                      s.lastEpoch.rawValue, s.commitIndex.rawValue] { w.u64(v) }
        case .readBarrier(let epoch, let id):
            w = ByteWriter()
            w.u8(Self.barrierTag)
            w.u64(epoch.rawValue)
            w.u64(id)
        case .nodeInfo(let ringID, let info):
            w = ByteWriter()
            Self.encodeNodeInfo(ringID: ringID, info, into: &w)
        case .processGroup(let message):
            w = ByteWriter()
            w.u8(Self.processGroupTag)
            message.encode(into: &w)
        }
        return w.bytes
    }

    public init(decoding bytes: [UInt8]) throws {
        try self.init(decoding: bytes[...])
    }

    public init(decoding bytes: ArraySlice<UInt8>) throws {
        var r = ByteReader(bytes)
        switch try r.u8("ring message tag") {
        case Self.writesTag:
            let epoch = Epoch(try r.u64("epoch"))
            let n = try r.count("writes", max: Self.writesMax, minItemBytes: 28)
            var requests: [WriteRequest] = []
            requests.reserveCapacity(n)
            for _ in 0..<n {
                requests.append(WriteRequest(
                    requestID: try r.u64("request id"), clientID: try r.u64("client id"),
                    clientSeq: try r.u64("client seq"), op: try r.blob("op", maxBytes: Entry.opBytesMax)))
            }
            self = .writes(epoch: epoch, requests)
        case Self.syncTag:
            self = .syncState(SyncState(
                epoch: Epoch(try r.u64("epoch")), normalEpoch: Epoch(try r.u64("normal epoch")),
                lastIndex: LogIndex(try r.u64("last index")), lastEpoch: Epoch(try r.u64("last epoch")),
                commitIndex: LogIndex(try r.u64("commit index"))))
        case Self.barrierTag:
            self = .readBarrier(epoch: Epoch(try r.u64("epoch")), id: try r.u64("barrier id"))
        case Self.nodeInfoTag:
            self = try Self.decodeNodeInfo(from: &r)
        case Self.processGroupTag:
            self = .processGroup(try ProcessGroupMessage.decode(from: &r))
        case let tag:
            throw DecodeError(reason: "unknown ring message tag \(tag)", offset: 0)
        }
        try r.finish()
    }
}

extension PeerMessage {
    private static let ackTag: UInt8 = 1, fetchTag: UInt8 = 2, entriesTag: UInt8 = 3, snapshotTag: UInt8 = 4
    static let entriesMax = 4096
    /// Largest snapshot sent in one message.
    public static let snapshotBytesMax = 512 << 20

    public func encoded() -> [UInt8] {
        var w = ByteWriter()
        switch self {
        case .ack(let epoch, let durable, let barrier):
            w.u8(Self.ackTag)
            w.u64(epoch.rawValue)
            w.u64(durable.rawValue)
            w.u64(barrier)
        case .fetch(let epoch, let from, let through):
            w.u8(Self.fetchTag)
            w.u64(epoch.rawValue)
            w.u64(from.rawValue)
            w.u64(through.rawValue)
        case .entries(let epoch, let entries):
            w.u8(Self.entriesTag)
            w.u64(epoch.rawValue)
            w.u32(UInt32(entries.count))
            for e in entries { e.encode(into: &w) }
        case .snapshot(let epoch, let index, let snapshotEpoch, let bytes):
            w.u8(Self.snapshotTag)
            w.u64(epoch.rawValue)
            w.u64(index.rawValue)
            w.u64(snapshotEpoch.rawValue)
            w.blob(bytes)
        }
        return w.bytes
    }

    public init(decoding bytes: [UInt8]) throws {
        var r = ByteReader(bytes)
        switch try r.u8("peer message tag") {
        case Self.ackTag:
            self = .ack(epoch: Epoch(try r.u64("epoch")), durableIndex: LogIndex(try r.u64("durable index")),
                        barrierID: try r.u64("barrier id"))
        case Self.fetchTag:
            self = .fetch(epoch: Epoch(try r.u64("epoch")), from: LogIndex(try r.u64("from")),
                          through: LogIndex(try r.u64("through")))
        case Self.entriesTag:
            let epoch = Epoch(try r.u64("epoch"))
            let n = try r.count("entries", max: Self.entriesMax, minItemBytes: 52)
            var entries: [Entry] = []
            entries.reserveCapacity(n)
            for _ in 0..<n { entries.append(try Entry.decode(from: &r)) }
            self = .entries(epoch: epoch, entries)
        case Self.snapshotTag:
            self = .snapshot(epoch: Epoch(try r.u64("epoch")), index: LogIndex(try r.u64("index")),
                             snapshotEpoch: Epoch(try r.u64("snapshot epoch")),
                             bytes: try r.blob("snapshot", maxBytes: Self.snapshotBytesMax))
        case let tag:
            throw DecodeError(reason: "unknown peer message tag \(tag)", offset: 0)
        }
        try r.finish()
    }
}
