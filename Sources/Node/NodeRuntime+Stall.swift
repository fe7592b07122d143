import Basics
import Foundation
import NIOCore
import Replication
import Synchronization
import Totem

/// How a watchdog expiry ends the process: one line on standard error, exit status 75
/// (EX_TEMPFAIL: "try again"), so that a supervisor restarts the node, which then recovers
/// from its files and rejoins with fresh beliefs.
public enum WatchdogExit {
    public static let status: Int32 = 75

    /// The loop and the watchdog thread may both get here after a SIGCONT: only the first
    /// exits (exit is not safe to run twice at once); the other returns and its runtime stops.
    private static let isExiting = Atomic<Bool>(false)

    @Sendable public static func exitProcess(_ message: String) {
        guard !isExiting.exchange(true, ordering: .acquiringAndReleasing) else { return }
        FileHandle.standardError.write(Data("totemkv node: watchdog: \(message)\n".utf8))
        Foundation.exit(status)
    }
}

/// The last stall, as status reports it.
public struct StallStatus: Sendable, Equatable {
    public var stall: Stall
    /// Wall-clock time it was noticed, in Unix milliseconds.
    public var unixMilliseconds: UInt64
    /// How long ago it was noticed.
    public var agoMilliseconds: UInt64
}

/// Hang detection wired into the loop (docs/node.md, "Hangs"): every piece of work the loop
/// starts goes through `noteWork`, every core step through `stepCore`, and a periodic check
/// keeps the loop busy so that a gap always means a stall.
@available(macOS 15, *)
extension NodeRuntime {
    /// Steps the cores with one event and performs the actions, with the bookkeeping around
    /// it: the work stamp, token arrivals, metrics, the snapshot policy.
    func stepCore(_ event: ReplicatedNode.Event) {
        let at = now()
        noteWork(Self.work(of: event), at: at)
        // The watchdog may have just stopped the node: nothing after that is stepped.
        guard !isStopped else { return }
        let actions = core.step(event)
        let isSnapshotDue = observe(event, actions, at: at)
        perform(actions)
        observeTotem(at: at)
        if isSnapshotDue { startAutomaticSnapshot() }
    }

    /// Stamps the start of a piece of work: the watchdog thread's heartbeat and the loop's own
    /// stall check.
    func noteWork(_ work: LoopWork, at: Instant) {
        // Before `start` nothing keeps the loop busy, so a quiet loop is not a stalled one.
        guard isStarted else { return }
        ops.watchdog?.loopRan(work, at: at)
        let actions = ops.stalls.step(.loopRan(work, at: at))
        if !actions.isEmpty { performStall(actions) }
    }

    /// Totem's token counter and state after a step: token arrivals and operational changes
    /// for the stall detector.
    func observeTotem(at: Instant) {
        let isOperational = core.totem.state == .operational
        if isOperational != ops.wasOperational {
            ops.wasOperational = isOperational
            _ = ops.stalls.step(.operationalChanged(isOperational, at: at))
        }
        let tokens = core.totem.stats.tokensReceived
        if tokens != ops.tokensSeen {
            ops.tokensSeen = tokens
            let actions = ops.stalls.step(.tokenReceived(at: at))
            if !actions.isEmpty { performStall(actions) }
        }
    }

    static func work(of event: ReplicatedNode.Event) -> LoopWork {
        switch event {
        case .started: .start
        case .packetReceived: .totemPacket
        case .totemTimerFired: .totemTimer
        case .peerMessageReceived: .peerMessage
        case .appendDurable: .durabilityReport
        case .replicaTickFired: .replicaTick
        case .requested: .clientRequest
        case .leaveRequested: .leave
        case .quorumTimerFired: .quorumTimer
        case .processGroupRequested: .clientRequest
        }
    }

    /// Starts the periodic loop check and, with `watchdog` on, the watchdog thread.
    func startStallChecks() {
        let settings = ops.stalls.settings
        let interval = Int64(settings.checkInterval.rawValue)
        noteWork(.start, at: now())
        ops.stallCheckTask = eventLoop.scheduleRepeatedTask(initialDelay: .milliseconds(interval),
                                                            delay: .milliseconds(interval)) { _ in
            guard !self.isStopped else { return }
            self.noteWork(.stallCheck, at: self.now())
        }
        guard settings.isWatchdogOn else { return }
        let nodeID = configuration.nodeID
        let logger = self.logger
        let onExpired = configuration.onWatchdogExpired
        let token = settings.tokenTimeout
        let watchdog = LoopWatchdog(
            settings: settings, label: "totemkv.watchdog.\(nodeID)",
            onStalled: { age, work in
                logger.warning("node \(nodeID): the event loop has not run for \(age.rawValue) ms (last work: \(work)); the watchdog ends the node at \(token.rawValue) ms")
            },
            onExpired: { age, work in
                let message = Self.watchdogMessage(nodeID: nodeID, stalled: age, token: token, running: work)
                logger.critical("\(message)")
                onExpired(message)
            })
        ops.watchdog = watchdog
        watchdog.start()
    }

    func stopStallChecks() {
        ops.stallCheckTask?.cancel()
        ops.stallCheckTask = nil
        ops.watchdog?.stop()
        ops.watchdog = nil
        ops.writeStarts = [:]
    }

    func performStall(_ actions: [StallDetector.Action]) {
        let id = configuration.nodeID
        for action in actions {
            switch action {
            case .report(let stall):
                ops.lastStallUnixMilliseconds = Self.unixMilliseconds()
                let threshold = ops.stalls.settings.warningThreshold.map { "\($0.rawValue) ms" } ?? "off"
                let bound = "token_warning \(ops.stalls.settings.warningPercent)% of the \(ops.stalls.settings.tokenTimeout.rawValue) ms token timeout = \(threshold)"
                switch stall.kind {
                case .loop:
                    logger.warning("""
                        node \(id): the event loop did not run for \(stall.duration.rawValue) ms (\(bound)); \
                        last work: \(stall.running). The process was blocked or not scheduled: \
                        check the machine's load and the disk, or raise the token timeout
                        """)
                case .lateToken:
                    logger.warning("node \(id): the token arrived \(stall.duration.rawValue) ms after the previous one (\(bound))")
                case .missingToken:
                    logger.notice("node \(id): the token has not been received in \(stall.duration.rawValue) ms (\(bound))")
                }
            case .exitForWatchdog(let stall):
                let message = Self.watchdogMessage(nodeID: id, stalled: stall.duration,
                                                   token: ops.stalls.settings.tokenTimeout, running: stall.running)
                logger.critical("\(message)")
                configuration.onWatchdogExpired(message)
                // Only reached when the handler returns (tests): stop taking part all the same.
                stopLocally()
                return
            }
        }
    }

    static func watchdogMessage(nodeID: NodeID, stalled: Milliseconds, token: Milliseconds, running: LoopWork) -> String {
        """
        node \(nodeID): the event loop was stalled for \(stalled.rawValue) ms, longer than the \
        \(token.rawValue) ms token timeout (last work: \(running)); the ring has moved on without \
        this node, so it exits (runtime { watchdog: on }) to be restarted with fresh state
        """
    }

    /// The last stall for status, if any.
    func stallStatus() -> StallStatus? {
        guard let stall = ops.stalls.lastStall else { return nil }
        return StallStatus(stall: stall, unixMilliseconds: ops.lastStallUnixMilliseconds ?? 0,
                           agoMilliseconds: now().milliseconds(since: stall.detectedAt))
    }

    /// Stall counters for status (`NodeStatus.counters`).
    func stallCounters() -> [(String, UInt64)] {
        Stall.Kind.allCases.map { ("stalls_" + $0.rawValue, ops.stalls.counts[$0] ?? 0) }
            + [("loop_stall_longest_ms", UInt64(ops.stalls.longestLoopStall.rawValue))]
    }

    static func unixMilliseconds() -> UInt64 {
        UInt64(max(0, Date().timeIntervalSince1970 * 1000))
    }
}
