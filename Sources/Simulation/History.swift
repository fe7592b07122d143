import Basics

/// A finished client history: every operation that was invoked, with its outcome.
/// Built by `HistoryRecorder` or loaded with `History(parsing:)` (HistoryFormat.swift).
public struct History: Hashable, Sendable {
    /// In the order they were recorded (the recorder's order is invocation order).
    public private(set) var operations: [HistoryOperation]

    /// An empty history.
    public init() { operations = [] }

    /// Checks every record (`HistoryOperation.defect`) and that ids are distinct, so the
    /// checker never meets a history it cannot interpret.
    public init(operations: [HistoryOperation]) throws(HistoryError) {
        var seen = Set<OperationID>()
        seen.reserveCapacity(operations.count)
        for (position, operation) in operations.enumerated() {
            if let defect = operation.defect {
                throw HistoryError(position: position, message: "operation \(operation.id): \(defect)")
            }
            guard seen.insert(operation.id).inserted else {
                throw HistoryError(position: position, message: "operation id \(operation.id) appears twice")
            }
        }
        self.operations = operations
    }

    /// Only for the recorder, whose preconditions already guarantee what `init(operations:)` checks.
    init(validated operations: [HistoryOperation]) {
        self.operations = operations
    }

    public var count: Int { operations.count }
}

/// A history that cannot be checked: a malformed line in a file, or an inconsistent record.
public struct HistoryError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The 1-based line number in a file, or the 0-based position in an array of operations.
    public var position: Int
    public var message: String
    public init(position: Int, message: String) {
        self.position = position
        self.message = message
    }
    public var description: String { "history line \(position): \(message)" }
}
