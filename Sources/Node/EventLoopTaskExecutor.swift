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
    let eventLoop: any EventLoop

    init(_ eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        eventLoop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
