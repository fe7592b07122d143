import Foundation
import NIOCore

/// Runs Swift tasks' jobs on one NIO event loop: a task that prefers it
/// (`Task(executorPreference:)`) runs on the loop's thread between its I/O events.
///
/// Why: a connection's push task waits on a stream the node's loop feeds and writes to a
/// channel of that same loop. On the global pool, every push was two thread wake-ups (the
/// loop resumes the task on a pool thread, whose write hops back to the loop), which on a
/// loaded machine cost more than the rest of a CPG delivery. On the loop, resuming the task
/// and writing are loop tasks run in the same tick: no wake-up at all.
@available(macOS 15, *)
final class EventLoopTaskExecutor: TaskExecutor {
    /// `TOTEMKV_PUSH_INLINE=1`: experiment (Bench/results/cpg-2026-11-26d.md).
    static let runsInline = ProcessInfo.processInfo.environment["TOTEMKV_PUSH_INLINE"] == "1"

    let eventLoop: any EventLoop
    /// A job of this executor is running inline (loop-confined).
    private let isRunningInline: NIOLoopBoundBox<Bool>

    init(_ eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
        self.isRunningInline = .makeBoxSendingValue(false, as: Bool.self, eventLoop: eventLoop)
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        if Self.runsInline, eventLoop.inEventLoop, !isRunningInline.value {
            isRunningInline.value = true
            job.runSynchronously(on: asUnownedTaskExecutor())
            isRunningInline.value = false
            return
        }
        eventLoop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
