import Basics
@preconcurrency import Dispatch
import NIOCore
import Synchronization

/// The watchdog's decision, as a value: given when the loop last started work and what, is
/// the loop stalled right now, and for how long? One warning per stall (a stall is
/// identified by the instant the loop last ran), then an expiry once it passes the token
/// timeout.
public struct LoopWatchdogCheck: Sendable {
    public enum Verdict: Equatable, Sendable {
        case fine
        /// Stalled longer than the warning threshold so far (reported once per stall).
        case stalled(Milliseconds, LoopWork)
        /// Stalled longer than the token timeout: the node must exit.
        case expired(Milliseconds, LoopWork)
    }

    public let settings: StallDetector.Settings
    private var warnedAbout: Instant?

    public init(settings: StallDetector.Settings) {
        self.settings = settings
    }

    public mutating func check(now: Instant, loopRanAt: Instant, running: LoopWork) -> Verdict {
        let age = Milliseconds(UInt32(clamping: now.milliseconds(since: loopRanAt)))
        if age > settings.tokenTimeout { return .expired(age, running) }
        guard let threshold = settings.warningThreshold, age > threshold, warnedAbout != loopRanAt else { return .fine }
        warnedAbout = loopRanAt
        return .stalled(age, running)
    }
}

/// A thread that watches the event loop from outside it (`runtime { watchdog: on }`): the
/// loop itself can only notice a stall once it runs again, and a loop stuck for good (a
/// blocked disk, a livelock) never does. The loop stamps `loopRan` for every piece of work;
/// a timer on a dispatch queue of its own checks the stamp's age. When the whole process was
/// paused (SIGSTOP), both resume together and whichever looks first makes the node exit.
///
/// Lock-free on the loop's side: two relaxed atomic stores per piece of work.
final class LoopWatchdog: Sendable {
    private let lastRanNanoseconds = Atomic<UInt64>(0)
    private let running = Atomic<UInt8>(LoopWork.idle.rawValue)
    private let decision: Mutex<LoopWatchdogCheck>
    private let timer: DispatchSourceTimer
    private let queue: DispatchQueue

    /// `onStalled` logs; `onExpired` must end the process (it is called at most once).
    init(settings: StallDetector.Settings, label: String,
         onStalled: @escaping @Sendable (Milliseconds, LoopWork) -> Void,
         onExpired: @escaping @Sendable (Milliseconds, LoopWork) -> Void) {
        decision = Mutex(LoopWatchdogCheck(settings: settings))
        queue = DispatchQueue(label: label)
        timer = DispatchSource.makeTimerSource(queue: queue)
        lastRanNanoseconds.store(Self.now().nanoseconds, ordering: .relaxed)
        let interval = Int(settings.checkInterval.rawValue)
        let hasExpired = Atomic<Bool>(false)
        timer.schedule(deadline: .now() + .milliseconds(interval), repeating: .milliseconds(interval),
                       leeway: .milliseconds(max(1, interval / 10)))
        timer.setEventHandler { [weak self] in
            guard let self else { return }
            let ranAt = Instant(nanoseconds: self.lastRanNanoseconds.load(ordering: .relaxed))
            let work = LoopWork(rawValue: self.running.load(ordering: .relaxed)) ?? .idle
            let verdict = self.decision.withLock { $0.check(now: Self.now(), loopRanAt: ranAt, running: work) }
            switch verdict {
            case .fine: break
            case .stalled(let age, let work): onStalled(age, work)
            case .expired(let age, let work):
                guard !hasExpired.exchange(true, ordering: .relaxed) else { return }
                onExpired(age, work)
            }
        }
    }

    func start() { timer.resume() }

    func stop() { timer.cancel() }

    /// Called on the loop for every piece of work it starts.
    func loopRan(_ work: LoopWork, at: Instant) {
        lastRanNanoseconds.store(at.nanoseconds, ordering: .relaxed)
        running.store(work.rawValue, ordering: .relaxed)
    }

    static func now() -> Instant { Instant(nanoseconds: NIODeadline.now().uptimeNanoseconds) }
}
