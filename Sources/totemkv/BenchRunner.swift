import Foundation
import NIOCore
import NIOPosix

/// One event loop's share of a run: its clients, its recorder, whether the run stopped.
/// Touched only on its loop.
final class BenchLoopRun {
    var recorder: BenchRecorder
    private(set) var isStopped = false
    private(set) var clients: [BenchClient] = []
    private var unfinishedClients = 0
    /// When this loop's last client finished (for the elapsed time of a `--requests` run).
    private(set) var finishedAtNanoseconds: UInt64?
    let startNanoseconds: UInt64
    let done: EventLoopPromise<Void>

    init(plan: BenchPlan, startNanoseconds: UInt64, loop: any EventLoop) {
        recorder = BenchRecorder(timelineMilliseconds: Int(plan.timeLimitSeconds * 1000) + 1000)
        self.startNanoseconds = startNanoseconds
        done = loop.makePromise()
    }

    func add(_ client: BenchClient) {
        clients.append(client)
        unfinishedClients += 1
    }

    func start(on loop: any EventLoop, timeoutSweepMilliseconds: Int64) {
        if clients.isEmpty { done.succeed(()) }
        for client in clients { client.start() }
        sweepTimeouts(on: loop, every: timeoutSweepMilliseconds)
    }

    /// Checks every client for a timed-out request, every `milliseconds`, until the run stops.
    private func sweepTimeouts(on loop: any EventLoop, every milliseconds: Int64) {
        loop.assumeIsolated().scheduleTask(in: .milliseconds(milliseconds)) {
            guard !self.isStopped else { return }
            let now = BenchClock.nanoseconds()
            for client in self.clients { client.checkTimeout(nowNanoseconds: now) }
            self.sweepTimeouts(on: loop, every: milliseconds)
        }
    }

    func stop() {
        isStopped = true
        for client in clients { client.stop() }
    }

    func clientFinished() {
        unfinishedClients -= 1
        if unfinishedClients == 0 {
            finishedAtNanoseconds = BenchClock.nanoseconds()
            done.succeed(())
        }
    }

    func millisecond(ofNanoseconds nanoseconds: UInt64) -> Int {
        Int((nanoseconds &- min(startNanoseconds, nanoseconds)) / 1_000_000)
    }
}

/// Runs a plan: an event loop group of `plan.threads` loops, clients spread over them, a
/// progress line a second, the optional kill, then the merged summary.
struct BenchRunner {
    let plan: BenchPlan

    func run(progress: (@Sendable (String) -> Void)?) async throws -> BenchSummary {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: plan.threads)
        do {
            let summary = try await run(on: group, progress: progress)
            try? await group.shutdownGracefully()
            return summary
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
    }

    private func run(on group: MultiThreadedEventLoopGroup, progress: (@Sendable (String) -> Void)?) async throws -> BenchSummary {
        let loops = Array(group.makeIterator())
        let start = BenchClock.nanoseconds()
        var runs: [NIOLoopBound<BenchLoopRun>] = []
        var dones: [EventLoopFuture<Void>] = []
        for loop in loops {
            let (run, done) = try await loop.submit {
                let run = BenchLoopRun(plan: plan, startNanoseconds: start, loop: loop)
                return (NIOLoopBound(run, eventLoop: loop), run.done.futureResult)
            }.get()
            runs.append(run)
            dones.append(done)
        }
        for (index, run) in runs.enumerated() {
            let loop = loops[index]
            try await loop.submit {
                let loopRun = run.value
                for client in stride(from: index, to: plan.clients, by: loops.count) {
                    loopRun.add(BenchClient(index: client, plan: plan, run: loopRun, loop: loop))
                }
                // Timeouts are noticed within a tenth of the timeout (at least 1 ms, at most 100).
                loopRun.start(on: loop, timeoutSweepMilliseconds: min(100, max(1, plan.requestTimeoutMilliseconds / 10)))
            }.get()
        }

        let loopRuns = runs
        let reporter = progress.map { print in Task { await Self.reportProgress(runs: loopRuns, loops: loops, print: print) } }
        let killer = plan.kill.map { kill in Task { await Self.sendKill(kill, start: start) } }

        let deadlineSeconds: Double
        switch plan.stop {
        case .duration(let seconds): deadlineSeconds = min(seconds, plan.timeLimitSeconds)
        case .requests: deadlineSeconds = plan.timeLimitSeconds
        }
        let allDone = EventLoopFuture.andAllSucceed(dones, on: loops[0])
        let finishedEarly = try await withThrowingTaskGroup(of: Bool.self) { tasks in
            if case .requests = plan.stop {
                tasks.addTask { try await allDone.get(); return true }
            }
            tasks.addTask {
                let remaining = deadlineSeconds - Double(BenchClock.nanoseconds() &- start) / 1e9
                if remaining > 0 { try await Task.sleep(for: .nanoseconds(Int64(remaining * 1e9))) }
                return false
            }
            let first = try await tasks.next() ?? false
            // Stopping finishes every client, which also completes `allDone`.
            for (index, run) in runs.enumerated() { try await loops[index].submit { run.value.stop() }.get() }
            tasks.cancelAll()
            return first
        }
        let stopped = BenchClock.nanoseconds()
        reporter?.cancel()
        _ = await reporter?.result
        killer?.cancel()
        let killMillisecond = await killer?.value ?? nil

        var merged: BenchRecorder?
        var lastFinish: UInt64 = 0
        for (index, run) in runs.enumerated() {
            let (recorder, finish) = try await loops[index].submit { (run.value.recorder, run.value.finishedAtNanoseconds) }.get()
            lastFinish = max(lastFinish, finish ?? stopped)
            if merged == nil { merged = recorder } else { merged?.merge(recorder) }
        }
        guard let merged else { preconditionFailure("a run has at least one event loop") }
        let end = finishedEarly ? lastFinish : stopped
        var reachedTimeLimit = false
        if case .requests = plan.stop, !finishedEarly { reachedTimeLimit = true }
        return BenchSummary(plan: plan, recorder: merged, elapsedSeconds: Double(end &- start) / 1e9,
                            killMillisecond: killMillisecond, reachedTimeLimit: reachedTimeLimit)
    }

    /// A line a second: writes/s, reads/s and errors of the last second, connected clients.
    private static func reportProgress(runs: [NIOLoopBound<BenchLoopRun>], loops: [any EventLoop],
                                       print: @Sendable (String) -> Void) async {
        var previous = BenchRecorder.Counters()
        var second = 0
        // Ends when the run cancels this task.
        while !Task.isCancelled {
            guard (try? await Task.sleep(for: .seconds(1))) != nil else { return }
            second += 1
            var total = BenchRecorder.Counters()
            for (index, run) in runs.enumerated() {
                guard let counters = try? await loops[index].submit({ run.value.recorder.counters }).get() else { return }
                total = total + counters
            }
            print(BenchProgress.line(second: second, now: total, previous: previous))
            previous = total
        }
    }

    /// Sends SIGKILL at the planned moment; returns the millisecond of the run it was sent at.
    private static func sendKill(_ planned: BenchPlan.Kill, start: UInt64) async -> Int? {
        let at = UInt64(planned.afterSeconds * 1e9)
        let now = BenchClock.nanoseconds() &- start
        if at > now {
            guard (try? await Task.sleep(for: .nanoseconds(Int64(at - now)))) != nil else { return nil }
        }
        let sent = BenchClock.nanoseconds()
        guard kill(planned.pid, SIGKILL) == 0 else {
            sayError("totemkv bench: kill -9 \(planned.pid) failed (errno \(errno))")
            return nil
        }
        return Int((sent &- start) / 1_000_000)
    }
}

/// The progress line.
enum BenchProgress {
    static func line(second: Int, now: BenchRecorder.Counters, previous: BenchRecorder.Counters) -> String {
        let writes = now.acknowledgedWrites &- previous.acknowledgedWrites
        let reads = now.reads &- previous.reads
        let errors = now.errors &- previous.errors
        var line = "[\(second) s] writes/s \(writes)"
        if now.reads > 0 { line += "  reads/s \(reads)" }
        line += "  errors \(errors)"
        if errors > 0 {
            line += " (NOQUORUM \(now.noQuorumErrors &- previous.noQuorumErrors), "
                + "UNKNOWN \(now.unknownErrors &- previous.unknownErrors), "
                + "connection \(now.connectionErrors &- previous.connectionErrors))"
        }
        return line + "  connected \(now.connectedClients)"
    }
}
