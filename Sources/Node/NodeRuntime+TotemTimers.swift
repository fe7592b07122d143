import Basics
import NIOCore
import Totem

/// Totem's timers on the loop, armed lazily (`LazyTimerTable`): a token visit restarts the
/// token timers without touching the loop's timer queue.
@available(macOS 15, *)
extension NodeRuntime {
    func startTotemTimer(_ kind: TotemTimerKind, _ generation: TimerGeneration, after: Milliseconds) {
        let due = NIODeadline.now() + .milliseconds(Int64(after.rawValue))
        let index = Int(kind.rawValue)
        switch totemTimerTable.start(index, generation: generation, due: due.uptimeNanoseconds) {
        case .keep:
            return
        case .arm(let at):
            armTotemTimer(kind, at: at)
        }
    }

    private func armTotemTimer(_ kind: TotemTimerKind, at: UInt64) {
        let index = Int(kind.rawValue)
        totemTimerTasks[index]?.cancel()
        if at <= NIODeadline.now().uptimeNanoseconds {
            // Already due (the 0 ms `deliverOwn` of every message sent on a held token, which
            // `deliverOwnNow` usually fires first): a plain loop task, without the scheduled
            // task's promise and heap entry. It needs no cancel: until it runs every restart
            // is due no earlier, so the table keeps it (`.keep`), and a cancelled or early
            // fired timer is found not due when it runs.
            totemTimerTasks[index] = nil
            eventLoop.execute { self.totemTimerTaskRan(kind) }
            return
        }
        totemTimerTasks[index] = eventLoop.scheduleTask(deadline: NIODeadline.uptimeNanoseconds(at)) {
            self.totemTimerTaskRan(kind)
        }
    }

    private func totemTimerTaskRan(_ kind: TotemTimerKind) {
        let index = Int(kind.rawValue)
        totemTimerTasks[index] = nil
        switch totemTimerTable.fired(index, now: NIODeadline.now().uptimeNanoseconds) {
        case .nothing:
            return
        case .rearm(let at):
            armTotemTimer(kind, at: at)
        case .fire(let generation):
            CPGTrace.shared?.record(.totemTimerFired, UInt64(kind.rawValue))
            enqueue(.core(.totemTimerFired(kind, generation, at: now())))
        }
    }
}
