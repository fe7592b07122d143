import Basics

/// A map from log index to value for the simulator's per-index records (the entry applied
/// at each index, a node's state hash at each applied index). The keys it is used with grow
/// by one nearly every time, so the values sit in an array from the lowest index set: a
/// lookup or a set is an array access, where a `Dictionary` hashed every index. Keys below
/// the lowest, or far above the highest, still work (the array is shifted or padded), so
/// the behaviour is a dictionary's whatever order the keys come in, as long as the indexes
/// set span at most `spanMax`: a wild index (a bug that makes an applied index jump) stops
/// the run with a message naming it instead of padding the array until memory runs out.
public struct IndexTable<Value> {
    /// Far more than any simulated run appends (a seed commits a few thousand entries).
    public static var spanMax: UInt64 { 1 << 24 }

    /// The index of `slots[0]` (meaningless while `slots` is empty).
    private var base: UInt64 = 0
    private var slots: [Value?] = []
    public private(set) var count = 0

    public init() {}

    public var isEmpty: Bool { count == 0 }

    public subscript(index: LogIndex) -> Value? {
        get {
            let i = index.rawValue
            guard !slots.isEmpty, i >= base, i - base < UInt64(slots.count) else { return nil }
            return slots[Int(i - base)]
        }
        set {
            let i = index.rawValue
            if slots.isEmpty {
                guard let newValue else { return }
                base = i
                slots.append(newValue)
                count = 1
                return
            }
            if i < base {
                guard let newValue else { return }
                checkSpan(from: i, to: base &+ UInt64(slots.count))
                // Rare (a restarted node's indexes start lower): shift the array up.
                slots.insert(contentsOf: repeatElement(nil, count: Int(base - i)), at: 0)
                base = i
                slots[0] = newValue
                count += 1
                return
            }
            let offset = i - base
            if offset >= UInt64(slots.count) {
                guard let newValue else { return }
                checkSpan(from: base, to: i)
                if offset > UInt64(slots.count) {
                    slots.append(contentsOf: repeatElement(nil, count: Int(offset) - slots.count))
                }
                slots.append(newValue)
                count += 1
                return
            }
            let wasSet = slots[Int(offset)] != nil
            slots[Int(offset)] = newValue
            count += (newValue != nil ? 1 : 0) - (wasSet ? 1 : 0)
        }
    }

    private func checkSpan(from low: UInt64, to high: UInt64) {
        precondition(high - low < Self.spanMax,
                      "IndexTable: index \(high) is \(high - low) above index \(low); a simulated run never spans more than \(Self.spanMax): an applied index jumped")
    }

    /// The set indexes and their values, lowest index first.
    public var sorted: [(index: LogIndex, value: Value)] {
        var result: [(index: LogIndex, value: Value)] = []
        result.reserveCapacity(count)
        for (offset, slot) in slots.enumerated() {
            if let value = slot { result.append((LogIndex(base + UInt64(offset)), value)) }
        }
        return result
    }
}
