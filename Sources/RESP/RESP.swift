/// The client line protocol: RESP2 (the Redis serialization protocol, version 2) plus Redis's
/// inline commands, so that `nc`, `redis-cli`, `redis-benchmark` and Redis client libraries
/// can talk to a TotemKV node.
///
/// This target is sans-IO: it turns bytes into values and values into bytes, and never touches
/// a channel or a socket. The pieces:
/// - `RESPCommandParser`: client requests (arrays of bulk strings, or inline lines) out of a
///   cumulated `ByteBuffer`, one command per call, in the style of swift-nio's
///   `NIOSingleStepByteToMessageProcessor`; bounded by `RESPLimits`; malformed input is a
///   `RESPError` that says whether the connection must be closed (`isFatal`).
/// - `RESPValue` and the `ByteBuffer.writeRESP…` fast paths: replies.
/// - `RESPReplyParser`: replies out of bytes, for our own client and for tests.
/// - `RESPPendingRequests`: the per-connection bound on requests awaiting their reply.
///
/// The accepted syntax, the limits and every error message are described in
/// `docs/protocol.md`. The framing rules follow Redis's `networking.c`
/// (`processMultibulkBuffer`, `processInlineBuffer`) and `sdssplitargs` (inline quoting);
/// where we deviate (we check the CRLF after a bulk string, and we keep the connection open
/// after errors inside a well-framed request) the documentation says so.
public enum RESP {
    /// Byte values the parsers compare against.
    static let cr: UInt8 = 13
    static let lf: UInt8 = 10
}
