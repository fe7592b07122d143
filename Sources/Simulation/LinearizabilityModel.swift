// The sequential specification the checker holds a history to, for one key. Thanks to
// P-compositionality (Herlihy & Wing: a history is linearizable iff each object's
// sub-history is) every key is checked alone, as a register with integer semantics.

/// The value of one key in the model. Strings are interned per key so that a search state
/// is a few bytes and hashes fast; canonical decimal integers are kept as integers so that
/// `set "5"` followed by `incr 1` gives 6, as in the store.
enum RegisterValue: Hashable, Sendable {
    case absent
    case integer(Int64)
    /// An interned string that is not a canonical integer (`RegisterInterner`).
    case text(UInt32)
}

/// Maps a key's strings to `RegisterValue`s and back.
struct RegisterInterner: Sendable {
    private var ids: [String: UInt32] = [:]
    private var texts: [String] = []

    mutating func value(_ text: String?) -> RegisterValue {
        guard let text else { return .absent }
        if let integer = Int64(text), String(integer) == text { return .integer(integer) }
        if let id = ids[text] { return .text(id) }
        // A key sees at most History.operationsMax distinct strings, far below UInt32.max.
        let id = UInt32(texts.count)
        ids[text] = id
        texts.append(text)
        return .text(id)
    }

    func string(_ value: RegisterValue) -> String? {
        switch value {
        case .absent: return nil
        case .integer(let integer): return String(integer)
        case .text(let id): return texts[Int(id)]
        }
    }
}

/// What an operation does to a key. `delete` is `.write(.absent)`.
enum RegisterCommand: Hashable, Sendable {
    case read
    case write(RegisterValue)
    case increment(Int64)
    case compareAndSet(expected: RegisterValue, new: RegisterValue)

    /// The sequential specification: the next value and what the client would be told.
    func apply(to value: RegisterValue) -> (next: RegisterValue, output: RegisterOutput) {
        switch self {
        case .read:
            return (value, .value(value))
        case .write(let new):
            return (new, .done)
        case .increment(let by):
            switch value {
            case .absent: return (.integer(by), .integer(by))
            // Wrapping, as corosync's inc/dec on its integer types.
            case .integer(let old): return (.integer(old &+ by), .integer(old &+ by))
            case .text: return (value, .notAnInteger)
            }
        case .compareAndSet(let expected, let new):
            return value == expected ? (new, .swapped(true)) : (value, .swapped(false))
        }
    }
}

/// What a client was told, in model terms.
enum RegisterOutput: Hashable, Sendable {
    case done
    case value(RegisterValue)
    case integer(Int64)
    case notAnInteger
    case swapped(Bool)
}

/// One operation of a key's sub-history, ready for the search.
struct RegisterOperation: Sendable {
    /// Position in the full history, to report it.
    var historyIndex: Int
    var command: RegisterCommand
    /// `nil` for an unknown outcome: any output is accepted.
    var observed: RegisterOutput?
    var invokedAt: UInt64
    /// `UInt64.max` for an unknown outcome: it may take effect at any time after invocation.
    var respondedAt: UInt64

    var isOutcomeUnknown: Bool { observed == nil }
}

extension RegisterInterner {
    /// The model form of a history operation on this key, or `nil` if it is not part of the
    /// linearizability check: failed operations (they did not happen), stale reads (checked
    /// separately) and reads with an unknown outcome (no effect, nothing observed).
    mutating func registerOperation(_ operation: HistoryOperation, at historyIndex: Int) -> RegisterOperation? {
        if operation.isStaleRead { return nil }
        let observed: RegisterOutput?
        let respondedAt: UInt64
        switch operation.outcome {
        case .failed:
            return nil
        case .unknown:
            if operation.operation.isRead { return nil }
            observed = nil
            respondedAt = UInt64.max
        case .ok(let result):
            observed = output(result)
            respondedAt = operation.respondedAt?.nanoseconds ?? UInt64.max
        }
        return RegisterOperation(
            historyIndex: historyIndex, command: command(operation.operation), observed: observed,
            invokedAt: operation.invokedAt.nanoseconds, respondedAt: respondedAt)
    }

    mutating func command(_ operation: KVOperation) -> RegisterCommand {
        switch operation {
        case .get: return .read
        case .set(_, let text): return .write(value(text))
        case .delete: return .write(.absent)
        case .increment(_, let by): return .increment(by)
        case .compareAndSet(_, let expected, let new): return .compareAndSet(expected: value(expected), new: value(new))
        }
    }

    mutating func output(_ result: KVResult) -> RegisterOutput {
        switch result {
        case .done: return .done
        case .value(let text): return .value(value(text))
        case .integer(let integer): return .integer(integer)
        case .notAnInteger: return .notAnInteger
        case .swapped(let swapped): return .swapped(swapped)
        }
    }
}
