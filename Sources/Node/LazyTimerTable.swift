import Totem

/// Decides when the runtime's loop timers behind Totem's timers are armed (sans-IO: times are
/// nanoseconds on the loop's clock, the runtime schedules and cancels the real tasks).
///
/// Why: Totem restarts its token-loss and token-retransmit timers on every token, thousands
/// of times a second on an idle ring. Cancelling and scheduling a loop task each time cost
/// two allocations, a promise and two heap updates per timer per token. Here a restart whose
/// deadline is not earlier than the armed task's only records the new deadline: the armed
/// task fires first and is armed again for what is left. The core still sees one firing per
/// start, never before its deadline, with the latest generation.
struct LazyTimerTable: Equatable {
    struct Slot: Equatable {
        /// When the core wants the timer to fire; nil when it is not running.
        var due: UInt64?
        var generation = TimerGeneration(0)
        /// When the armed loop task fires; nil when none is armed.
        var armedAt: UInt64?
    }

    enum Start: Equatable {
        /// The armed task fires first (at or before the deadline); nothing to do.
        case keep
        /// Cancel the armed task, if any, and arm one for this time.
        case arm(at: UInt64)
    }

    enum Fired: Equatable {
        /// The timer was cancelled meanwhile.
        case nothing
        /// Restarted meanwhile: arm again for the new deadline.
        case rearm(at: UInt64)
        /// Due: step the core with this generation.
        case fire(TimerGeneration)
    }

    private(set) var slots: [Slot]

    init(count: Int) {
        slots = Array(repeating: Slot(), count: count)
    }

    mutating func start(_ index: Int, generation: TimerGeneration, due: UInt64) -> Start {
        slots[index].due = due
        slots[index].generation = generation
        if let armedAt = slots[index].armedAt, armedAt <= due { return .keep }
        slots[index].armedAt = due
        return .arm(at: due)
    }

    /// The armed task stays: it finds nothing due when it fires.
    mutating func cancel(_ index: Int) {
        slots[index].due = nil
    }

    /// Fires `index` before its armed task when it is due at `now` (a 0 ms timer the caller
    /// does not want to wait a loop pass for): its generation, or nil when it is not due.
    /// The armed task stays and finds nothing due.
    mutating func fireEarly(_ index: Int, now: UInt64) -> TimerGeneration? {
        guard let due = slots[index].due, due <= now else { return nil }
        slots[index].due = nil
        return slots[index].generation
    }

    /// The armed task of `index` ran at `now`.
    mutating func fired(_ index: Int, now: UInt64) -> Fired {
        slots[index].armedAt = nil
        guard let due = slots[index].due else { return .nothing }
        if due > now {
            slots[index].armedAt = due
            return .rearm(at: due)
        }
        slots[index].due = nil
        return .fire(slots[index].generation)
    }
}
