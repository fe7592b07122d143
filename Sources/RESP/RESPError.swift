/// Malformed or over-limit protocol input. `message` is the text of the `-ERR` reply in
/// Redis's words; `isFatal` says whether the server must close the connection after sending
/// it, because the parser cannot find where the next request starts.
///
/// After a fatal error a parser stays failed: every later call throws the same error.
/// After a non-fatal error the offending request has been consumed (or will be discarded as
/// its remaining bytes arrive) and the next call goes on with the next request.
public struct RESPError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Kind: Hashable, Sendable {
        // Fatal: framing is lost.
        /// `*<count>` where count is not an integer, is below -1, or above `Int32.max`.
        case invalidMultibulkLength
        /// `*<count>` header with no CRLF within `inlineBytesMax` bytes.
        case multibulkCountTooLong
        /// Inside a request array, an element that does not start with `$`.
        case expectedDollar(got: UInt8)
        /// `$<length>` where length is not an integer, is negative, or above
        /// `discardBulkBytesMax`.
        case invalidBulkLength
        /// `$<length>` header with no CRLF within `inlineBytesMax` bytes.
        case bulkCountTooLong
        /// The two bytes after a bulk string's payload are not CRLF.
        case bulkNotTerminated
        /// An inline command line with no `\n` within `inlineBytesMax` bytes.
        case inlineTooLong

        // Not fatal: the request was framed; it is refused and skipped.
        /// An inline line whose quotes do not close (or a closing quote not followed by space).
        case unbalancedQuotes
        /// More arguments than `argumentsMax`.
        case tooManyArguments(count: Int64, limit: Int)
        /// A bulk string longer than `bulkBytesMax`.
        case bulkTooLong(length: Int64, limit: Int)
        /// The arguments of one request add up to more than `requestBytesMax`.
        case requestTooLarge(limit: Int)
        /// More requests in flight than `pendingRequestsMax` (raised by the server, see
        /// `RESPPendingRequests`).
        case tooManyPendingRequests(limit: Int)

        // Reply parsing (our client side); all fatal.
        /// A reply starting with a byte that is not one of `+ - : $ *`.
        case invalidReplyType(got: UInt8)
        /// `:<n>` where n is not a 64-bit integer.
        case invalidInteger
        /// A reply line (simple string, error, integer) with no CRLF within the line limit.
        case replyLineTooLong
        /// Arrays nested deeper than the reply parser's limit.
        case replyNestedTooDeep(limit: Int)
    }

    public var kind: Kind

    public init(_ kind: Kind) { self.kind = kind }

    /// True when the connection must be closed after the error reply.
    public var isFatal: Bool {
        switch kind {
        case .unbalancedQuotes, .tooManyArguments, .bulkTooLong, .requestTooLarge, .tooManyPendingRequests:
            return false
        case .invalidMultibulkLength, .multibulkCountTooLong, .expectedDollar, .invalidBulkLength,
            .bulkCountTooLong, .bulkNotTerminated, .inlineTooLong, .invalidReplyType, .invalidInteger,
            .replyLineTooLong, .replyNestedTooDeep:
            return true
        }
    }

    /// The error text, without the `ERR ` code (Redis's wording where Redis has one).
    public var message: String {
        switch kind {
        case .invalidMultibulkLength: return "Protocol error: invalid multibulk length"
        case .multibulkCountTooLong: return "Protocol error: too big mbulk count string"
        case .expectedDollar(let byte): return "Protocol error: expected '$', got '\(RESPError.printable(byte))'"
        case .invalidBulkLength: return "Protocol error: invalid bulk length"
        case .bulkCountTooLong: return "Protocol error: too big bulk count string"
        case .bulkNotTerminated: return "Protocol error: bulk string not terminated by CRLF"
        case .inlineTooLong: return "Protocol error: too big inline request"
        case .unbalancedQuotes: return "Protocol error: unbalanced quotes in request"
        case .tooManyArguments(let count, let limit):
            return "Protocol error: too many arguments (\(count), the limit is \(limit))"
        case .bulkTooLong(let length, let limit):
            return "Protocol error: bulk string of \(length) bytes is too long (the limit is \(limit) bytes)"
        case .requestTooLarge(let limit):
            return "Protocol error: request arguments exceed \(limit) bytes"
        case .tooManyPendingRequests(let limit):
            return "Protocol error: too many pending requests (the limit is \(limit))"
        case .invalidReplyType(let byte): return "Protocol error: invalid reply type '\(RESPError.printable(byte))'"
        case .invalidInteger: return "Protocol error: invalid integer reply"
        case .replyLineTooLong: return "Protocol error: reply line too long"
        case .replyNestedTooDeep(let limit): return "Protocol error: reply nested deeper than \(limit) arrays"
        }
    }

    /// The reply to send: `-ERR <message>`.
    public var reply: RESPValue { .error("ERR " + message) }

    public var description: String { message + (isFatal ? " (fatal)" : "") }

    /// A byte as it can appear inside an error line: printable ASCII as itself, anything else
    /// (notably CR and LF, which would end the line) as `\xHH`.
    static func printable(_ byte: UInt8) -> String {
        if byte >= 0x20 && byte < 0x7f { return String(UnicodeScalar(byte)) }
        let hex = Array("0123456789abcdef")
        return "\\x" + String(hex[Int(byte >> 4)]) + String(hex[Int(byte & 0xf)])
    }
}
