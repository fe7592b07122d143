/// Counts a connection's requests that have been parsed but not yet answered, against
/// `RESPLimits.pendingRequestsMax`.
///
/// The intended use is backpressure, not refusal: while `isFull`, the server stops reading
/// from the socket (so the client's pipeline waits in the kernel buffers) and resumes after a
/// reply. A server that prefers to refuse can answer `RESPError(.tooManyPendingRequests)`
/// instead, which does not close the connection.
public struct RESPPendingRequests: Hashable, Sendable {
    public let limit: Int
    /// Requests parsed and not yet answered; `0...limit` when the server respects `isFull`.
    public private(set) var count: Int = 0

    public init(limit: Int) {
        precondition(limit > 0, "pending request limit must be positive, got \(limit)")
        self.limit = limit
    }

    public init(limits: RESPLimits) { self.init(limit: limits.pendingRequestsMax) }

    /// True when no further request may be read until a reply goes out.
    public var isFull: Bool { count >= limit }

    /// A request was parsed and handed to the dispatcher.
    public mutating func requestStarted() {
        precondition(count < limit, "request started with \(count) of \(limit) pending: the caller must stop reading while isFull")
        count &+= 1
    }

    /// The reply to the oldest pending request was written.
    public mutating func replySent() {
        precondition(count > 0, "reply sent with no pending request")
        count &-= 1
    }

    /// The error for a server that refuses rather than pauses.
    public var refusal: RESPError { RESPError(.tooManyPendingRequests(limit: limit)) }
}
