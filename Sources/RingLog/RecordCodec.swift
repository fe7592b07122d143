import Basics

/// The framing of one record in a segment file (docs/ringlog-format.md), little-endian:
///
///     offset  size  field
///     0       4     length: bytes after the checksum field (17 + payload bytes)
///     4       4     CRC32C of the length field followed by the `length` bytes after this field
///     8       1     type
///     9       8     index
///     17      8     epoch
///     25      n     payload
///
/// The checksum also covers the length, so a flipped length bit is caught rather than sending
/// the reader to a wrong offset that happens to hold a plausible record.
public enum RecordCodec {
    public static let headerBytes = 25
    /// Bytes of the record after the checksum field when the payload is empty.
    static let fixedBodyBytes = 17

    /// Appends the encoding of `record` to `buffer`.
    public static func encode(_ record: LogRecord, into buffer: inout [UInt8]) {
        record.payload.withUnsafeBytes { payload in
            encode(index: record.index, epoch: record.epoch, type: record.type,
                   payload: payload, UnsafeRawBufferPointer(start: nil, count: 0), into: &buffer)
        }
    }

    /// Appends the encoding of a record whose payload is `head` followed by `tail`, without
    /// joining them first: a caller whose payload is a few fixed fields and a byte string it
    /// already holds (a replicated entry) frames it with one copy of each part.
    public static func encode(
        index: LogIndex, epoch: Epoch, type: UInt8,
        payload head: UnsafeRawBufferPointer, _ tail: UnsafeRawBufferPointer, into buffer: inout [UInt8]
    ) {
        let length = UInt32(fixedBodyBytes + head.count + tail.count)
        // The header (and `head`, when it is small) is built on the stack, checksummed with
        // the payload in place, then appended with one copy: zero-filling the header in the
        // buffer and patching it afterwards cost as much as the checksum. The length is
        // first placed right before the fixed fields, so one checksum call covers it, the
        // fields and `head` (each call costs about as much as 100 bytes of checksum).
        var scratch: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        let inlineHead = head.count <= MemoryLayout.size(ofValue: scratch) - headerBytes
        withUnsafeMutableBytes(of: &scratch) { h in
            h.storeBytes(of: length.littleEndian, toByteOffset: 4, as: UInt32.self)
            h.storeBytes(of: type, toByteOffset: 8, as: UInt8.self)
            h.storeBytes(of: index.rawValue.littleEndian, toByteOffset: 9, as: UInt64.self)
            h.storeBytes(of: epoch.rawValue.littleEndian, toByteOffset: 17, as: UInt64.self)
            var end = headerBytes
            if inlineHead && !head.isEmpty {
                UnsafeMutableRawBufferPointer(rebasing: h[headerBytes..<(headerBytes + head.count)]).copyMemory(from: head)
                end += head.count
            }
            var crc = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: h[4..<end]))
            if !inlineHead { crc = CRC32C.checksum(head, continuing: crc) }
            crc = CRC32C.checksum(tail, continuing: crc)
            h.storeBytes(of: length.littleEndian, toByteOffset: 0, as: UInt32.self)
            h.storeBytes(of: crc.littleEndian, toByteOffset: 4, as: UInt32.self)
            append(UnsafeRawBufferPointer(rebasing: h[0..<end]), to: &buffer)
        }
        if !inlineHead { append(head, to: &buffer) }
        append(tail, to: &buffer)
    }

    /// As a typed buffer: `append(contentsOf:)` of a raw buffer takes a slower generic path.
    @inline(__always)
    private static func append(_ bytes: UnsafeRawBufferPointer, to buffer: inout [UInt8]) {
        guard !bytes.isEmpty else { return }
        bytes.withMemoryRebound(to: UInt8.self) { buffer.append(contentsOf: $0) }
    }

    public static func encode(_ record: LogRecord) -> [UInt8] {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(record.encodedByteCount)
        encode(record, into: &buffer)
        return buffer
    }

    /// Decodes the record that starts at `offset` in `bytes`. Never traps: any input gives a
    /// record, `.end` (no bytes left) or a defect. `payloadBytesMax` bounds the length field.
    public static func decode(
        _ bytes: UnsafeRawBufferPointer, at offset: Int, payloadBytesMax: Int
    ) -> RecordDecoding {
        guard offset >= 0, offset <= bytes.count else { return .defect(.truncated) }
        let available = bytes.count - offset
        if available == 0 { return .end }
        guard available >= 8 else { return .defect(.truncated) }
        let length = loadUInt32(bytes, offset)
        guard length >= UInt32(fixedBodyBytes),
            UInt64(length) <= UInt64(fixedBodyBytes) + UInt64(max(payloadBytesMax, 0))
        else {
            return .defect(length == 0 ? .zeroLength : .lengthOutOfRange(length))
        }
        let total = 8 + Int(length)
        guard available >= total else { return .defect(.truncated) }
        let stored = loadUInt32(bytes, offset + 4)
        let lengthCRC = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + 4)]))
        let actual = CRC32C.checksum(
            UnsafeRawBufferPointer(rebasing: bytes[(offset + 8)..<(offset + total)]), continuing: lengthCRC)
        guard actual == stored else { return .defect(.checksumMismatch) }
        let record = LogRecord(
            index: LogIndex(loadUInt64(bytes, offset + 9)),
            epoch: Epoch(loadUInt64(bytes, offset + 17)),
            type: bytes[offset + 8],
            payload: Array(bytes[(offset + headerBytes)..<(offset + total)]))
        return .record(record, byteCount: total)
    }

    public static func decode(_ bytes: [UInt8], at offset: Int, payloadBytesMax: Int) -> RecordDecoding {
        bytes.withUnsafeBytes { decode($0, at: offset, payloadBytesMax: payloadBytesMax) }
    }

    /// Whether every byte from `offset` to the end is zero (true when none are left): a
    /// segment's preallocated tail, which ends its records. A record is never all zeros
    /// (its length field is at least 17), so this never hides one; it only tells a clean
    /// end from a torn or corrupt record, which has something else after it.
    public static func isAllZero(_ bytes: [UInt8], from offset: Int) -> Bool {
        guard offset >= 0 else { return false }
        guard offset < bytes.count else { return true }
        return bytes.withUnsafeBytes { raw in
            // Eight bytes at a time: a preallocated tail is up to a megabyte.
            var k = offset
            while k < raw.count && k % 8 != 0 {
                if raw[k] != 0 { return false }
                k += 1
            }
            while k + 8 <= raw.count {
                if raw.loadUnaligned(fromByteOffset: k, as: UInt64.self) != 0 { return false }
                k += 8
            }
            while k < raw.count {
                if raw[k] != 0 { return false }
                k += 1
            }
            return true
        }
    }

    static func appendLittleEndian<T: FixedWidthInteger>(_ value: T, to buffer: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { buffer.append(contentsOf: $0) }
    }

    private static func loadUInt32(_ bytes: UnsafeRawBufferPointer, _ offset: Int) -> UInt32 {
        UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    private static func loadUInt64(_ bytes: UnsafeRawBufferPointer, _ offset: Int) -> UInt64 {
        UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }
}

/// The outcome of decoding the bytes at one offset.
public enum RecordDecoding: Equatable, Sendable {
    case record(LogRecord, byteCount: Int)
    /// No bytes left: the clean end of a segment.
    case end
    case defect(RecordDefect)
}

/// Why the bytes at an offset are not a valid record.
public enum RecordDefect: Equatable, Sendable, CustomStringConvertible {
    /// The record runs past the end of the data (a torn write at the tail).
    case truncated
    /// A length of zero: a zero-filled region (recovery reads zeros through the end of a
    /// file as the end of its records: a preallocated tail).
    case zeroLength
    /// A length field below the fixed size or above the payload limit.
    case lengthOutOfRange(UInt32)
    case checksumMismatch

    public var description: String {
        switch self {
        case .truncated: "record truncated"
        case .zeroLength: "zero length field"
        case .lengthOutOfRange(let n): "length field \(n) out of range"
        case .checksumMismatch: "checksum mismatch"
        }
    }
}
