import Basics

// The search for a linearization of one key's sub-history: Wing & Gong's backtracking
// algorithm with Lowe's improvements, as in Porcupine (Athalye, "Porcupine: a fast
// linearizability checker in Go"; Lowe, "Testing for linearizability", 2017).
//
// Every operation contributes a call entry (at its invocation) and a return entry (at its
// response) to a list sorted by time. Walking the list from the front, a call entry is a
// candidate to take effect next; meeting a return entry means that operation should already
// have taken effect, so the search backtracks. Linearizing an operation lifts its two entries
// out of the doubly linked list (dancing links), so undoing it is O(1).
//
// Lowe's memoization: a (set of linearized operations, model state) pair that was reached
// once leads to the same outcome again, so it is never explored twice. The memo stores a
// 128-bit Zobrist fingerprint of the set (the XOR of a fixed random pair per operation, updated
// in O(1) per step) instead of the set itself, so a step costs the same on a key of 10 or
// 10,000 operations and an entry is a few dozen bytes. Two sets collide with probability
// 2^-128; a collision could only make the search skip a state (a false violation), and with
// the budget's few million states that chance is below 10^-25.
//
// Unknown outcomes: an operation that timed out has no return entry at all (its response is
// at +infinity). It is a candidate from its invocation on, accepts any output, and if it is
// never needed the search ends without it: "may or may not have happened". Leaving it out
// is the same as taking effect after every other operation.
//
// Many unknown operations make the plain search exponential (every subset of them is a
// candidate prefix at every point), so two rules keep only canonical linearizations. Both
// rest on one fact: moving an unknown operation later, even to the very end, never breaks
// real-time order (nothing has to follow it) and never breaks its own check (any output is
// accepted). Hence, if any linearization exists, one exists in which
//   1. no unknown operation is placed where it leaves the value unchanged (move it to the
//      end instead), and
//   2. a blind write (set, delete) never directly follows an unknown operation: the write
//      overwrites it and, if the write completed, reports `done` either way, so the unknown
//      operation can move to the end instead.
// (Moving an unknown operation is safe; the measure "operations placed before the last
// completed one" drops with each move, so the moves end.) The memo key records whether the
// last operation placed was unknown, since rule 2 depends on it.
//
// Ties: a call and a return at the same instant count as concurrent (calls sort first), so
// a coarse clock can cause a missed violation, never a false one.

/// Limits on the search for one key, so a pathological history ends with "unknown" instead
/// of hanging or exhausting memory.
public struct LinearizabilityBudget: Hashable, Sendable {
    /// Iterations of the search loop (one candidate tried, or one backtrack).
    public var stepsMax: Int
    /// Estimated bytes held by the memo of visited (linearized set, value) pairs
    /// (about 48 bytes each).
    public var memoBytesMax: Int

    public init(stepsMax: Int = 5_000_000, memoBytesMax: Int = 128 << 20) {
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

/// A set of operation indexes as a bit set (for the failure report).
struct LinearizedSet: Hashable, Sendable {
    private(set) var words: [UInt64]
    init(count: Int) { words = Array(repeating: 0, count: (count + 63) / 64) }
    func contains(_ index: Int) -> Bool { words[index >> 6] & (1 << UInt64(index & 63)) != 0 }
    mutating func insert(_ index: Int) { words[index >> 6] |= 1 << UInt64(index & 63) }
    mutating func remove(_ index: Int) { words[index >> 6] &= ~(1 << UInt64(index & 63)) }
}

private struct MemoKey: Hashable {
    var fingerprint: SetFingerprint
    var value: RegisterValue
    var isAfterUnknown: Bool
}

/// The Zobrist fingerprint of a set of operations: inserting or removing operation i XORs
/// in its fixed random pair, so the fingerprint depends only on the set.
private struct SetFingerprint: Hashable {
    var low: UInt64 = 0
    var high: UInt64 = 0

    mutating func toggle(_ key: (low: UInt64, high: UInt64)) {
        low ^= key.low
        high ^= key.high
    }

    /// One pair per operation, the same for every run (a fixed seed), so results reproduce.
    static func keys(count: Int) -> [(low: UInt64, high: UInt64)] {
        var generator = SeededGenerator(seed: 0x7A0B_2157_F1A6_E2B1)
        return (0..<count).map { _ in (generator.next(), generator.next()) }
    }
}

/// Estimated bytes of one memo entry: the 32-byte key at the hash set's load factor.
private let memoEntryBytes = 48

/// How many operations of the deepest prefix a failure report keeps.
let searchFailureTailCountMax = 8

func searchLinearization(_ operations: [RegisterOperation], budget: LinearizabilityBudget) -> RegisterSearchResult {
    var list = EntryList(operations)
    var remainingReturns = operations.lazy.filter { !$0.isOutcomeUnknown }.count
    var linearized = LinearizedSet(count: operations.count)
    var value = RegisterValue.absent
    let fingerprintKeys = SetFingerprint.keys(count: operations.count)
    var fingerprint = SetFingerprint()
    var memo = Set<MemoKey>()
    let memoEntriesMax = budget.memoBytesMax / memoEntryBytes
    var stack: [(operation: Int, valueBefore: RegisterValue)] = []
    var failure: RegisterSearchFailure?
    var steps = 0
    var entry = list.first

    while remainingReturns > 0 {
        steps += 1
        guard steps <= budget.stepsMax else {
            return .unknown(reason: "search exceeded \(budget.stepsMax) steps", steps: steps)
        }
        // remainingReturns > 0 means a return entry is still in the list, and the walk stops
        // at the first one, so it cannot run off the end.
        precondition(entry != EntryList.end, "linearizability search walked past the last return entry")
        let operationIndex = list.operation(at: entry)
        if list.isCall(entry) {
            let operation = operations[operationIndex]
            let (next, output) = operation.command.apply(to: value)
            let isAfterUnknown = stack.last.map { operations[$0.operation].isOutcomeUnknown } ?? false
            if isCandidate(operation, output: output, valueChanges: next != value, isAfterUnknown: isAfterUnknown) {
                fingerprint.toggle(fingerprintKeys[operationIndex])
                let key = MemoKey(fingerprint: fingerprint, value: next, isAfterUnknown: operation.isOutcomeUnknown)
                if memo.insert(key).inserted {
                    linearized.insert(operationIndex)
                    guard memo.count <= memoEntriesMax else {
                        return .unknown(reason: "search memo exceeded \(budget.memoBytesMax) bytes", steps: steps)
                    }
                    stack.append((operationIndex, value))
                    value = next
                    list.lift(operationIndex)
                    if !operation.isOutcomeUnknown { remainingReturns -= 1 }
                    entry = list.first
                    continue
                }
                fingerprint.toggle(fingerprintKeys[operationIndex])
            }
            entry = list.next(entry)
        } else {
            // This operation responded, so it must have taken effect by now, and no remaining
            // candidate order allows it: undo the latest choice and try the next candidate.
            if stack.count > (failure?.prefixCount ?? -1) {
                failure = RegisterSearchFailure(
                    prefixCount: stack.count, prefixTail: stack.suffix(searchFailureTailCountMax).map(\.operation),
                    valueAfterPrefix: value, stuck: operationIndex, linearized: linearized)
            }
            guard let (undone, valueBefore) = stack.popLast() else {
                // Every order was tried (or memoized) and none linearizes the history.
                guard let failure else { preconditionFailure("linearizability search failed without a failure point") }
                return .violation(failure, steps: steps)
            }
            value = valueBefore
            linearized.remove(undone)
            fingerprint.toggle(fingerprintKeys[undone])
            list.unlift(undone)
            if !operations[undone].isOutcomeUnknown { remainingReturns += 1 }
            entry = list.next(list.callEntry(of: undone))
        }
    }
    // What is left in the list are call entries of unknown-outcome operations: they may take
    // effect after everything else (or never, which no one can tell apart).
    var order = stack.map(\.operation)
    var rest = list.first
    while rest != EntryList.end {
        order.append(list.operation(at: rest))
        rest = list.next(rest)
    }
    return .linearizable(order: order, steps: steps)
}

/// Whether the search should try `operation` next: its output must match what the client
/// saw, and an unknown operation must obey the canonical-form rules at the top of the file.
private func isCandidate(
    _ operation: RegisterOperation, output: RegisterOutput, valueChanges: Bool, isAfterUnknown: Bool
) -> Bool {
    if case .write = operation.command, isAfterUnknown { return false }
    guard let observed = operation.observed else { return valueChanges }
    return observed == output
}

/// The call and return entries of a key's operations, sorted by time, in a doubly linked list
/// over arrays. Entry 0 is the head sentinel.
private struct EntryList {
    static let end: Int32 = -1

    private var nextEntry: [Int32]
    private var previousEntry: [Int32]
    /// For entry e >= 1: the operation index, and whether e is a call.
    private var entryOperation: [Int32]
    private var entryIsCall: [Bool]
    private var callEntries: [Int32]
    /// `end` for an operation with an unknown outcome: it has no return entry.
    private var returnEntries: [Int32]

    init(_ operations: [RegisterOperation]) {
        precondition(operations.count < Int(Int32.max) / 2, "too many operations on one key: \(operations.count)")
        // (time, kind: 0 call / 1 return, operation): calls first on ties (see the top of the file).
        var events: [(time: UInt64, kind: Int, operation: Int)] = []
        events.reserveCapacity(operations.count * 2)
        for (index, operation) in operations.enumerated() {
            events.append((operation.invokedAt, 0, index))
            if !operation.isOutcomeUnknown { events.append((operation.respondedAt, 1, index)) }
        }
        events.sort { ($0.time, $0.kind, $0.operation) < ($1.time, $1.kind, $1.operation) }

        let entryCount = events.count + 1
        nextEntry = (0..<entryCount).map { $0 + 1 < entryCount ? Int32($0 + 1) : EntryList.end }
        previousEntry = (0..<entryCount).map { Int32($0 - 1) }
        entryOperation = [-1] + events.map { Int32($0.operation) }
        entryIsCall = [false] + events.map { $0.kind == 0 }
        callEntries = Array(repeating: EntryList.end, count: operations.count)
        returnEntries = Array(repeating: EntryList.end, count: operations.count)
        for (position, event) in events.enumerated() {
            if event.kind == 0 {
                callEntries[event.operation] = Int32(position + 1)
            } else {
                returnEntries[event.operation] = Int32(position + 1)
            }
        }
    }

    var first: Int32 { nextEntry[0] }
    func next(_ entry: Int32) -> Int32 { nextEntry[Int(entry)] }
    func operation(at entry: Int32) -> Int { Int(entryOperation[Int(entry)]) }
    func isCall(_ entry: Int32) -> Bool { entryIsCall[Int(entry)] }
    func callEntry(of operation: Int) -> Int32 { callEntries[operation] }

    /// Takes an operation's entries out of the list.
    mutating func lift(_ operation: Int) {
        remove(callEntries[operation])
        if returnEntries[operation] != EntryList.end { remove(returnEntries[operation]) }
    }

    /// Puts back the entries of the operation lifted last (strictly in reverse order of `lift`).
    mutating func unlift(_ operation: Int) {
        if returnEntries[operation] != EntryList.end { restore(returnEntries[operation]) }
        restore(callEntries[operation])
    }

    private mutating func remove(_ entry: Int32) {
        let previous = previousEntry[Int(entry)]
        let next = nextEntry[Int(entry)]
        nextEntry[Int(previous)] = next
        if next != EntryList.end { previousEntry[Int(next)] = previous }
    }

    /// Dancing links: the removed entry still points at its old neighbours.
    private mutating func restore(_ entry: Int32) {
        let previous = previousEntry[Int(entry)]
        let next = nextEntry[Int(entry)]
        nextEntry[Int(previous)] = entry
        if next != EntryList.end { previousEntry[Int(next)] = entry }
    }
}
