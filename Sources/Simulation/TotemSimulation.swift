import Basics
import Totem
import TotemConfig

/// One seeded run of the Totem layer: a fault phase (the seed's `FaultProfile`: loss,
/// duplication, reordering, partitions, pauses, crashes, with a workload), then a liveness
/// phase (everything healed, crashed nodes restarted, a calm network), then the checkers.
/// A run is a pure function of its seed and settings: `traceHash` proves it.
public struct TotemSimulation {
    public struct Settings: Hashable, Sendable {
        public var nodeCountRange: ClosedRange<Int> = 2...7
        public var faultPhaseMilliseconds: UInt64 = 6_000
        /// A planted bug on node 1 (tests of the checkers).
        public var canary: TotemInstance.TestingCanary?
        /// Overrides the drawn profile (regression tests, the benchmark).
        public var profile: FaultProfile?
        /// A run that processes more events than this stops and fails (a livelock or a
        /// packet storm is a bug too).
        public var eventLimit: UInt64 = 3_000_000
        public init() {}
    }

    public struct Result: Sendable {
        public var seed: UInt64
        public var profile: FaultProfile
        public var traceHash: TraceHash
        public var violations: [Violation]
        public var trace: [(time: Instant, line: String)]
        public var eventsProcessed: UInt64
        public var deliveries: UInt64
        public var submissions: Int
        public var formationBoundMilliseconds: UInt64
        /// Each node's counters at the end of the run (nil for a node that is down).
        public var nodeStats: [TotemStats?]
        public var passed: Bool { violations.isEmpty }

        /// The trace lines within `window` ms of a violation, at most `limit`.
        public func traceAround(_ violation: Violation, windowMilliseconds: UInt64 = 3_000, limit: Int = 40) -> [String] {
            let center = violation.time ?? trace.last?.time ?? .zero
            let lo = center.nanoseconds >= windowMilliseconds * 1_000_000 ? center.nanoseconds - windowMilliseconds * 1_000_000 : 0
            let hi = center.nanoseconds + windowMilliseconds * 1_000_000
            let lines = trace.filter { $0.time.nanoseconds >= lo && $0.time.nanoseconds <= hi }
                .map { "  \($0.time) \($0.line)" }
            return Array(lines.suffix(limit))
        }
    }

    enum Control: UInt64 {
        case submit = 1, fault, heal, restartOne, resumeOne, formationCheck, finalCheck
    }

    /// The time a ring with every live node must take to form after the faults stop:
    /// a stale ring notices token loss (token), up to three gather rounds that each end at a
    /// consensus timeout, and the joins, commit rotations and recovery in between.
    public static func formationBoundMilliseconds(_ options: TotemOptions) -> UInt64 {
        2 * UInt64(options.token) + 4 * UInt64(options.consensus) + 40 * UInt64(options.join) + 2_000
    }

    /// Once the ring is formed, a payload is delivered everywhere within one token timeout.
    public static func deliveryBoundMilliseconds(_ options: TotemOptions) -> UInt64 {
        UInt64(options.token)
    }

    public static func run(seed: UInt64, settings: Settings = Settings()) -> Result {
        var random = SeededGenerator(seed: seed)
        var profileRandom = random.fork()
        let profile = settings.profile ?? FaultProfile.random(&profileRandom, nodeCountRange: settings.nodeCountRange)
        var optionSettings = TotemOptions.Settings()
        optionSettings.sendJoin = profile.sendJoinMilliseconds
        let options = TotemOptions(optionSettings, nodeCount: profile.nodeCount)
        var cluster = TotemCluster(nodeCount: profile.nodeCount, options: options,
                                   conditions: profile.faultyNetwork, random: random.fork(),
                                   canary: settings.canary, canaryNode: 0)
        var driver = Driver(profile: profile, options: options, random: random.fork(),
                            faultPhaseEnd: Instant.milliseconds(settings.faultPhaseMilliseconds))
        driver.begin(&cluster)
        let end = driver.endTime
        cluster.run(until: end, eventLimit: settings.eventLimit) { cluster, tag in driver.control(tag, &cluster) }

        var violations = driver.livenessViolations
        if cluster.eventsProcessed >= settings.eventLimit {
            violations.append(Violation(rule: "event-budget", time: cluster.now,
                                        detail: "more than \(settings.eventLimit) events (queue \(cluster.queue.count))"))
        }
        var survivors = Set<NodeIncarnation>()
        for i in 0..<cluster.nodeCount where cluster.isUp(i) { survivors.insert(cluster.incarnation(i)) }
        violations += TotemOrderChecker.check(records: cluster.records, submissions: driver.submissions,
                                              survivors: survivors)
        violations += TotemEVSChecker.check(records: cluster.records)
        var hash = cluster.hash
        hash.mix(UInt64(violations.count))
        return Result(seed: seed, profile: profile, traceHash: hash, violations: violations,
                      trace: cluster.trace, eventsProcessed: cluster.eventsProcessed,
                      deliveries: cluster.deliveriesRecorded, submissions: driver.submissions.count,
                      formationBoundMilliseconds: formationBoundMilliseconds(options),
                      nodeStats: (0..<cluster.nodeCount).map { cluster.instance($0)?.stats })
    }

    /// The scenario: workload and faults during the fault phase, then healing and checks.
    struct Driver {
        let profile: FaultProfile
        let options: TotemOptions
        var random: SeededGenerator
        let faultPhaseEnd: Instant
        var healTime = Instant.zero
        var endTime: Instant
        var submissions: [Submission] = []
        var livenessViolations: [Violation] = []
        var nextPayloadID: UInt64 = 1
        var livenessPayloads: [UInt64] = []
        var finalRing: RingID?

        init(profile: FaultProfile, options: TotemOptions, random: SeededGenerator, faultPhaseEnd: Instant) {
            self.profile = profile
            self.options = options
            self.random = random
            self.faultPhaseEnd = faultPhaseEnd
            let formation = TotemSimulation.formationBoundMilliseconds(options)
            let delivery = TotemSimulation.deliveryBoundMilliseconds(options)
            endTime = faultPhaseEnd + Milliseconds(UInt32(formation + delivery + 1))
        }

        mutating func draw(_ n: UInt64) -> UInt64 { n == 0 ? 0 : random.next() % n }

        /// An exponential-looking interval with the given mean (sum of two uniforms).
        mutating func interval(mean: UInt64) -> Milliseconds {
            Milliseconds(UInt32(1 + draw(mean + 1) + draw(mean + 1)))
        }

        mutating func begin(_ cluster: inout TotemCluster) {
            for i in 0..<cluster.nodeCount {
                cluster.queue.schedule(.control(Control.restartOne.rawValue << 8 | UInt64(i)),
                                       at: .milliseconds(draw(100)))
            }
            cluster.queue.schedule(.control(Control.submit.rawValue << 8), at: .milliseconds(150))
            if profile.meanFaultIntervalMilliseconds > 0 {
                cluster.queue.schedule(.control(Control.fault.rawValue << 8),
                                       after: interval(mean: profile.meanFaultIntervalMilliseconds))
            }
            cluster.queue.schedule(.control(Control.heal.rawValue << 8), at: faultPhaseEnd)
        }

        mutating func control(_ tag: UInt64, _ cluster: inout TotemCluster) {
            let argument = Int(tag & 0xFF)
            switch Control(rawValue: tag >> 8) {
            case .submit:
                guard cluster.now < faultPhaseEnd else { return }
                submitRandom(&cluster, large: profile.largePayloadOneIn > 0 && draw(profile.largePayloadOneIn) == 0)
                cluster.queue.schedule(.control(tag), after: interval(mean: profile.meanSubmitIntervalMilliseconds))
            case .fault:
                guard cluster.now < faultPhaseEnd else { return }
                injectFault(&cluster)
                cluster.queue.schedule(.control(tag), after: interval(mean: profile.meanFaultIntervalMilliseconds))
            case .restartOne:
                if cluster.now < faultPhaseEnd || cluster.now == healTime { cluster.start(argument) }
            case .resumeOne:
                if cluster.now < faultPhaseEnd { cluster.resume(argument) }
            case .heal:
                heal(&cluster)
            case .formationCheck:
                checkFormation(&cluster)
            case .finalCheck:
                checkDelivery(cluster)
            case nil:
                break
            }
        }

        mutating func submitRandom(_ cluster: inout TotemCluster, large: Bool) {
            let up = (0..<cluster.nodeCount).filter { cluster.isUp($0) }
            guard !up.isEmpty else { return }
            let index = up[Int(draw(UInt64(up.count)))]
            submit(&cluster, at: index, byteCount: large ? 2_000 + Int(draw(30_000)) : 12 + Int(draw(300)))
        }

        @discardableResult
        mutating func submit(_ cluster: inout TotemCluster, at index: Int, byteCount: Int) -> UInt64 {
            let id = nextPayloadID
            nextPayloadID += 1
            let accepted = cluster.submit(WorkloadPayload.make(id: id, byteCount: byteCount), at: index)
            let frameBytes = Packing.frameBytesMax(netmtu: options.netmtu)
            submissions.append(Submission(id: id, by: cluster.incarnation(index), time: cluster.now,
                                          byteCount: byteCount, isFragmented: byteCount + 5 > frameBytes,
                                          wasRefused: !accepted))
            return id
        }

        mutating func injectFault(_ cluster: inout TotemCluster) {
            let n = cluster.nodeCount
            let total = profile.partitionWeight + profile.crashWeight + profile.pauseWeight + 1
            var pick = draw(total)
            if pick < profile.partitionWeight {
                // A random split into two or three groups, or healing.
                if draw(3) == 0 {
                    cluster.network.healAll()
                    cluster.note("heal network")
                    return
                }
                let groupCount = n >= 3 && draw(3) == 0 ? 3 : 2
                var groups = [[Int]](repeating: [], count: groupCount)
                for i in 0..<n { groups[Int(draw(UInt64(groupCount)))].append(i) }
                let symmetric = !(profile.allowsAsymmetricPartitions && draw(2) == 0)
                cluster.network.partition(groups, symmetric: symmetric)
                cluster.note("partition \(groups.map { $0.map { $0 + 1 } }) \(symmetric ? "symmetric" : "one-way")")
                return
            }
            pick -= profile.partitionWeight
            let index = Int(draw(UInt64(n)))
            if pick < profile.crashWeight {
                if cluster.isUp(index) {
                    cluster.crash(index)
                    cluster.queue.schedule(.control(Control.restartOne.rawValue << 8 | UInt64(index)),
                                           after: interval(mean: 2 * UInt64(options.token)))
                }
                return
            }
            pick -= profile.crashWeight
            if pick < profile.pauseWeight, cluster.isUp(index), !cluster.isPaused(index) {
                cluster.pause(index)
                cluster.queue.schedule(.control(Control.resumeOne.rawValue << 8 | UInt64(index)),
                                       after: interval(mean: UInt64(options.token)))
            }
        }

        /// The faults stop: heal the network, calm it, resume and restart everybody.
        mutating func heal(_ cluster: inout TotemCluster) {
            healTime = cluster.now
            cluster.network.healAll()
            cluster.network.conditions = NetworkConditions(
                lossProbability: 0, duplicationProbability: 0,
                delayMinMicroseconds: profile.faultyNetwork.delayMinMicroseconds,
                delayMaxMicroseconds: min(profile.faultyNetwork.delayMaxMicroseconds, 5_000))
            cluster.note("faults stop: heal, resume, restart")
            for i in 0..<cluster.nodeCount {
                cluster.resume(i)
                if !cluster.isUp(i) { cluster.start(i) }
            }
            cluster.queue.schedule(.control(Control.formationCheck.rawValue << 8),
                                   after: Milliseconds(UInt32(TotemSimulation.formationBoundMilliseconds(options))))
        }

        /// Liveness, part 1: one ring with every node, all operational.
        mutating func checkFormation(_ cluster: inout TotemCluster) {
            let all = (0..<cluster.nodeCount).map { cluster.nodeID($0) }
            var states: [String] = []
            var formed = true
            let ring = cluster.instance(0)?.ringID
            for i in 0..<cluster.nodeCount {
                guard let instance = cluster.instance(i) else { formed = false; continue }
                states.append("\(instance.nodeID):\(instance.state)\(instance.ringID)\(instance.currentMembers)")
                if instance.state != .operational || instance.ringID != ring || instance.currentMembers != all {
                    formed = false
                }
            }
            guard formed, let ring else {
                livenessViolations.append(Violation(
                    rule: "liveness-formation", time: cluster.now,
                    detail: "no ring of all \(all.count) nodes \(TotemSimulation.formationBoundMilliseconds(options)) ms "
                        + "after the faults stopped: \(states.joined(separator: " "))"))
                return
            }
            finalRing = ring
            cluster.note("formed \(ring) with all nodes")
            for i in 0..<cluster.nodeCount {
                livenessPayloads.append(submit(&cluster, at: i, byteCount: 40 + Int(draw(100))))
            }
            cluster.queue.schedule(.control(Control.finalCheck.rawValue << 8),
                                   after: Milliseconds(UInt32(TotemSimulation.deliveryBoundMilliseconds(options))))
        }

        /// Liveness, part 2: the payloads submitted on the formed ring reached everybody.
        mutating func checkDelivery(_ cluster: TotemCluster) {
            for i in 0..<cluster.nodeCount {
                let node = cluster.incarnation(i)
                var delivered = Set<UInt64>()
                for record in cluster.records[node] ?? [] {
                    if case .delivered(let ring, _, _, let id, _) = record.entry, ring == finalRing {
                        delivered.insert(id)
                    }
                }
                let missing = livenessPayloads.filter { !delivered.contains($0) }
                if !missing.isEmpty {
                    livenessViolations.append(Violation(
                        rule: "liveness-delivery", node: node, time: cluster.now,
                        detail: "payloads \(missing) not delivered within \(TotemSimulation.deliveryBoundMilliseconds(options)) ms"))
                }
                if cluster.instance(i)?.ringID != finalRing {
                    livenessViolations.append(Violation(rule: "liveness-stability", node: node, time: cluster.now,
                                                        detail: "the formed ring did not stay"))
                }
            }
        }
    }
}
