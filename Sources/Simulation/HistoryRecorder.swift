import Basics

/// Collects a history while clients run: `invoke` when a request is sent, `complete` when
/// its outcome is known. A value type with no locks, driven from one event loop (the
/// simulator's, or a real-cluster tool's).
///
/// Misuse (completing an unknown or already-completed id, a result of the wrong shape, a
/// response before the invocation) is a programmer error and stops with a precondition: the
/// recorder must never silently write a history the checker would misjudge.
public struct HistoryRecorder: Sendable {
    private var operations: [HistoryOperation] = []
    /// Operations invoked but not completed yet: they end up `.unknown` in `history`.
    private var completed: [Bool] = []
    private var pending = 0

    public init() {}

    /// Records an invocation and returns its id (ids count from 0 in invocation order).
    public mutating func invoke(
        client: ClientID, _ operation: KVOperation, readMode: ReadMode = .linearizable, at instant: Instant
    ) -> OperationID {
        let id = OperationID(UInt64(operations.count))
        operations.append(
            HistoryOperation(
                id: id, client: client, operation: operation, readMode: readMode,
                invokedAt: instant, respondedAt: nil, outcome: .unknown))
        completed.append(false)
        pending += 1
        return id
    }

    /// Records how operation `id` ended, seen by the client at `instant`.
    public mutating func complete(_ id: OperationID, _ outcome: OperationOutcome, at instant: Instant) {
        let position = Int(clamping: id.rawValue)
        precondition(position < operations.count, "HistoryRecorder: unknown operation id \(id)")
        precondition(!completed[position], "HistoryRecorder: operation \(id) completed twice")
        var operation = operations[position]
        operation.respondedAt = instant
        operation.outcome = outcome
        if let defect = operation.defect {
            preconditionFailure("HistoryRecorder: operation \(id) \(operation.operation): \(defect)")
        }
        operations[position] = operation
        completed[position] = true
        pending -= 1
    }

    /// Operations invoked and not yet completed.
    public var pendingCount: Int { pending }

    /// The history so far. Operations still pending are `.unknown` with no response time:
    /// they may or may not have taken effect.
    public var history: History { History(validated: operations) }
}
