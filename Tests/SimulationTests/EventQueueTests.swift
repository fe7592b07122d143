import Basics
import Testing
@testable import Simulation

@Suite struct EventQueueTests {
    /// Interleaved schedules and pops (slots are reused) take events in (time, scheduling
    /// order), as a sorted reference list does, and the clock follows.
    @Test func popsInTimeThenSchedulingOrder() {
        var rng = SeededGenerator(seed: 12)
        var queue = EventQueue<String>()
        var reference: [(time: Instant, order: Int, event: String)] = []
        var scheduled = 0
        for _ in 0..<4_000 {
            if rng.next() % 3 != 0 {
                let time = queue.now.adding(microseconds: rng.next() % 5 * 1_000)
                let event = "e\(scheduled)"
                queue.schedule(event, at: time)
                reference.append((time, scheduled, event))
                scheduled += 1
            } else {
                reference.sort { $0.time != $1.time ? $0.time < $1.time : $0.order < $1.order }
                let expected = reference.isEmpty ? nil : reference.removeFirst()
                let popped = queue.popNext()
                #expect(popped?.event == expected?.event)
                #expect(popped?.time == expected?.time)
                if let expected { #expect(queue.now == expected.time) }
            }
            #expect(queue.count == reference.count)
        }
    }
}
