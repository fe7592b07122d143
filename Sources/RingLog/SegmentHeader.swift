import Basics

/// The first bytes of every segment file (docs/ringlog-format.md), little-endian:
///
///     0   4  magic "TKVL"
///     4   2  format version (1)
///     6   2  header bytes (32), so a later version may grow the header
///     8   8  index of the first record in the file (also the file name)
///     16  12 reserved, zero
///     28  4  CRC32C of bytes 0..<28
struct SegmentHeader: Equatable {
    static let magic: [UInt8] = Array("TKVL".utf8)
    static let version: UInt16 = 1
    static let byteCount = 32

    var firstIndex: LogIndex

    func encoded() -> [UInt8] {
        var w = ByteWriter(capacity: Self.byteCount)
        w.append(contentsOf: Self.magic)
        w.append(Self.version)
        w.append(UInt16(Self.byteCount))
        w.append(firstIndex.rawValue)
        w.append(UInt64(0))
        w.append(UInt32(0))
        w.appendChecksum()
        return w.bytes
    }

    /// Decodes a header, or says what is wrong with it.
    static func decode(_ bytes: [UInt8]) -> Result<SegmentHeader, HeaderDefect> {
        guard bytes.count >= byteCount else { return .failure(.truncated) }
        let header = Array(bytes[0..<byteCount])
        guard ByteReader.hasValidTrailingChecksum(header) else { return .failure(.checksumMismatch) }
        guard Array(header[0..<4]) == magic else { return .failure(.badMagic) }
        var r = ByteReader(header)
        _ = r.read(UInt32.self)
        guard let version = r.read(UInt16.self), let size = r.read(UInt16.self),
            let first = r.read(UInt64.self)
        else { return .failure(.truncated) }
        guard version == Self.version, size == UInt16(byteCount) else {
            return .failure(.unsupportedVersion(version))
        }
        return .success(SegmentHeader(firstIndex: LogIndex(first)))
    }

    enum HeaderDefect: Error, Equatable, CustomStringConvertible {
        case truncated, checksumMismatch, badMagic
        case unsupportedVersion(UInt16)
        var description: String {
            switch self {
            case .truncated: "segment header truncated"
            case .checksumMismatch: "segment header checksum mismatch"
            case .badMagic: "not a segment file (bad magic)"
            case .unsupportedVersion(let v): "unsupported segment format version \(v)"
            }
        }
    }
}

/// Segment file names: the first index, zero-padded to 20 digits, then ".seg".
enum SegmentName {
    static let suffix = ".seg"
    static let digits = 20

    static func name(firstIndex: LogIndex) -> String {
        let number = String(firstIndex.rawValue)
        return String(repeating: "0", count: digits - number.count) + number + suffix
    }

    /// The first index a segment file name stands for, or nil if `name` is not a segment name.
    static func firstIndex(of name: String) -> LogIndex? {
        guard name.hasSuffix(suffix) else { return nil }
        let number = name.dropLast(suffix.count)
        guard number.count == digits, number.allSatisfy({ $0 >= "0" && $0 <= "9" }),
            let value = UInt64(number)
        else { return nil }
        return LogIndex(value)
    }
}

/// The file `log/boundary`: the compaction boundary, i.e. the last index and epoch covered
/// by a snapshot. Entries at or below it are gone (or ignored) and the log starts after it.
///
///     0   4  magic "TKVB"
///     4   2  version (1)
///     6   2  reserved, zero
///     8   8  boundary index
///     16  8  boundary epoch
///     24  4  CRC32C of bytes 0..<24
enum BoundaryFile {
    static let name = "boundary"
    static let magic: [UInt8] = Array("TKVB".utf8)
    static let version: UInt16 = 1
    static let byteCount = 28

    static func encode(_ position: LogPosition) -> [UInt8] {
        var w = ByteWriter(capacity: byteCount)
        w.append(contentsOf: magic)
        w.append(version)
        w.append(UInt16(0))
        w.append(position.index.rawValue)
        w.append(position.epoch.rawValue)
        w.appendChecksum()
        return w.bytes
    }

    static func decode(_ bytes: [UInt8]) -> Result<LogPosition, FormatDefect> {
        guard bytes.count == byteCount else { return .failure(.init("size \(bytes.count), expected \(byteCount)")) }
        guard ByteReader.hasValidTrailingChecksum(bytes) else { return .failure(.init("checksum mismatch")) }
        guard Array(bytes[0..<4]) == magic else { return .failure(.init("bad magic")) }
        var r = ByteReader(bytes)
        _ = r.read(UInt32.self)
        guard let v = r.read(UInt16.self), v == version else { return .failure(.init("unsupported version")) }
        _ = r.read(UInt16.self)
        guard let index = r.read(UInt64.self), let epoch = r.read(UInt64.self) else {
            return .failure(.init("truncated"))
        }
        return .success(LogPosition(index: LogIndex(index), epoch: Epoch(epoch)))
    }
}

/// Why a small checksummed file (meta, boundary) could not be decoded.
public struct FormatDefect: Error, Equatable, Sendable, CustomStringConvertible {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}
