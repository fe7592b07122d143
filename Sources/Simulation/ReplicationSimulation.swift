import Basics
import CMap
import Replication
import Totem
import TotemConfig

/// One seeded run of whole nodes (DESIGN.md section 8): a fault phase (the seed's
/// `FaultProfile` plus crashes that lose or tear unsynced writes and pauses beyond the token
/// timeout) with clients running, then a liveness phase (everything healed and restarted,
/// a calm network) ending with probe writes, then the checks of `ReplicationChecks`.
public struct ReplicationSimulation {
    public struct Settings: Sendable {
        public var nodeCountRange: ClosedRange<Int> = 3...5
        public var faultPhaseMilliseconds: UInt64 = 6_000
        public var clientCount = 4
        public var profile: FaultProfile?
        public var canary: Replica.TestingCanary?
        public var eventLimit: UInt64 = 4_000_000
        /// Also send random setexpected / setvotes during the fault phase
        /// (ReplicationSimulation+Reconfiguration.swift).
        public var reconfigures = false
        public var totem: TotemOptions.Settings = .shortToken
        public init() {}
    }

    public struct Result: Sendable {
        public var seed: UInt64
        public var profile: FaultProfile
        public var traceHash: TraceHash
        public var violations: [Violation]
        public var trace: [(time: Instant, line: String)]
        public var history: History
        public var linearizability: LinearizabilityReport
        public var operations: (ok: Int, failed: Int, unknown: Int)
        public var committedEntries: UInt64
        public var eventsProcessed: UInt64
        public var snapshotsTaken: Int
        public var snapshotsInstalled: Int
        /// Reconfigurations sent, applied (answered OK) and refused, when `reconfigures` is on.
        public var reconfigurations = ReconfigurationCounts()
        /// Each node's replica status at the end.
        public var finalStatus: [String]
        public var passed: Bool { violations.isEmpty }

        public func traceAround(_ violation: Violation, limit: Int = 40) -> [String] {
            let center = violation.time ?? trace.last?.time ?? .zero
            let before = trace.filter { $0.time <= center }.suffix(limit)
            return before.map { "  \($0.time) \($0.line)" }
        }
    }

    static let clientTagBase: UInt64 = 1_000
    static let restartTagBase: UInt64 = 100
    static let resumeTagBase: UInt64 = 300
    enum Tag: UInt64 { case replies = 0, fault = 1, heal = 2, endFaults = 3, probe = 4, finalCheck = 5 }

    /// After the faults stop: a ring forms (Totem's bound), every member syncs (a few fetch
    /// rounds), and a probe write commits within one request timeout.
    public static func livenessBoundMilliseconds(_ options: TotemOptions) -> UInt64 {
        TotemSimulation.formationBoundMilliseconds(options) + 2_000
    }

    public static func run(seed: UInt64, settings: Settings = Settings()) -> Result {
        var random = SeededGenerator(seed: seed)
        var profileRandom = random.fork()
        let profile = settings.profile ?? FaultProfile.random(&profileRandom, nodeCountRange: settings.nodeCountRange)
        let options = TotemOptions(settings.totem, nodeCount: profile.nodeCount)
        var cluster = ReplicationCluster(nodeCount: profile.nodeCount, options: options,
                                         conditions: profile.faultyNetwork, random: random.fork())
        // Some seeds snapshot and compact often, so that a node far behind gets a snapshot.
        cluster.compactEveryEntries = [0, 0, 40, 150][Int(random.next() % 4)]
        if let canary = settings.canary {
            let voters = cluster.voters
            cluster.replicaConfiguration = { id in
                var c = ReplicaConfiguration(nodeID: id, voters: voters)
                c.testingCanary = canary
                return c
            }
        }
        var driver = Driver(profile: profile, options: options, random: random.fork(),
                            faultPhaseEnd: .milliseconds(settings.faultPhaseMilliseconds),
                            workload: ReplicationWorkload(clientCount: settings.clientCount, random: random.fork()))
        driver.reconfigures = settings.reconfigures
        driver.begin(&cluster)
        cluster.run(until: driver.endTime, eventLimit: settings.eventLimit) { c, tag in driver.control(tag, &c) }

        var violations = cluster.violations + driver.violations
        if cluster.eventsProcessed >= settings.eventLimit {
            violations.append(Violation(rule: "event-budget", time: cluster.now,
                                        detail: "more than \(settings.eventLimit) events"))
        }
        violations += ReplicationChecks.logs(cluster)
        violations += ReplicationChecks.durability(cluster, acknowledged: driver.workload.acknowledged)
        violations += ReplicationChecks.states(cluster)
        let history = driver.workload.recorder.history
        let report = LinearizabilityChecker().check(history)
        if report.isViolation {
            violations.append(Violation(rule: "linearizability", time: cluster.now, detail: report.description))
        }
        var hash = cluster.hash
        hash.mix(UInt64(violations.count))
        let committed = (0..<cluster.nodeCount).compactMap { cluster.core($0)?.replica.commitIndex.rawValue }.max() ?? 0
        var result = Result(seed: seed, profile: profile, traceHash: hash, violations: violations, trace: cluster.trace,
                      history: history, linearizability: report, operations: driver.workload.counts,
                      committedEntries: committed, eventsProcessed: cluster.eventsProcessed,
                      snapshotsTaken: cluster.snapshotsTaken, snapshotsInstalled: cluster.snapshotsInstalled,
                      finalStatus: (0..<cluster.nodeCount).map { i in "n\(i + 1): " + (cluster.core(i).map { "\($0.replica) totem \($0.totem.state) ring \($0.totem.ringID)" } ?? "down") })
        result.reconfigurations = driver.reconfigurations
        return result
    }

    struct Driver {
        let profile: FaultProfile
        let options: TotemOptions
        var random: SeededGenerator
        let faultPhaseEnd: Instant
        var workload: ReplicationWorkload
        var violations: [Violation] = []
        let probeTime: Instant
        let endTime: Instant
        var probeTokens: [ClientToken] = []
        var probeResults: [ClientToken: ReplicatedNode.ClientReply] = [:]
        var crashed: Set<Int> = []
        var reconfigures = false
        var reconfigurations = ReconfigurationCounts()
        var reconfigurationTokens: Set<ClientToken> = []

        init(profile: FaultProfile, options: TotemOptions, random: SeededGenerator, faultPhaseEnd: Instant,
             workload: ReplicationWorkload) {
            self.profile = profile
            self.options = options
            self.random = random
            self.faultPhaseEnd = faultPhaseEnd
            self.workload = workload
            probeTime = faultPhaseEnd + Milliseconds(UInt32(ReplicationSimulation.livenessBoundMilliseconds(options)))
            // A probe write must commit within a few token rotations of a healthy ring.
            endTime = probeTime + Milliseconds(UInt32(options.token) * 3)
        }

        mutating func begin(_ cluster: inout ReplicationCluster) {
            for i in 0..<cluster.nodeCount { cluster.start(i) }
            for c in 0..<workload.clients.count {
                cluster.queue.schedule(.control(ReplicationSimulation.clientTagBase + UInt64(c)), after: 500)
            }
            scheduleFault(&cluster)
            cluster.queue.schedule(.control(Tag.endFaults.rawValue), at: faultPhaseEnd)
            cluster.queue.schedule(.control(Tag.probe.rawValue), at: probeTime)
            cluster.queue.schedule(.control(Tag.finalCheck.rawValue), at: endTime)
        }

        mutating func scheduleFault(_ cluster: inout ReplicationCluster) {
            let mean = profile.meanFaultIntervalMilliseconds
            guard mean > 0 else { return }
            let delay = mean / 2 + random.next() % mean
            let at = cluster.now + Milliseconds(UInt32(delay))
            if at < faultPhaseEnd { cluster.queue.schedule(.control(Tag.fault.rawValue), at: at) }
        }

        mutating func control(_ tag: UInt64, _ cluster: inout ReplicationCluster) {
            switch tag {
            case Tag.replies.rawValue:
                let replies = cluster.replies
                cluster.replies = []
                for (token, _, reply) in replies {
                    if reconfigurationTokens.remove(token) != nil {
                        reconfigurations.count(reply)
                    } else if probeTokens.contains(token) {
                        probeResults[token] = reply
                    } else {
                        workload.handle(token, reply, cluster: &cluster)
                    }
                }
            case Tag.fault.rawValue:
                injectFault(&cluster)
                scheduleFault(&cluster)
            case Tag.heal.rawValue:
                if cluster.now < faultPhaseEnd {
                    cluster.network.healAll()
                    cluster.note("heal")
                }
            case Tag.endFaults.rawValue:
                // Clients stop with the faults; the probes then show the healed cluster commits.
                workload.isRunning = false
                cluster.network.healAll()
                cluster.network.conditions = .calm
                for i in 0..<cluster.nodeCount {
                    cluster.resume(i)
                    if !cluster.isUp(i) { cluster.start(i) }
                }
                crashed = []
                cluster.note("faults stop")
            case Tag.probe.rawValue:
                workload.isRunning = false
                for i in 0..<cluster.nodeCount {
                    let token = ClientToken(UInt64.max - UInt64(i))
                    probeTokens.append(token)
                    let op = CMapOperation.set(CMapKey("probe\(i)"), .string("p"))
                    if !cluster.request(token, .write(op, clientID: 0, clientSeq: 0), at: i) {
                        violations.append(Violation(rule: "liveness", time: cluster.now,
                                                    detail: "node \(i + 1) is down after the faults stopped"))
                    }
                }
            case Tag.finalCheck.rawValue:
                for (i, token) in probeTokens.enumerated() {
                    guard case .result = probeResults[token] else {
                        let phase = cluster.core(i).map { "\($0.replica.phase)" } ?? "down"
                        violations.append(Violation(
                            rule: "liveness", time: cluster.now,
                            detail: "probe write at node \(i + 1) not committed \(options.token * 3) ms after the bound (\(probeResults[token].map { "\($0)" } ?? "no reply"), phase \(phase))"))
                        continue
                    }
                }
            case ReplicationSimulation.restartTagBase..<ReplicationSimulation.resumeTagBase:
                let i = Int(tag - ReplicationSimulation.restartTagBase)
                if cluster.now < faultPhaseEnd && !cluster.isUp(i) {
                    cluster.start(i)
                    crashed.remove(i)
                }
            case ReplicationSimulation.resumeTagBase..<ReplicationSimulation.clientTagBase:
                cluster.resume(Int(tag - ReplicationSimulation.resumeTagBase))
            default:
                let c = Int(tag - ReplicationSimulation.clientTagBase)
                if c < workload.clients.count { workload.next(c, cluster: &cluster) }
                if reconfigures && workload.isRunning { sendReconfiguration(&cluster) }
            }
        }

        mutating func injectFault(_ cluster: inout ReplicationCluster) {
            guard let fault = RandomFault.draw(cluster, profile: profile, token: options.token, random: &random) else { return }
            switch fault {
            case .partition(let groups, let symmetric, let healAfter):
                cluster.network.partition(groups, symmetric: symmetric)
                cluster.note("partition \(groups) \(symmetric ? "" : "one-way")")
                cluster.queue.schedule(.control(Tag.heal.rawValue), after: healAfter)
            case .crash(let i, let mode, let restartAfter):
                workload.nodeLost(i, cluster: &cluster)
                cluster.crash(i, mode: mode)
                crashed.insert(i)
                cluster.queue.schedule(.control(ReplicationSimulation.restartTagBase + UInt64(i)), after: restartAfter)
            case .pause(let i, let resumeAfter):
                cluster.pause(i)
                cluster.queue.schedule(.control(ReplicationSimulation.resumeTagBase + UInt64(i)), after: resumeAfter)
            }
        }
    }
}
