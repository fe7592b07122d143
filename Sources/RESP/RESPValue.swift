import NIOCore

/// A RESP2 value: what a server replies (and what `RESPReplyParser` reads back).
public enum RESPValue: Hashable, Sendable {
    /// `+text` — a short status such as `OK` or `PONG`. Must not contain CR or LF (they are
    /// written as spaces).
    case simpleString(String)
    /// `-CODE message` — the first word is the error code (`ERR`, `WRONGTYPE`, `NOQUORUM`,
    /// `UNKNOWN`). Must not contain CR or LF (they are written as spaces).
    case error(String)
    /// `:n`
    case integer(Int64)
    /// `$n` followed by n binary-safe bytes.
    case bulkString(ByteBuffer)
    /// `$-1`: no value (`GET` of a missing key).
    case nullBulkString
    /// `*n` followed by n values.
    case array([RESPValue])
    /// `*-1`: no array (a timed-out blocking command in Redis).
    case nullArray

    /// `+OK`
    public static let ok = RESPValue.simpleString("OK")

    /// A bulk string holding the UTF-8 of `text`.
    public static func bulk(_ text: String) -> RESPValue { .bulkString(ByteBuffer(string: text)) }

    /// A bulk string holding `bytes`.
    public static func bulk(bytes: some Sequence<UInt8>) -> RESPValue { .bulkString(ByteBuffer(bytes: bytes)) }

    /// An array of bulk strings.
    public static func bulkArray(_ texts: [String]) -> RESPValue { .array(texts.map { .bulk($0) }) }

    /// Appends the value's RESP2 encoding.
    public func encode(into buffer: inout ByteBuffer) {
        switch self {
        case .simpleString(let text): buffer.writeRESPSimpleString(text)
        case .error(let message): buffer.writeRESPError(message)
        case .integer(let value): buffer.writeRESPInteger(value)
        case .bulkString(let bytes): buffer.writeRESPBulkString(bytes)
        case .nullBulkString: buffer.writeRESPNullBulkString()
        case .nullArray: buffer.writeRESPNullArray()
        case .array(let elements):
            buffer.writeRESPArrayHeader(count: elements.count)
            for element in elements { element.encode(into: &buffer) }
        }
    }

    /// The encoding in a new buffer.
    public var encoded: ByteBuffer {
        var buffer = ByteBuffer()
        encode(into: &buffer)
        return buffer
    }

    /// The bytes of a bulk string or the text of a simple string as UTF-8 (lossy), else nil.
    public var string: String? {
        switch self {
        case .simpleString(let text): return text
        case .bulkString(let bytes): return String(decoding: bytes.readableBytesView, as: UTF8.self)
        default: return nil
        }
    }

    /// Whether this is an error reply.
    public var isError: Bool {
        if case .error = self { return true }
        return false
    }
}
