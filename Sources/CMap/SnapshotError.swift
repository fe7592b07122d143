import Zstd

/// Why snapshot bytes or a snapshot file were rejected. Every check of
/// docs/snapshot-format.md that fails ends here, never in a trap.
public enum SnapshotError: Error, Equatable, Sendable, CustomStringConvertible {
    case notASnapshot
    case unsupportedFormatVersion(UInt32)
    /// The header is malformed or its checksum does not match.
    case corruptHeader(String)
    /// The bytes end before the size the header announces, or go on after it.
    case wrongLength(expectedBytes: UInt64, actualBytes: Int)
    /// The compressed or the decompressed body does not match its checksum.
    case checksumMismatch(String)
    /// The body would be larger than the configured maximum.
    case tooLarge(rawBodyBytes: UInt64, limitBytes: Int)
    case decompressionFailed(ZstdError)
    /// The decompressed body does not parse, or breaks an invariant (keys out of order...).
    case corruptBody(String)
    /// Reading or writing a snapshot file failed.
    case io(String)

    public var description: String {
        switch self {
        case .notASnapshot: "not a TotemKV snapshot (bad magic)"
        case .unsupportedFormatVersion(let v): "unsupported snapshot format version \(v)"
        case .corruptHeader(let m): "corrupt snapshot header: \(m)"
        case .wrongLength(let expected, let actual):
            "snapshot should be \(expected) bytes long, it is \(actual) (truncated or extended)"
        case .checksumMismatch(let m): "snapshot checksum mismatch: \(m)"
        case .tooLarge(let raw, let limit): "snapshot body of \(raw) bytes exceeds the limit of \(limit) bytes"
        case .decompressionFailed(let e): "snapshot body does not decompress: \(e)"
        case .corruptBody(let m): "corrupt snapshot body: \(m)"
        case .io(let m): "snapshot file: \(m)"
        }
    }
}
