/// The whole of `totemkv check FILE`: parse a saved history (HistoryFormat.swift) and check
/// it. A malformed file throws an error naming the line; the report's `description` is what
/// the command prints, and `isLinearizable` / `isViolation` decide its exit status.
public func checkHistoryFile(
    _ text: String, budget: LinearizabilityBudget = LinearizabilityBudget()
) throws(HistoryError) -> LinearizabilityReport {
    let history = try History(parsing: text)
    return LinearizabilityChecker(budget: budget).check(history)
}
