import Testing
import Totem
@testable import Node

@Suite struct LazyTimerTableTests {
    @Test func firstStartArmsAtTheDeadline() {
        var table = LazyTimerTable(count: 2)
        #expect(table.start(0, generation: TimerGeneration(1), due: 1_000) == .arm(at: 1_000))
        #expect(table.fired(0, now: 1_000) == .fire(TimerGeneration(1)))
        // Fired once: a stray run finds nothing due.
        #expect(table.fired(0, now: 1_500) == .nothing)
    }

    @Test func laterRestartKeepsTheArmedTaskAndRearmsWhenItRuns() {
        var table = LazyTimerTable(count: 1)
        #expect(table.start(0, generation: TimerGeneration(1), due: 1_000) == .arm(at: 1_000))
        #expect(table.start(0, generation: TimerGeneration(2), due: 1_400) == .keep)
        #expect(table.start(0, generation: TimerGeneration(3), due: 1_800) == .keep)
        // The armed task runs before the latest deadline: arm again, do not fire early.
        #expect(table.fired(0, now: 1_000) == .rearm(at: 1_800))
        #expect(table.fired(0, now: 1_800) == .fire(TimerGeneration(3)))
    }

    @Test func earlierRestartArmsAgain() {
        var table = LazyTimerTable(count: 1)
        #expect(table.start(0, generation: TimerGeneration(1), due: 5_000) == .arm(at: 5_000))
        #expect(table.start(0, generation: TimerGeneration(2), due: 2_000) == .arm(at: 2_000))
        #expect(table.fired(0, now: 2_000) == .fire(TimerGeneration(2)))
    }

    @Test func cancelledTimerDoesNotFireAndRestartAfterCancelStillWorks() {
        var table = LazyTimerTable(count: 1)
        _ = table.start(0, generation: TimerGeneration(1), due: 1_000)
        table.cancel(0)
        #expect(table.start(0, generation: TimerGeneration(2), due: 3_000) == .keep)
        #expect(table.fired(0, now: 1_000) == .rearm(at: 3_000))
        table.cancel(0)
        #expect(table.fired(0, now: 3_000) == .nothing)
        #expect(table.start(0, generation: TimerGeneration(3), due: 4_000) == .arm(at: 4_000))
    }

    @Test func kindsAreIndependent() {
        var table = LazyTimerTable(count: 2)
        _ = table.start(0, generation: TimerGeneration(1), due: 1_000)
        #expect(table.start(1, generation: TimerGeneration(7), due: 2_000) == .arm(at: 2_000))
        table.cancel(0)
        #expect(table.fired(1, now: 2_100) == .fire(TimerGeneration(7)))
        #expect(table.fired(0, now: 1_000) == .nothing)
    }
}
