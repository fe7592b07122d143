/// Checks that a client history of the key-value store is linearizable, the consistency that
/// `linearizable`-mode connections are promised (DESIGN.md sections 4 and 8), and measures how
/// far `stale`-mode reads lag. docs/consistency-checking.md states exactly what it proves.
///
/// The history is split by key and each key is searched alone (P-compositionality), with
/// `searchLinearization` (LinearizabilitySearch.swift) under a per-key `budget`, so the
/// check always ends: with a linearization, a violation, or "unknown".
public struct LinearizabilityChecker: Sendable {
    public var budget: LinearizabilityBudget

    public init(budget: LinearizabilityBudget = LinearizabilityBudget()) {
        self.budget = budget
    }

    public func check(_ history: History) -> LinearizabilityReport {
        let operations = history.operations
        var report = LinearizabilityReport(
            verdict: .linearizable, violations: [], undecidedKeys: [], keysChecked: 0, operationsChecked: 0,
            unknownOutcomeOperations: 0, failedOperationsRemoved: 0, staleReads: StaleReadCounts(), stepsMaxPerKey: 0)

        // Positions of each key's operations, in history order; keys visited in sorted order
        // so that the report never depends on hashing order.
        var positionsByKey: [String: [Int]] = [:]
        for (position, operation) in operations.enumerated() {
            positionsByKey[operation.operation.key, default: []].append(position)
        }
        for key in positionsByKey.keys.sorted() {
            checkKey(key, positions: positionsByKey[key] ?? [], of: operations, into: &report)
        }

        if let first = report.violations.first {
            report.verdict = .violation(first)
        } else if let first = report.undecidedKeys.first {
            let others = report.undecidedKeys.count - 1
            report.verdict = .unknown(
                reason: "key \(quoted(first.key)): \(first.reason)" + (others > 0 ? " (and \(others) more keys)" : ""))
        }
        return report
    }

    private func checkKey(
        _ key: String, positions: [Int], of operations: [HistoryOperation], into report: inout LinearizabilityReport
    ) {
        var interner = RegisterInterner()
        var checked: [RegisterOperation] = []
        var staleReads: [(value: RegisterValue, invokedAt: UInt64, respondedAt: UInt64)] = []
        for position in positions {
            let operation = operations[position]
            if case .failed = operation.outcome {
                report.failedOperationsRemoved += 1
            } else if operation.isStaleRead {
                if case .ok(.value(let text)) = operation.outcome, let respondedAt = operation.respondedAt {
                    staleReads.append((interner.value(text), operation.invokedAt.nanoseconds, respondedAt.nanoseconds))
                }
            } else if let registerOperation = interner.registerOperation(operation, at: position) {
                checked.append(registerOperation)
                if registerOperation.isOutcomeUnknown { report.unknownOutcomeOperations += 1 }
            }
        }
        report.keysChecked += 1
        report.operationsChecked += checked.count
        report.staleReads.total += staleReads.count

        // A read of a value that nothing wrote needs no search, and the search would have to
        // try every order before giving up on it.
        if let read = firstReadOfUnwrittenValue(checked) {
            report.staleReads.unclassified += staleReads.count
            report.violations.append(
                unwrittenValueViolation(key: key, read: read, checked: checked, operations: operations))
            return
        }
        switch searchLinearization(checked, budget: budget) {
        case .linearizable(let order, let steps):
            report.stepsMaxPerKey = max(report.stepsMaxPerKey, steps)
            guard !staleReads.isEmpty else { return }
            let classifier = StaleReadClassifier(operations: checked, order: order)
            for read in staleReads {
                switch classifier.classify(value: read.value, invokedAt: read.invokedAt, respondedAt: read.respondedAt)
                {
                case .fresh:
                    report.staleReads.fresh += 1
                case .stale(let versionsBehind):
                    report.staleReads.stale += 1
                    report.staleReads.versionsBehindMax = max(report.staleReads.versionsBehindMax, versionsBehind)
                case .unexplained:
                    report.staleReads.unexplained += 1
                }
            }
        case .violation(let failure, let steps):
            report.stepsMaxPerKey = max(report.stepsMaxPerKey, steps)
            report.staleReads.unclassified += staleReads.count
            report.violations.append(
                violation(key: key, failure: failure, checked: checked, interner: interner, operations: operations))
        case .unknown(let reason, let steps):
            report.stepsMaxPerKey = max(report.stepsMaxPerKey, steps)
            report.staleReads.unclassified += staleReads.count
            report.undecidedKeys.append(UndecidedKey(key: key, reason: reason))
        }
    }

    /// The linearizable read that responds first among those returning a value that no
    /// operation on the key could have produced (not absent, not written by `set` or `cas`,
    /// and not an integer while an `incr` exists): a violation that needs no search.
    private func firstReadOfUnwrittenValue(_ checked: [RegisterOperation]) -> Int? {
        var written: Set<RegisterValue> = [.absent]
        var hasIncrement = false
        for operation in checked {
            switch operation.command {
            case .read: break
            case .write(let value): written.insert(value)
            case .increment: hasIncrement = true
            case .compareAndSet(_, let new): written.insert(new)
            }
        }
        func isUnwritten(_ operation: RegisterOperation) -> Bool {
            guard case .read = operation.command, case .value(let value)? = operation.observed else { return false }
            if case .integer = value, hasIncrement { return false }
            return !written.contains(value)
        }
        return checked.indices.filter { isUnwritten(checked[$0]) }
            .min { (checked[$0].respondedAt, $0) < (checked[$1].respondedAt, $1) }
    }

    private func violation(
        key: String, failure: RegisterSearchFailure, checked: [RegisterOperation], interner: RegisterInterner,
        operations: [HistoryOperation]
    ) -> LinearizabilityViolation {
        let stuck = checked[failure.stuck]
        // Candidates: outside the prefix and invoked by the stuck operation's response
        // (`checked` is in history order, so sort by invocation for the excerpt).
        let concurrent = checked.indices
            .filter {
                $0 != failure.stuck && !failure.linearized.contains($0) && checked[$0].invokedAt <= stuck.respondedAt
            }
            .sorted { (checked[$0].invokedAt, $0) < (checked[$1].invokedAt, $1) }
            .prefix(LinearizabilityViolation.concurrentCountMax)
        return LinearizabilityViolation(
            key: key, kind: .noLinearization, linearizedCount: failure.prefixCount, operationCount: checked.count,
            valueAfterPrefix: interner.string(failure.valueAfterPrefix),
            prefixTail: failure.prefixTail.map { operations[checked[$0].historyIndex] },
            failingOperation: operations[stuck.historyIndex],
            concurrentOperations: concurrent.map { operations[checked[$0].historyIndex] })
    }

    private func unwrittenValueViolation(
        key: String, read: Int, checked: [RegisterOperation], operations: [HistoryOperation]
    ) -> LinearizabilityViolation {
        let overlapping = checked.indices
            .filter {
                $0 != read && checked[$0].invokedAt <= checked[read].respondedAt
                    && checked[$0].respondedAt >= checked[read].invokedAt
            }
            .sorted { (checked[$0].invokedAt, $0) < (checked[$1].invokedAt, $1) }
            .prefix(LinearizabilityViolation.concurrentCountMax)
        return LinearizabilityViolation(
            key: key, kind: .readOfUnwrittenValue, linearizedCount: 0, operationCount: checked.count,
            valueAfterPrefix: nil, prefixTail: [], failingOperation: operations[checked[read].historyIndex],
            concurrentOperations: overlapping.map { operations[checked[$0].historyIndex] })
    }
}
