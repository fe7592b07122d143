import Basics

/// The simulator's clock and agenda: events ordered by virtual time, ties broken by the
/// order they were scheduled in, so a run never depends on anything but its seed. Generic
/// over the event type so that other simulators (the full node) reuse it.
public struct EventQueue<Event> {
    private struct Entry {
        var time: Instant
        var order: UInt64
        var event: Event
        func precedes(_ other: Entry) -> Bool {
            time != other.time ? time < other.time : order < other.order
        }
    }

    private var heap: [Entry] = []
    private var scheduledCount: UInt64 = 0
    /// The virtual clock: the time of the last event taken.
    public private(set) var now: Instant = .zero

    public init() {}

    public var isEmpty: Bool { heap.isEmpty }
    public var count: Int { heap.count }
    public var nextTime: Instant? { heap.first?.time }

    /// Schedules `event` at `time` (clamped to now: nothing happens in the past).
    public mutating func schedule(_ event: Event, at time: Instant) {
        let entry = Entry(time: max(time, now), order: scheduledCount, event: event)
        scheduledCount &+= 1
        heap.append(entry)
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
        return (top.time, top.event)
    }
}

extension Instant {
    /// `self` plus a number of microseconds (the network's delay resolution).
    public func adding(microseconds: UInt64) -> Instant {
        Instant(nanoseconds: nanoseconds &+ microseconds &* 1000)
    }
}
