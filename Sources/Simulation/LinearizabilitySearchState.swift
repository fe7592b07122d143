import Basics

// The data structures of the search (LinearizabilitySearch.swift): the entry list, the set
// fingerprints and the memo.

/// A set of small integers as a bit set.
struct LinearizedSet: Hashable, Sendable {
    private(set) var words: [UInt64]
    init(count: Int) { words = Array(repeating: 0, count: (count + 63) / 64) }
    func contains(_ index: Int) -> Bool { words[index >> 6] & (1 << UInt64(index & 63)) != 0 }
    mutating func insert(_ index: Int) { words[index >> 6] |= 1 << UInt64(index & 63) }
    mutating func remove(_ index: Int) { words[index >> 6] &= ~(1 << UInt64(index & 63)) }
    /// Both sets must have been made with the same count.
    func isSubset(of other: LinearizedSet) -> Bool {
        zip(words, other.words).allSatisfy { $0 & ~$1 == 0 }
    }
}

/// The Zobrist fingerprint of a set of operations: inserting or removing operation i XORs
/// in its fixed random pair, so the fingerprint depends only on the set.
struct SetFingerprint: Hashable, Sendable {
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

/// The states the search has visited, keyed by (fingerprint of the completed operations
/// placed, value, the value before the last operation placed if that one was unknown), each
/// with the sets of unknown operations placed on the way. A new state is dominated, and
/// skipped, if a visited one has the same key (or the same key with the last operation
/// completed, which the canonical rules restrict less) and placed a subset of its unknown
/// operations: unknown operations never constrain real-time order, so the visited state
/// could do everything the new one can.
struct SearchMemo {
    private struct Key: Hashable {
        var fingerprint: SetFingerprint
        var value: RegisterValue
        var valueBeforeUnknown: RegisterValue?
    }

    private var placedUnknowns: [Key: [LinearizedSet]] = [:]
    private(set) var entryCount = 0

    /// Records the state and returns true, or returns false if a visited state dominates it.
    mutating func visit(
        _ fingerprint: SetFingerprint, value: RegisterValue, valueBeforeUnknown: RegisterValue?,
        unknowns: LinearizedSet
    ) -> Bool {
        let key = Key(fingerprint: fingerprint, value: value, valueBeforeUnknown: valueBeforeUnknown)
        let freerKey = Key(fingerprint: fingerprint, value: value, valueBeforeUnknown: nil)
        if placedUnknowns[freerKey]?.contains(where: { $0.isSubset(of: unknowns) }) == true { return false }
        if valueBeforeUnknown != nil, placedUnknowns[key]?.contains(where: { $0.isSubset(of: unknowns) }) == true {
            return false
        }
        placedUnknowns[key, default: []].append(unknowns)
        entryCount += 1
        return true
    }

    /// Estimated bytes per entry: the dictionary slot, the list element and the bit set.
    static func entryBytes(unknownCount: Int) -> Int { 96 + 8 * ((unknownCount + 63) / 64) }
}

/// The call and return entries of a key's completed operations, sorted by time, in a doubly
/// linked list over arrays. Entry 0 is the head sentinel. Operations with an unknown outcome
/// have no entries: the search keeps them apart.
struct EntryList {
    static let end: Int32 = -1

    private var nextEntry: [Int32]
    private var previousEntry: [Int32]
    /// For entry e >= 1: the operation index, and whether e is a call.
    private var entryOperation: [Int32]
    private var entryIsCall: [Bool]
    private var entryTime: [UInt64]
    private var callEntries: [Int32]
    private var returnEntries: [Int32]

    init(_ operations: [RegisterOperation]) {
        precondition(operations.count < Int(Int32.max) / 2, "too many operations on one key: \(operations.count)")
        // (time, kind: 0 call / 1 return, operation): calls first on ties (LinearizabilitySearch.swift).
        var events: [(time: UInt64, kind: Int, operation: Int)] = []
        events.reserveCapacity(operations.count * 2)
        for (index, operation) in operations.enumerated() where !operation.isOutcomeUnknown {
            events.append((operation.invokedAt, 0, index))
            events.append((operation.respondedAt, 1, index))
        }
        events.sort { ($0.time, $0.kind, $0.operation) < ($1.time, $1.kind, $1.operation) }

        let entryCount = events.count + 1
        nextEntry = (0..<entryCount).map { $0 + 1 < entryCount ? Int32($0 + 1) : EntryList.end }
        previousEntry = (0..<entryCount).map { Int32($0 - 1) }
        entryOperation = [-1] + events.map { Int32($0.operation) }
        entryIsCall = [false] + events.map { $0.kind == 0 }
        entryTime = [0] + events.map(\.time)
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
    func time(of entry: Int32) -> UInt64 { entryTime[Int(entry)] }
    func callEntry(of operation: Int) -> Int32 { callEntries[operation] }

    /// Takes a completed operation's two entries out of the list.
    mutating func lift(_ operation: Int) {
        remove(callEntries[operation])
        remove(returnEntries[operation])
    }

    /// Puts back the entries of the operation lifted last (strictly in reverse order of `lift`).
    mutating func unlift(_ operation: Int) {
        restore(returnEntries[operation])
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

/// Which values an unknown blind write could set so that some completed candidate may follow
/// it (rule 3 of the search), worked out once per candidate window instead of once per
/// unknown operation. It may admit too much (the follower is still checked when tried), never
/// too little.
struct UnknownDemand {
    private var values: [RegisterValue] = []
    private var admitsAnyValue = false
    private var admitsAnyText = false
    private var admitsAnyInteger = false

    /// `followers` are the candidates, completed or not; `value` is the key's value now.
    init(followers: some Sequence<RegisterOperation>, value: RegisterValue) {
        for follower in followers {
            switch (follower.command, follower.observed) {
            // Unknown followers must change the value (rule 1); blind ones cannot follow (rule 2).
            case (.compareAndSet(let expected, _), nil):
                values.append(expected)
            case (.increment(let by), nil):
                if by != 0 {
                    admitsAnyInteger = true
                    values.append(.absent)
                }
            case (.read, .value(let seen)?):
                // Rule 3: a read that would see the same without the write does not see it.
                if seen != value { values.append(seen) }
            case (.increment(let by), .integer(let result)?):
                values.append(.integer(result &- by))
                if result == by { values.append(.absent) }
            case (.increment, .notAnInteger?):
                admitsAnyText = true
            case (.compareAndSet(let expected, _), .swapped(true)?):
                values.append(expected)
            case (.compareAndSet(let expected, _), .swapped(false)?):
                // Fails after the write; rule 3 keeps it only if it would have succeeded before.
                if value == expected { admitsAnyValue = true }
            default:
                break  // blind writes never follow an unknown operation (rule 2)
            }
        }
    }

    func admits(_ value: RegisterValue) -> Bool {
        if admitsAnyValue { return true }
        switch value {
        case .text: if admitsAnyText { return true }
        case .integer: if admitsAnyInteger { return true }
        case .absent: break
        }
        return values.contains(value)
    }
}
