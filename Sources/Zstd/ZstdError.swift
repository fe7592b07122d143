/// Why a compression or decompression failed. Corrupt or hostile input always ends here,
/// never in a crash or an unbounded allocation.
public enum ZstdError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The input is not a valid zstd frame (libzstd's message is kept).
    case corrupt(String)
    /// The input ended before the frame did.
    case truncated
    /// Decompressing would produce more than the allowed number of bytes.
    case tooLarge(limitBytes: Int)
    /// Bytes follow the end of the frame.
    case trailingBytes(count: Int)
    /// libzstd failed for another reason (allocation, bad parameter).
    case failed(String)

    public var description: String {
        switch self {
        case .corrupt(let m): "zstd: corrupt input: \(m)"
        case .truncated: "zstd: input ends in the middle of a frame"
        case .tooLarge(let limit): "zstd: decompressed size exceeds the limit of \(limit) bytes"
        case .trailingBytes(let n): "zstd: \(n) unexpected bytes after the end of the frame"
        case .failed(let m): "zstd: \(m)"
        }
    }
}
