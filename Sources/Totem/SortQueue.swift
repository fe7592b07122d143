/// The messages of one ring indexed by seq (corosync's `sq_*`): a window of
/// `capacity` slots above `released`, the highest seq freed. A message outside the window
/// is not stored; flow control (`fcc_rtr_limit`) keeps senders inside it.
struct SortQueue: Sendable {
    /// corosync's QUEUE_RTR_ITEMS_SIZE_MAX.
    static let capacityDefault = 16_384

    private var slots: [Mcast?]
    /// How many token visits found each missing seq still missing (for `miss_count_const`).
    private var missCounts: [UInt32]
    /// Every seq <= released has been freed; the window is (released, released + capacity].
    private(set) var released: UInt64
    let capacity: Int

    init(capacity: Int = SortQueue.capacityDefault, released: UInt64 = 0) {
        precondition(capacity > 0, "sort queue capacity must be positive, got \(capacity)")
        self.capacity = capacity
        self.released = released
        slots = Array(repeating: nil, count: capacity)
        missCounts = Array(repeating: 0, count: capacity)
    }

    private func slot(_ seq: UInt64) -> Int { Int(seq % UInt64(capacity)) }

    func isInWindow(_ seq: UInt64) -> Bool {
        seq > released && seq - released <= UInt64(capacity)
    }

    func contains(_ seq: UInt64) -> Bool {
        isInWindow(seq) && slots[slot(seq)] != nil
    }

    subscript(seq: UInt64) -> Mcast? {
        isInWindow(seq) ? slots[slot(seq)] : nil
    }

    /// Stores `message` at its seq; false if outside the window or already present.
    @discardableResult
    mutating func insert(_ message: Mcast) -> Bool {
        let seq = message.seq
        guard isInWindow(seq), slots[slot(seq)] == nil else { return false }
        slots[slot(seq)] = message
        missCounts[slot(seq)] = 0
        return true
    }

    /// Counts one more visit on which `seq` was missing; returns the new count.
    mutating func bumpMissCount(_ seq: UInt64) -> UInt32 {
        guard isInWindow(seq) else { return 0 }
        missCounts[slot(seq)] &+= 1
        return missCounts[slot(seq)]
    }

    /// Frees every message up to `seq` (never moves backwards).
    mutating func release(through seq: UInt64) {
        guard seq > released else { return }
        let end = min(seq, released + UInt64(capacity))
        var s = released + 1
        while s <= end {
            slots[slot(s)] = nil
            missCounts[slot(s)] = 0
            s += 1
        }
        released = seq
    }

    /// Empties the queue and restarts its window above `released`.
    mutating func reset(released newReleased: UInt64 = 0) {
        for i in 0..<capacity where slots[i] != nil { slots[i] = nil }
        for i in 0..<capacity where missCounts[i] != 0 { missCounts[i] = 0 }
        released = newReleased
    }
}
