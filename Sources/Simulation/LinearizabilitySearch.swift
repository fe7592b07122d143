// The search for a linearization of one key's sub-history: Wing & Gong's backtracking
// algorithm with Lowe's improvements, as in Porcupine (Athalye, "Porcupine: a fast
// linearizability checker in Go"; Lowe, "Testing for linearizability", 2017).
//
// Every completed operation contributes a call entry (at its invocation) and a return entry
// (at its response) to a list sorted by time. Walking the list from the front, a call entry
// is a candidate to take effect next; meeting a return entry means that operation should
// already have taken effect, so the search backtracks. Placing an operation lifts its two
// entries out of the doubly linked list (dancing links), so undoing it is O(1).
//
// Lowe's memoization: a (set of operations placed, value) pair reached once leads to the same
// outcome again, so it is not explored twice. The memo identifies the set by a 128-bit
// Zobrist fingerprint (the XOR of a fixed random pair per operation, updated in O(1) per
// step), so a step costs the same on a key of 10 or 10,000 operations. Two sets collide with
// probability 2^-128; a collision could only make the search skip a state (a false
// violation), and with the budget's few million states that chance is below 10^-25.
//
// Unknown outcomes: an operation that timed out has no entries (its response is at
// +infinity). It may take effect at any point after its invocation and accepts any output;
// if the search completes without it, it did not happen, or happened after everything else,
// which no one can tell apart. Unknown operations are tried only after every completed
// candidate (a second phase at each return entry), because of the memo's dominance rule
// (SearchMemo): a state that placed a superset of another's unknown operations, with the
// same completed operations and value, can do no more than it, so it is skipped. Trying
// completed operations first means the states with fewer unknown operations come first.
//
// Two more rules keep only canonical linearizations. Both rest on one fact: moving an unknown
// operation later, even to the very end, never breaks real-time order (nothing has to follow
// it) and never breaks its own check (any output is accepted). Hence, if any linearization
// exists, one exists in which
//   1. no unknown operation is placed where it leaves the value unchanged;
//   2. no blind write (set, delete) directly follows an unknown operation: the write
//      overwrites it and reports `done` either way, so the unknown operation can move to the
//      end instead;
//   3. no completed operation that does not see an unknown operation directly follows it:
//      if the completed operation would return the same result without it and changes the
//      value neither way (a read of an older value cannot be that, a failed compare-and-set
//      can), the two may swap. So an unknown operation is placed only just before an
//      operation that observes it;
//   4. of unknown operations with the same command (two timed-out `incr "n" 1`), an earlier
//      invoked one is always placed first: they are interchangeable, since the earlier one can
//      take effect wherever the later one can. Without this rule the search would try every
//      subset of them.
// Rule 5 is plain pruning: an unknown operation is not placed when rules 2 and 3 would leave
// nothing to place after it. For blind writes a quick filter (UnknownDemand) first asks
// whether any candidate could observe the value written.
//
// Cost: with unique written values the search stays near-linear in practice. Histories where
// many unknown operations could each explain many observations (repeated values, increments
// on keys that also hold strings) can still take exponential time; the budget then ends the
// search with "unknown".
// (Each move takes an unknown operation past completed operations or to the end, so the
// number of completed operations after unknown ones drops and the moves end.) Rules 2 and 3
// depend on the last operation placed, so the memo key records the value before it when it
// was unknown.
//
// Ties: a call and a return at the same instant count as concurrent (calls sort first), so
// a coarse clock can cause a missed violation, never a false one.

/// Limits on the search for one key, so a pathological history ends with "unknown" instead
/// of hanging or exhausting memory.
public struct LinearizabilityBudget: Hashable, Sendable {
    /// Iterations of the search loop (one candidate tried, or one backtrack).
    public var stepsMax: Int
    /// Estimated bytes held by the memo of visited states (about 100 bytes each).
    public var memoBytesMax: Int

    public init(stepsMax: Int = 5_000_000, memoBytesMax: Int = 256 << 20) {
        self.stepsMax = stepsMax
        self.memoBytesMax = memoBytesMax
    }
}

/// Why the search failed, from its deepest point: the longest prefix it could linearize.
struct RegisterSearchFailure: Sendable {
    /// How many operations that prefix holds.
    var prefixCount: Int
    /// Its last operations, in linearization order (indexes into the key's operations).
    var prefixTail: [Int]
    /// The value of the key after the prefix.
    var valueAfterPrefix: RegisterValue
    /// The operation whose response came with no way left to linearize it.
    var stuck: Int
    /// Whether each operation was in the prefix.
    var linearized: LinearizedSet
}

enum RegisterSearchResult: Sendable {
    /// Indexes into the key's operations in linearization order; unknown-outcome operations
    /// that were not needed come last, in invocation order.
    case linearizable(order: [Int], steps: Int)
    case violation(RegisterSearchFailure, steps: Int)
    case unknown(reason: String, steps: Int)
}

/// How many operations of the deepest prefix a failure report keeps.
let searchFailureTailCountMax = 8

/// Where the walk over candidates is.
private enum Cursor {
    /// At an entry of the list of completed operations.
    case completed(Int32)
    /// At a position in the unknown operations (by invocation), while `returnEntry` is the
    /// first return entry of the list: only those invoked by its time are candidates.
    case unknown(Int, returnEntry: Int32)
}

func searchLinearization(_ operations: [RegisterOperation], budget: LinearizabilityBudget) -> RegisterSearchResult {
    var list = EntryList(operations)
    let unknowns = operations.indices.filter { operations[$0].isOutcomeUnknown }
        .sorted { (operations[$0].invokedAt, $0) < (operations[$1].invokedAt, $1) }
    var unknownPosition = Array(repeating: -1, count: operations.count)
    for (position, index) in unknowns.enumerated() { unknownPosition[index] = position }
    // Rule 4: for each unknown operation, the previous one (by invocation) with the same
    // command, which must be placed first; -1 if none.
    var previousTwin = Array(repeating: -1, count: unknowns.count)
    var lastWithCommand: [RegisterCommand: Int] = [:]
    for (position, index) in unknowns.enumerated() {
        previousTwin[position] = lastWithCommand[operations[index].command] ?? -1
        lastWithCommand[operations[index].command] = position
    }

    var remainingReturns = operations.count - unknowns.count
    var value = RegisterValue.absent
    var linearized = LinearizedSet(count: operations.count)
    var placedUnknowns = LinearizedSet(count: unknowns.count)
    let fingerprintKeys = SetFingerprint.keys(count: operations.count)
    var fingerprint = SetFingerprint()
    var memo = SearchMemo()
    let memoEntriesMax = budget.memoBytesMax / SearchMemo.entryBytes(unknownCount: unknowns.count)
    // Each frame: the operation placed, the value before it, and the cursor's return entry
    // if it was placed in the unknown phase (to resume that phase after undoing it).
    var stack: [(operation: Int, valueBefore: RegisterValue, returnEntry: Int32)] = []
    var failure: RegisterSearchFailure?
    var steps = 0
    var cursor = Cursor.completed(list.first)

    /// Rule 5: whether anything may follow unknown operation `candidate` placed now (taking the
    /// value from `value` to `next`), while `returnEntry` is the first return entry. If nothing
    /// may, placing it only leads to a backtrack, so it is not tried.
    func canFollowUnknown(
        _ candidate: Int, from value: RegisterValue, to next: RegisterValue, before returnEntry: Int32
    )
        -> Bool
    {
        // The entries before the first return entry are all calls: the completed candidates.
        var entry = list.first
        while entry != returnEntry && entry != EntryList.end {
            let follower = operations[list.operation(at: entry)]
            let (afterFollower, output) = follower.command.apply(to: next)
            if isCandidate(follower, from: next, next: afterFollower, output: output, valueBeforeUnknown: value) {
                return true
            }
            entry = list.next(entry)
        }
        // Another unknown operation may follow if it is not a blind write (rule 2); whether it
        // changes the value is not worth computing here.
        let returnTime = list.time(of: returnEntry)
        for position in unknowns.indices {
            let follower = operations[unknowns[position]]
            guard follower.invokedAt <= returnTime else { break }
            if case .write = follower.command { continue }
            if unknowns[position] != candidate && !placedUnknowns.contains(position) { return true }
        }
        return false
    }

    /// The demand of the candidate window that ends at `returnEntry`, at the current value.
    func demand(before returnEntry: Int32) -> UnknownDemand {
        var followers: [RegisterOperation] = []
        var entry = list.first
        while entry != returnEntry && entry != EntryList.end {
            followers.append(operations[list.operation(at: entry)])
            entry = list.next(entry)
        }
        let returnTime = list.time(of: returnEntry)
        for position in unknowns.indices {
            guard operations[unknowns[position]].invokedAt <= returnTime else { break }
            if !placedUnknowns.contains(position) { followers.append(operations[unknowns[position]]) }
        }
        return UnknownDemand(followers: followers, value: value)
    }
    var windowDemand = UnknownDemand(followers: [], value: value)

    while remainingReturns > 0 {
        steps += 1
        guard steps <= budget.stepsMax else {
            return .unknown(reason: "search exceeded \(budget.stepsMax) steps", steps: steps)
        }
        guard memo.entryCount <= memoEntriesMax else {
            return .unknown(reason: "search memo exceeded \(budget.memoBytesMax) bytes", steps: steps)
        }

        // 1. The next candidate, or the end of the candidates (then backtrack).
        let candidate: Int
        let phaseReturnEntry: Int32
        switch cursor {
        case .completed(let entry):
            // A return entry remains (remainingReturns > 0) and the walk stops at the first one.
            precondition(entry != EntryList.end, "linearizability search walked past the last return entry")
            guard list.isCall(entry) else {
                cursor = .unknown(0, returnEntry: entry)
                windowDemand = demand(before: entry)
                continue
            }
            candidate = list.operation(at: entry)
            phaseReturnEntry = EntryList.end
        case .unknown(var position, let returnEntry):
            // Skip, without counting steps, what cannot be placed: already placed, a twin not
            // placed yet (rule 4), a blind write of a value nothing in the window would see.
            let returnTime = list.time(of: returnEntry)
            while position < unknowns.count, operations[unknowns[position]].invokedAt <= returnTime {
                let twin = previousTwin[position]
                let isBlocked = placedUnknowns.contains(position) || (twin >= 0 && !placedUnknowns.contains(twin))
                if !isBlocked, isFollowable(operations[unknowns[position]], demand: windowDemand) { break }
                position += 1
            }
            if position < unknowns.count, operations[unknowns[position]].invokedAt <= returnTime {
                cursor = .unknown(position, returnEntry: returnEntry)
                candidate = unknowns[position]
                phaseReturnEntry = returnEntry
            } else {
                // The operation of `returnEntry` responded, so it must have taken effect by
                // now, and no candidate left allows it: undo the latest choice.
                if stack.count > (failure?.prefixCount ?? -1) {
                    failure = RegisterSearchFailure(
                        prefixCount: stack.count,
                        prefixTail: stack.suffix(searchFailureTailCountMax).map(\.operation),
                        valueAfterPrefix: value, stuck: list.operation(at: returnEntry), linearized: linearized)
                }
                guard let frame = stack.popLast() else {
                    // Every order was tried (or dominated) and none linearizes the history.
                    guard let failure else {
                        preconditionFailure("linearizability search failed without a failure point")
                    }
                    return .violation(failure, steps: steps)
                }
                value = frame.valueBefore
                linearized.remove(frame.operation)
                let undonePosition = unknownPosition[frame.operation]
                if undonePosition >= 0 {
                    placedUnknowns.remove(undonePosition)
                    cursor = .unknown(undonePosition + 1, returnEntry: frame.returnEntry)
                    windowDemand = demand(before: frame.returnEntry)
                } else {
                    fingerprint.toggle(fingerprintKeys[frame.operation])
                    list.unlift(frame.operation)
                    remainingReturns += 1
                    cursor = .completed(list.next(list.callEntry(of: frame.operation)))
                }
                continue
            }
        }

        // 2. Place the candidate if the model, the rules and the memo allow it.
        let operation = operations[candidate]
        let (next, output) = operation.command.apply(to: value)
        let valueBeforeUnknown = stack.last.flatMap { operations[$0.operation].isOutcomeUnknown ? $0.valueBefore : nil }
        var isPlaced = false
        if isCandidate(operation, from: value, next: next, output: output, valueBeforeUnknown: valueBeforeUnknown),
            !operation.isOutcomeUnknown || canFollowUnknown(candidate, from: value, to: next, before: phaseReturnEntry)
        {
            let position = unknownPosition[candidate]
            if position >= 0 { placedUnknowns.insert(position) } else { fingerprint.toggle(fingerprintKeys[candidate]) }
            isPlaced = memo.visit(
                fingerprint, value: next, valueBeforeUnknown: position >= 0 ? value : nil, unknowns: placedUnknowns)
            if isPlaced {
                stack.append((candidate, value, phaseReturnEntry))
                value = next
                linearized.insert(candidate)
                if position < 0 {
                    list.lift(candidate)
                    remainingReturns -= 1
                }
            } else if position >= 0 {
                placedUnknowns.remove(position)
            } else {
                fingerprint.toggle(fingerprintKeys[candidate])
            }
        }
        switch cursor {
        case _ where isPlaced: cursor = .completed(list.first)
        case .completed(let entry): cursor = .completed(list.next(entry))
        case .unknown(let position, let returnEntry): cursor = .unknown(position + 1, returnEntry: returnEntry)
        }
    }
    // Unknown operations not placed may take effect after everything else (or never).
    var order = stack.map(\.operation)
    order += unknowns.indices.filter { !placedUnknowns.contains($0) }.map { unknowns[$0] }
    return .linearizable(order: order, steps: steps)
}

/// Rule 5's quick filter: an unknown blind write must set a value that the window demands.
/// (Other unknown operations go through the exact check.)
private func isFollowable(_ operation: RegisterOperation, demand: UnknownDemand) -> Bool {
    guard case .write(let written) = operation.command else { return true }
    return demand.admits(written)
}

/// Whether the search should try `operation` next, at `value`, given what it would do
/// (`next`, `output`): its output must match what the client saw, and the canonical-form rules
/// at the top of the file must hold. `valueBeforeUnknown` is the value before the last
/// operation placed if that one was unknown.
private func isCandidate(
    _ operation: RegisterOperation, from value: RegisterValue, next: RegisterValue, output: RegisterOutput,
    valueBeforeUnknown: RegisterValue?
) -> Bool {
    if valueBeforeUnknown != nil, case .write = operation.command { return false }  // rule 2
    guard let observed = operation.observed else { return next != value }  // rule 1
    guard observed == output else { return false }
    if let valueBeforeUnknown, next == value {  // rule 3
        let without = operation.command.apply(to: valueBeforeUnknown)
        if without.next == valueBeforeUnknown && without.output == observed { return false }
    }
    return true
}
