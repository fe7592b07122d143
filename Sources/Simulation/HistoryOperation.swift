import Basics

// The vocabulary of a client history: who asked what, when, and what came back.
// docs/consistency-checking.md describes how the checker reads it.

/// An operation's identity within one history. The recorder hands them out in invocation
/// order starting at 0; a loaded file may use any distinct numbers.
public struct OperationID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt64
    public init(_ rawValue: UInt64) { self.rawValue = rawValue }
    public static func < (a: OperationID, b: OperationID) -> Bool { a.rawValue < b.rawValue }
    public var description: String { String(rawValue) }
}

/// How a read was served (DESIGN.md section 4, "Reads"). Writes always go through the log,
/// so the mode of a write is recorded but does not change how it is checked.
public enum ReadMode: Hashable, Sendable {
    /// Answered after a read barrier: must be linearizable with everything else.
    case linearizable
    /// Answered from the local applied state: may be behind; counted, never failed.
    case stale
}

/// One key-value operation. Values are strings; a value that is the canonical decimal
/// spelling of an `Int64` ("-12", "0", not "+1" or "007") is an integer for `increment`.
public enum KVOperation: Hashable, Sendable {
    case get(key: String)
    case set(key: String, value: String)
    case delete(key: String)
    /// Adds `by` (wrapping, as corosync's inc/dec) to the integer at `key` (absent counts as
    /// 0) and returns the new value; on a non-integer value it changes nothing and returns
    /// `.notAnInteger`.
    case increment(key: String, by: Int64)
    /// Compare-and-set on the value (not the version, which a client cannot predict across
    /// nodes): if the current value equals `expected` (`nil`: the key is absent), store
    /// `new` and return `.swapped(true)`; otherwise change nothing and return `.swapped(false)`.
    case compareAndSet(key: String, expected: String?, new: String)

    public var key: String {
        switch self {
        case .get(let key), .set(let key, _), .delete(let key), .increment(let key, _),
            .compareAndSet(let key, _, _):
            return key
        }
    }

    /// True for `get`: the only operation that a read mode applies to.
    public var isRead: Bool {
        if case .get = self { return true }
        return false
    }

    /// Whether `result` is a shape this operation can return (a `get` cannot return `.swapped`).
    public func accepts(_ result: KVResult) -> Bool {
        switch (self, result) {
        case (.get, .value), (.set, .done), (.delete, .done), (.increment, .integer),
            (.increment, .notAnInteger), (.compareAndSet, .swapped):
            return true
        default:
            return false
        }
    }
}

/// What a completed operation returned.
public enum KVResult: Hashable, Sendable {
    /// `set` and `delete`: acknowledged, nothing observed.
    case done
    /// `get`: the value, `nil` if the key was absent.
    case value(String?)
    /// `increment`: the new value.
    case integer(Int64)
    /// `increment` on a value that is not an integer: nothing changed.
    case notAnInteger
    /// `compareAndSet`: whether the value was replaced.
    case swapped(Bool)
}

/// How an operation ended, as the client saw it.
public enum OperationOutcome: Hashable, Sendable {
    /// It took effect, exactly once, somewhere between invocation and response.
    case ok(KVResult)
    /// It certainly did not take effect (for example `NOQUORUM`: nothing was written).
    case failed(reason: String)
    /// Timed out, or the node was lost: it may or may not have taken effect, at any time after
    /// its invocation. It has no result, and its response time is treated as +infinity.
    case unknown
}

/// One line of a history.
public struct HistoryOperation: Hashable, Sendable {
    public var id: OperationID
    public var client: ClientID
    public var operation: KVOperation
    public var readMode: ReadMode
    public var invokedAt: Instant
    /// When the client saw the outcome; for `.unknown`, when it gave up (informational
    /// only: the checker treats an unknown operation as never returning). `nil` when the
    /// client never heard back at all.
    public var respondedAt: Instant?
    public var outcome: OperationOutcome

    public init(
        id: OperationID, client: ClientID, operation: KVOperation, readMode: ReadMode = .linearizable,
        invokedAt: Instant, respondedAt: Instant?, outcome: OperationOutcome
    ) {
        self.id = id
        self.client = client
        self.operation = operation
        self.readMode = readMode
        self.invokedAt = invokedAt
        self.respondedAt = respondedAt
        self.outcome = outcome
    }

    /// A read served from local state: excluded from the linearizability check, classified
    /// (fresh, stale, unexplained) instead.
    public var isStaleRead: Bool { operation.isRead && readMode == .stale }

    /// Why this record cannot be in a history, or `nil` if it can.
    public var defect: String? {
        if case .ok(let result) = outcome {
            guard operation.accepts(result) else { return "result \(result) does not fit \(operation)" }
            guard respondedAt != nil else { return "a completed operation needs a response time" }
        }
        if let respondedAt, respondedAt < invokedAt {
            return "response time \(respondedAt.nanoseconds) is before invocation time \(invokedAt.nanoseconds)"
        }
        return nil
    }
}
