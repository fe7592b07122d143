import Basics

/// What the node's event loop was doing: the kind of the last piece of work it started. A
/// stall is reported with it, because a loop that did not run for a while was usually stuck
/// in the work it started last (a disk operation, a huge step), or the whole process was
/// paused (then it is whatever came last). Raw values are stable: the watchdog thread reads
/// them from an atomic.
public enum LoopWork: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    case idle = 0
    case start = 1
    case totemPacket = 2
    case totemTimer = 3
    case redundantRingTimer = 4
    case peerMessage = 5
    case durabilityReport = 6
    case clientRequest = 7
    case replicaTick = 8
    case leave = 9
    case diskOperation = 10
    case stallCheck = 11
    case statusFile = 12
    case snapshot = 13
    case quorumTimer = 14

    public var description: String {
        switch self {
        case .idle: "idle"
        case .start: "start"
        case .totemPacket: "totem packet"
        case .totemTimer: "totem timer"
        case .redundantRingTimer: "redundant ring timer"
        case .peerMessage: "peer message"
        case .durabilityReport: "durability report"
        case .clientRequest: "client request"
        case .replicaTick: "replica tick"
        case .leave: "leave"
        case .diskOperation: "disk operation on the loop"
        case .stallCheck: "stall check"
        case .statusFile: "status file"
        case .snapshot: "snapshot capture"
        case .quorumTimer: "quorum timer"
        }
    }
}

/// One stall: the loop did not run, or the token did not come, for `duration`.
public struct Stall: Equatable, Sendable {
    public enum Kind: String, Sendable, CaseIterable {
        /// The event loop ran nothing for `duration` (it was stuck, or the process was not
        /// scheduled: SIGSTOP, a paused VM, swapping).
        case loop
        /// A token arrived `duration` after the previous one.
        case lateToken = "late_token"
        /// No token for `duration` so far (reported while waiting, as corosync's
        /// "Token has not been received in N ms").
        case missingToken = "missing_token"
    }

    public var kind: Kind
    /// When it was noticed (the end of a loop stall, the late token's arrival).
    public var detectedAt: Instant
    public var duration: Milliseconds
    /// The last work the loop started before the stall.
    public var running: LoopWork

    public init(kind: Kind, detectedAt: Instant, duration: Milliseconds, running: LoopWork) {
        self.kind = kind
        self.detectedAt = detectedAt
        self.duration = duration
        self.running = running
    }
}

/// Notices hangs (corosync's FAQ "what to do when corosync hangs"; corosync 3.x's
/// `token_warning` and its "main process was not scheduled" check), as a sans-IO value: the
/// runtime feeds it every piece of work the loop starts and every token Totem receives, and
/// performs the actions.
///
/// - Loop stalls: a periodic check on the loop (`checkInterval`) keeps the loop busy at
///   least that often, so any gap between two consecutive pieces of work longer than the
///   warning threshold means the loop did not run: it was stuck in the earlier one, or the
///   process was paused. The periodic check arriving late is the usual witness.
/// - Late tokens: while Totem is operational, a token later than the threshold after the
///   previous one; and while waiting, a warning every threshold without a token.
/// - Watchdog: a loop stall longer than the token timeout means the rest of the ring has
///   declared the token lost and may have moved on; with the watchdog on, the node exits
///   instead of continuing with those stale beliefs (`exitForWatchdog`).
///
/// Threshold: `token_warning` percent of the effective token timeout; 0 disables warnings
/// (the watchdog still works, with the token timeout as its only bound).
public struct StallDetector: Sendable {
    public struct Settings: Equatable, Sendable {
        public var tokenTimeout: Milliseconds
        /// `token_warning`: percent of `tokenTimeout`, 0 = no warnings.
        public var warningPercent: UInt32
        public var isWatchdogOn: Bool

        public init(tokenTimeout: Milliseconds, warningPercent: UInt32, isWatchdogOn: Bool) {
            self.tokenTimeout = tokenTimeout
            self.warningPercent = min(warningPercent, 100)
            self.isWatchdogOn = isWatchdogOn
        }

        /// nil when warnings are off.
        public var warningThreshold: Milliseconds? {
            guard warningPercent > 0 else { return nil }
            return Milliseconds(UInt32(UInt64(tokenTimeout.rawValue) * UInt64(warningPercent) / 100))
        }

        /// How often the loop checks itself: a quarter of the smallest bound, between 10 and
        /// 100 ms, so that an idle loop never looks stalled.
        public var checkInterval: Milliseconds {
            let bound = min(warningThreshold ?? tokenTimeout, tokenTimeout).rawValue
            return Milliseconds(min(100, max(10, bound / 4)))
        }
    }

    public enum Event: Equatable, Sendable {
        /// The loop starts `work` (every queued input, timer and periodic check).
        case loopRan(LoopWork, at: Instant)
        /// Totem received a token (the runtime sees its token counter move).
        case tokenReceived(at: Instant)
        /// Totem entered or left the operational state; tokens are expected only inside it.
        case operationalChanged(Bool, at: Instant)
    }

    public enum Action: Equatable, Sendable {
        /// Log it and show it in status.
        case report(Stall)
        /// The loop stayed stalled beyond the token timeout and the watchdog is on: exit.
        /// Comes after the `.report` of the same stall.
        case exitForWatchdog(Stall)
    }

    public let settings: Settings
    public private(set) var lastStall: Stall?
    /// Stalls reported, by kind (in `Stall.Kind.allCases` order).
    public private(set) var counts: [Stall.Kind: UInt64] = [:]
    /// The longest loop stall seen.
    public private(set) var longestLoopStall: Milliseconds = 0
    private var lastWork: (work: LoopWork, at: Instant)?
    private var isOperational = false
    private var lastToken: Instant?
    /// When the next "missing token" warning is due.
    private var nextMissingWarning: Instant?

    public init(settings: Settings) {
        self.settings = settings
    }

    public mutating func step(_ event: Event) -> [Action] {
        switch event {
        case .loopRan(let work, let at):
            defer { lastWork = (work, at) }
            if let previous = lastWork {
                let gap = Milliseconds(UInt32(clamping: at.milliseconds(since: previous.at)))
                let actions = loopGap(gap, running: previous.work, at: at)
                // A loop that did not run explains a token it did not see: one report.
                if !actions.isEmpty { return actions }
            }
            return work == .stallCheck ? checkMissingToken(at: at) : []
        case .tokenReceived(let at):
            defer {
                lastToken = at
                nextMissingWarning = settings.warningThreshold.map { at + $0 }
            }
            guard isOperational, let previous = lastToken, let threshold = settings.warningThreshold else { return [] }
            let gap = Milliseconds(UInt32(clamping: at.milliseconds(since: previous)))
            guard gap > threshold else { return [] }
            return [record(Stall(kind: .lateToken, detectedAt: at, duration: gap, running: lastWork?.work ?? .idle))]
        case .operationalChanged(let isOperational, _):
            // A new ring starts a new token rotation: gaps across a membership change are the
            // membership protocol's business (token loss, consensus), not a late token.
            self.isOperational = isOperational
            lastToken = nil
            nextMissingWarning = nil
            return []
        }
    }

    private mutating func loopGap(_ gap: Milliseconds, running: LoopWork, at: Instant) -> [Action] {
        let isWarning = settings.warningThreshold.map { gap > $0 } ?? false
        let isBeyondToken = gap > settings.tokenTimeout
        guard isWarning || (settings.isWatchdogOn && isBeyondToken) else { return [] }
        let stall = Stall(kind: .loop, detectedAt: at, duration: gap, running: running)
        longestLoopStall = max(longestLoopStall, gap)
        var actions = [record(stall)]
        if settings.isWatchdogOn && isBeyondToken { actions.append(.exitForWatchdog(stall)) }
        return actions
    }

    private mutating func checkMissingToken(at: Instant) -> [Action] {
        guard isOperational, let threshold = settings.warningThreshold, let since = lastToken,
              let due = nextMissingWarning, at >= due else { return [] }
        nextMissingWarning = at + threshold
        let waited = Milliseconds(UInt32(clamping: at.milliseconds(since: since)))
        return [record(Stall(kind: .missingToken, detectedAt: at, duration: waited, running: lastWork?.work ?? .idle))]
    }

    private mutating func record(_ stall: Stall) -> Action {
        lastStall = stall
        counts[stall.kind, default: 0] &+= 1
        return .report(stall)
    }
}
