import Basics

/// The simulator's clock and agenda: events ordered by virtual time, ties broken by the
/// order they were scheduled in, so a run never depends on anything but its seed. Generic
/// over the event type so that other simulators (the full node) reuse it.
public struct EventQueue<Event> {
    /// A heap entry: plain values only, so sifting never copies an event (comparing or
    /// moving entries that held events retained and released every packet's buffers at
    /// every level of the heap).
    private struct Key {
        var time: Instant
        var order: UInt64
        /// Where the event waits in `slots`.
        var slot: Int
        func precedes(_ other: Key) -> Bool {
            time != other.time ? time < other.time : order < other.order
        }
    }

    private var heap: [Key] = []
    /// The events, by slot; a slot is reused once its event is taken.
    private var slots: [Event?] = []
    private var freeSlots: [Int] = []
    private var scheduledCount: UInt64 = 0
    /// The virtual clock: the time of the last event taken.
    public private(set) var now: Instant = .zero

    public init() {}

    public var isEmpty: Bool { heap.isEmpty }
    public var count: Int { heap.count }
    public var nextTime: Instant? { heap.first?.time }

    /// Schedules `event` at `time` (clamped to now: nothing happens in the past).
    public mutating func schedule(_ event: Event, at time: Instant) {
        let slot: Int
        if let free = freeSlots.popLast() {
            slot = free
            slots[slot] = event
        } else {
            slot = slots.count
            slots.append(event)
        }
        heap.append(Key(time: max(time, now), order: scheduledCount, slot: slot))
        scheduledCount &+= 1
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].precedes(heap[parent]) else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    public mutating func schedule(_ event: Event, after milliseconds: Milliseconds) {
        schedule(event, at: now + milliseconds)
    }

    /// Takes the earliest event and advances the clock to its time.
    public mutating func popNext() -> (time: Instant, event: Event)? {
        guard !heap.isEmpty else { return nil }
        let top = heap[0]
        let last = heap.removeLast()
        if !heap.isEmpty {
            heap[0] = last
            var parent = 0
            while true {
                let left = 2 * parent + 1
                guard left < heap.count else { break }
                var best = left
                if left + 1 < heap.count && heap[left + 1].precedes(heap[left]) { best = left + 1 }
                guard heap[best].precedes(heap[parent]) else { break }
                heap.swapAt(best, parent)
                parent = best
            }
        }
        now = top.time
        guard let event = slots[top.slot].take() else {
            preconditionFailure("event queue slot \(top.slot) is empty")
        }
        freeSlots.append(top.slot)
        return (top.time, event)
    }
}

extension Instant {
    /// `self` plus a number of microseconds (the network's delay resolution).
    public func adding(microseconds: UInt64) -> Instant {
        Instant(nanoseconds: nanoseconds &+ microseconds &* 1000)
    }
}
