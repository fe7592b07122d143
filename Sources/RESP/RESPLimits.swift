/// The bounds a `RESPCommandParser` enforces on one connection's input. Every count and size
/// a client declares is checked against these before anything is buffered for it.
///
/// Units come last in the names: `…BytesMax` is a byte count, `…Max` a count.
public struct RESPLimits: Hashable, Sendable {
    /// The largest bulk string (one argument) accepted: the configured maximum value size plus
    /// room for a key and the command's other small arguments. A larger bulk string is refused
    /// with a non-fatal error and its bytes are discarded as they arrive.
    public var bulkBytesMax: Int
    /// The most arguments (command name included) in one request. A request with more is
    /// refused with a non-fatal error and discarded.
    public var argumentsMax: Int
    /// The longest inline command line, and the longest `*<count>` / `$<length>` header line,
    /// in bytes before the line's `\n`. Longer is a fatal error: with no line end in sight the
    /// stream cannot be resynchronised.
    public var inlineBytesMax: Int
    /// The most argument bytes (the sum of the bulk lengths) in one request. Bounds what the
    /// parser holds for a single `MSET` with many large values. Non-fatal, like `bulkBytesMax`.
    public var requestBytesMax: Int
    /// The largest bulk length the parser is willing to skip after refusing it. A declared
    /// length above this is treated as garbage ("invalid bulk length", fatal), as Redis does
    /// above its `proto-max-bulk-len` (512 MiB).
    public var discardBulkBytesMax: Int
    /// The most requests a connection may have parsed and not yet answered. The parser does not
    /// enforce this (it does not see replies); the server does, with `RESPPendingRequests`.
    public var pendingRequestsMax: Int

    /// 1 MiB of value plus 64 KiB for the key and the other arguments.
    public static let defaultBulkBytesMax = 1024 * 1024 + 64 * 1024

    /// - Precondition: every limit is positive, and
    ///   `bulkBytesMax <= requestBytesMax`, `bulkBytesMax <= discardBulkBytesMax`.
    public init(
        bulkBytesMax: Int = RESPLimits.defaultBulkBytesMax,
        argumentsMax: Int = 65_536,
        inlineBytesMax: Int = 64 * 1024,
        requestBytesMax: Int = 16 * 1024 * 1024,
        discardBulkBytesMax: Int = 512 * 1024 * 1024,
        pendingRequestsMax: Int = 1024
    ) {
        precondition(
            bulkBytesMax > 0 && argumentsMax > 0 && inlineBytesMax > 0 && requestBytesMax > 0
                && discardBulkBytesMax > 0 && pendingRequestsMax > 0,
            "RESPLimits must be positive: bulk \(bulkBytesMax), arguments \(argumentsMax), inline \(inlineBytesMax), request \(requestBytesMax), discard \(discardBulkBytesMax), pending \(pendingRequestsMax)"
        )
        precondition(
            bulkBytesMax <= requestBytesMax && bulkBytesMax <= discardBulkBytesMax,
            "RESPLimits: bulkBytesMax \(bulkBytesMax) must not exceed requestBytesMax \(requestBytesMax) or discardBulkBytesMax \(discardBulkBytesMax)"
        )
        self.bulkBytesMax = bulkBytesMax
        self.argumentsMax = argumentsMax
        self.inlineBytesMax = inlineBytesMax
        self.requestBytesMax = requestBytesMax
        self.discardBulkBytesMax = discardBulkBytesMax
        self.pendingRequestsMax = pendingRequestsMax
    }

    /// Small limits for a connection that has not yet authenticated (when the server requires
    /// a password), so that a stranger cannot make it buffer much: 10 arguments, 16 KiB per
    /// argument, and a larger bulk string is not skipped but treated as garbage (fatal), as
    /// Redis does for unauthenticated clients.
    public static let unauthenticated = RESPLimits(
        bulkBytesMax: 16 * 1024,
        argumentsMax: 10,
        inlineBytesMax: 16 * 1024,
        requestBytesMax: 64 * 1024,
        discardBulkBytesMax: 16 * 1024,
        pendingRequestsMax: 16
    )

    /// The limits for a server whose largest value is `valueBytesMax` bytes: bulk strings may
    /// be 64 KiB longer (key and options), other limits keep their defaults.
    public static func forValues(upTo valueBytesMax: Int) -> RESPLimits {
        let bulk = max(1, valueBytesMax) &+ 64 * 1024
        return RESPLimits(
            bulkBytesMax: bulk,
            requestBytesMax: max(16 * 1024 * 1024, bulk),
            discardBulkBytesMax: max(512 * 1024 * 1024, bulk)
        )
    }
}
