/// What `LinearizabilityChecker` found in a history. `description` is the text that
/// `totemkv check` and a failing simulator seed print.
public struct LinearizabilityReport: Sendable, CustomStringConvertible {
    public enum Verdict: Sendable {
        /// Every key's sub-history has a linearization (so the whole history does).
        case linearizable
        /// At least one key has none; this is the first such key in key order.
        case violation(LinearizabilityViolation)
        /// No violation found, but the search gave up on some key (`undecidedKeys`).
        case unknown(reason: String)
    }

    public var verdict: Verdict
    /// Every key that has no linearization, in key order (the verdict names the first).
    public var violations: [LinearizabilityViolation]
    /// Keys whose search ran out of budget, with the reason, in key order.
    public var undecidedKeys: [UndecidedKey]
    public var keysChecked: Int
    /// Operations that took part in the search (linearizable-mode operations, ok or unknown).
    public var operationsChecked: Int
    /// Operations with an unknown outcome among those checked.
    public var unknownOutcomeOperations: Int
    /// Operations that certainly did not happen, left out.
    public var failedOperationsRemoved: Int
    public var staleReads: StaleReadCounts
    /// The largest number of search steps spent on one key (to compare with the budget).
    public var stepsMaxPerKey: Int

    public var isLinearizable: Bool {
        if case .linearizable = verdict { return true }
        return false
    }

    public var isViolation: Bool {
        if case .violation = verdict { return true }
        return false
    }

    public var description: String {
        var lines: [String] = []
        let totals =
            "\(operationsChecked) operations on \(keysChecked) keys (\(unknownOutcomeOperations) with unknown outcome, "
            + "\(failedOperationsRemoved) failed and left out)"
        switch verdict {
        case .linearizable:
            lines.append("linearizable: \(totals)")
        case .violation:
            lines.append(
                "NOT linearizable: \(violations.count) of \(keysChecked) keys have no linearization; \(totals)")
            for violation in violations.prefix(LinearizabilityReport.violationsPrintedMax) {
                lines.append(violation.description)
            }
        case .unknown(let reason):
            lines.append("unknown: \(reason); \(totals)")
        }
        for undecided in undecidedKeys.prefix(LinearizabilityReport.violationsPrintedMax) {
            lines.append("undecided key \(quoted(undecided.key)): \(undecided.reason)")
        }
        lines.append(staleReads.description)
        return lines.joined(separator: "\n")
    }

    /// How many violating or undecided keys `description` prints in full.
    static let violationsPrintedMax = 3
}

/// A key on which the search ran out of budget before deciding.
public struct UndecidedKey: Hashable, Sendable {
    public var key: String
    public var reason: String
}

/// A key whose sub-history has no linearization, with the operations around the point where
/// the search failed, each printed as a line of the history format (HistoryFormat.swift).
public struct LinearizabilityViolation: Sendable, CustomStringConvertible {
    public enum Kind: Hashable, Sendable {
        /// The search tried every order: none explains the key's sub-history.
        case noLinearization
        /// A read returned a value that no operation on the key wrote, which no order can
        /// explain; found before any search. The prefix fields are empty.
        case readOfUnwrittenValue
    }

    public var key: String
    public var kind: Kind
    /// The longest prefix of the key's operations that could be linearized, and its size.
    public var linearizedCount: Int
    public var operationCount: Int
    /// The key's value after that prefix (`nil`: absent).
    public var valueAfterPrefix: String?
    /// The last operations of that prefix, in linearization order.
    public var prefixTail: [HistoryOperation]
    /// The operation that responded when no remaining order could make it take effect.
    public var failingOperation: HistoryOperation
    /// For `.noLinearization`: operations not in the prefix that were invoked before
    /// `failingOperation` responded (the candidates the search tried). For
    /// `.readOfUnwrittenValue`: operations overlapping the read. In invocation order, at most
    /// `concurrentCountMax`.
    public var concurrentOperations: [HistoryOperation]

    public static let concurrentCountMax = 12

    public var description: String {
        var lines: [String] = []
        switch kind {
        case .noLinearization:
            lines.append(
                "key \(quoted(key)): the longest linearizable prefix has \(linearizedCount) of \(operationCount)"
                    + " operations; after it the key is \(valueAfterPrefix.map(quoted) ?? "absent")")
            if !prefixTail.isEmpty {
                lines.append("  last operations of that prefix, in linearization order:")
                lines += prefixTail.map { "    " + $0.formatted() }
            }
            lines.append("  this operation responded with no way left to take effect before it:")
        case .readOfUnwrittenValue:
            lines.append(
                "key \(quoted(key)): of \(operationCount) operations, this read returned a value that no"
                    + " operation on the key wrote:")
        }
        lines.append("    " + failingOperation.formatted())
        if !concurrentOperations.isEmpty {
            lines.append(
                kind == .noLinearization
                    ? "  operations outside the prefix invoked before that response:"
                    : "  operations overlapping that read:")
            lines += concurrentOperations.map { "    " + $0.formatted() }
        }
        return lines.joined(separator: "\n")
    }
}

/// How `stale`-mode reads compare with the linearization found for their key. Counted,
/// never failed: a stale read is allowed to be behind (DESIGN.md section 4, "Reads").
public struct StaleReadCounts: Hashable, Sendable, CustomStringConvertible {
    /// Completed stale-mode reads.
    public var total = 0
    /// Returned a value the key held at a point within the read's own interval.
    public var fresh = 0
    /// Returned a value the key held only before the read was invoked.
    public var stale = 0
    /// Returned a value the key never held before the read responded (in the linearization
    /// found): a lost or phantom write, or an unknown-outcome write that the linearization
    /// chose to leave out.
    public var unexplained = 0
    /// On keys with a violation or an undecided search: not classified.
    public var unclassified = 0
    /// For stale reads: the most changes of value between the one returned and the read.
    public var versionsBehindMax = 0

    public init() {}

    public var description: String {
        "stale reads: \(total) (\(fresh) fresh, \(stale) stale, at most \(versionsBehindMax) versions behind, "
            + "\(unexplained) unexplained, \(unclassified) unclassified)"
    }
}
