import Basics
import Replication
import Totem
import TotemConfig

/// One seeded run of closed process groups on whole nodes: a fault phase (the seed's
/// `FaultProfile`: loss, partitions, crashes, pauses) with clients joining, leaving,
/// multicasting and closing connections, then a calm phase in which everything is healed
/// and restarted, a final round of messages, and the checks of `ProcessGroupChecks`.
public struct ProcessGroupSimulation {
    public struct Settings: Sendable {
        public var nodeCountRange: ClosedRange<Int> = 3...5
        public var faultPhaseMilliseconds: UInt64 = 4_000
        public var profile: FaultProfile?
        public var eventLimit: UInt64 = 3_000_000
        public var totem: TotemOptions.Settings = .shortToken
        public init() {}
    }

    public struct Result: Sendable {
        public var seed: UInt64
        public var profile: FaultProfile
        public var problems: [String]
        public var deliveries: Int
        public var messagesSent: Int
        public var traceHash: TraceHash
        public var passed: Bool { problems.isEmpty }
    }

    static let groups = [try! ProcessGroupName("alpha"), try! ProcessGroupName("beta")]
    enum Tag: UInt64 { case client = 1, fault = 2, heal = 3, endFaults = 4, finalRound = 5, finalCheck = 6 }
    static let restartTagBase: UInt64 = 100, resumeTagBase: UInt64 = 200

    public static func run(seed: UInt64, settings: Settings = Settings()) -> Result {
        var random = SeededGenerator(seed: seed)
        var profileRandom = random.fork()
        let profile = settings.profile ?? FaultProfile.random(&profileRandom, nodeCountRange: settings.nodeCountRange)
        let options = TotemOptions(settings.totem, nodeCount: profile.nodeCount)
        var cluster = ReplicationCluster(nodeCount: profile.nodeCount, options: options,
                                         conditions: profile.faultyNetwork, random: random.fork())
        var driver = Driver(profile: profile, options: options, random: random.fork(),
                            faultPhaseEnd: .milliseconds(settings.faultPhaseMilliseconds))
        driver.begin(&cluster)
        cluster.run(until: driver.endTime, eventLimit: settings.eventLimit) { c, tag in driver.control(tag, &c) }
        var problems = cluster.violations.map { "\($0)" } + driver.problems
        if cluster.eventsProcessed >= settings.eventLimit { problems.append("more than \(settings.eventLimit) events") }
        problems += ProcessGroupChecks.order(cluster.processGroupRecord)
        return Result(seed: seed, profile: profile, problems: problems, deliveries: cluster.processGroupRecord.deliveryCount,
                      messagesSent: driver.messagesSent, traceHash: cluster.hash)
    }

    struct Driver {
        let profile: FaultProfile
        let options: TotemOptions
        var random: SeededGenerator
        let faultPhaseEnd: Instant
        let finalRoundTime: Instant
        let endTime: Instant
        var isRunning = true
        var problems: [String] = []
        /// Members that joined (accepted) and have not left, closed or crashed.
        var joined: [ProcessGroupRecord.Key: Bool] = [:]
        /// Open connections per node index.
        var connections: [[ConnectionID]]
        var nextConnection: UInt64 = 1
        var nextToken: UInt64 = 1
        var nextPayload: UInt64 = 1
        var messagesSent = 0
        /// Requests waiting for their reply: token → what to record when accepted.
        var pendingJoins: [ClientToken: ProcessGroupRecord.Key] = [:]
        /// Every member that ever asked to join: a member joins a group at most once, since
        /// the order check names join and leave events by member.
        var everJoined: Set<ProcessGroupRecord.Key> = []
        var finalSent: [(ProcessGroupRecord.Key, [UInt8])] = []

        init(profile: FaultProfile, options: TotemOptions, random: SeededGenerator, faultPhaseEnd: Instant) {
            self.profile = profile
            self.options = options
            self.random = random
            self.faultPhaseEnd = faultPhaseEnd
            connections = Array(repeating: [], count: profile.nodeCount)
            finalRoundTime = faultPhaseEnd + Milliseconds(UInt32(ReplicationSimulation.livenessBoundMilliseconds(options)))
            endTime = finalRoundTime + Milliseconds(UInt32(options.token) * 4)
        }

        mutating func begin(_ cluster: inout ReplicationCluster) {
            for i in 0..<cluster.nodeCount { cluster.start(i) }
            cluster.queue.schedule(.control(Tag.client.rawValue), after: 300)
            scheduleFault(&cluster)
            cluster.queue.schedule(.control(Tag.endFaults.rawValue), at: faultPhaseEnd)
            cluster.queue.schedule(.control(Tag.finalRound.rawValue), at: finalRoundTime)
            cluster.queue.schedule(.control(Tag.finalCheck.rawValue), at: endTime)
        }

        mutating func scheduleFault(_ cluster: inout ReplicationCluster) {
            let mean = profile.meanFaultIntervalMilliseconds
            guard mean > 0 else { return }
            let at = cluster.now + Milliseconds(UInt32(mean / 2 + random.next() % mean))
            if at < faultPhaseEnd { cluster.queue.schedule(.control(Tag.fault.rawValue), at: at) }
        }

        mutating func token() -> ClientToken {
            nextToken += 1
            return ClientToken(nextToken)
        }

        mutating func control(_ tag: UInt64, _ cluster: inout ReplicationCluster) {
            switch tag {
            case 0:
                for (token, key) in pendingJoins.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
                    guard let reply = cluster.processGroupRecord.replies[token] else { continue }
                    pendingJoins[token] = nil
                    if reply == .accepted { joined[key] = true }
                }
                cluster.replies = []
            case Tag.client.rawValue:
                guard isRunning else { return }
                clientStep(&cluster)
                let mean = max(profile.meanSubmitIntervalMilliseconds, 5)
                cluster.queue.schedule(.control(Tag.client.rawValue), after: Milliseconds(UInt32(1 + random.next() % (2 * mean))))
            case Tag.fault.rawValue:
                injectFault(&cluster)
                scheduleFault(&cluster)
            case Tag.heal.rawValue:
                if cluster.now < faultPhaseEnd { cluster.network.healAll() }
            case Tag.endFaults.rawValue:
                isRunning = false
                cluster.network.healAll()
                cluster.network.conditions = .calm
                for i in 0..<cluster.nodeCount {
                    cluster.resume(i)
                    if !cluster.isUp(i) { cluster.start(i) }
                }
            case Tag.finalRound.rawValue:
                settleReplies(&cluster)
                problems += ProcessGroupChecks.agreement(cluster, expected: expectedViews())
                for key in joined.keys.sorted() {
                    let payload = payloadBytes(1 << 63 | nextPayload)
                    nextPayload += 1
                    finalSent.append((key, payload))
                    let index = Int(key.member.node.rawValue) - 1
                    _ = cluster.processGroupRequest(.mcast(key.group, key.member.connection, payload: payload), token: nil, at: index)
                }
            case Tag.finalCheck.rawValue:
                problems += ProcessGroupChecks.delivery(cluster.processGroupRecord, members: joined.keys.sorted(), sent: finalSent)
            case restartTagBase..<resumeTagBase:
                let i = Int(tag - restartTagBase)
                if cluster.now < faultPhaseEnd && !cluster.isUp(i) { cluster.start(i) }
            case resumeTagBase..<(resumeTagBase + 100):
                cluster.resume(Int(tag - resumeTagBase))
            default:
                break
            }
        }

        func payloadBytes(_ id: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: id >> (8 * (7 - $0))) } }

        /// Joins whose reply came in the same step as the last control are settled here.
        mutating func settleReplies(_ cluster: inout ReplicationCluster) { control(0, &cluster) }

        func expectedViews() -> [ProcessGroupName: Set<ProcessGroupMember>] {
            var views: [ProcessGroupName: Set<ProcessGroupMember>] = [:]
            for key in joined.keys { views[key.group, default: []].insert(key.member) }
            return views
        }

        /// One client action at a random up node: open a connection and join, multicast,
        /// leave, or close a connection.
        mutating func clientStep(_ cluster: inout ReplicationCluster) {
            settleReplies(&cluster)
            let up = (0..<cluster.nodeCount).filter { cluster.isUp($0) && !cluster.isPaused($0) }
            guard !up.isEmpty else { return }
            let i = up[Int(random.next() % UInt64(up.count))]
            let node = NodeID(UInt32(i + 1))
            let roll = random.next() % 100
            let mine = joined.keys.filter { $0.member.node == node }.sorted()
            if roll < 15 || mine.isEmpty {
                // A connection joins a group it is not in (a new one, or an open one).
                let connection: ConnectionID
                if connections[i].isEmpty || random.next() % 2 == 0 {
                    connection = ConnectionID(UInt64(i + 1) << 32 | nextConnection)
                    nextConnection += 1
                    connections[i].append(connection)
                } else {
                    connection = connections[i][Int(random.next() % UInt64(connections[i].count))]
                }
                let group = ProcessGroupSimulation.groups[Int(random.next() % 2)]
                let key = ProcessGroupRecord.Key(member: ProcessGroupMember(node: node, connection: connection), group: group)
                guard everJoined.insert(key).inserted else { return }
                let t = token()
                pendingJoins[t] = key
                _ = cluster.processGroupRequest(.join(group, connection), token: t, at: i)
            } else if roll < 85 {
                let key = mine[Int(random.next() % UInt64(mine.count))]
                let payload = payloadBytes(nextPayload)
                nextPayload += 1
                messagesSent += 1
                _ = cluster.processGroupRequest(.mcast(key.group, key.member.connection, payload: payload), token: nil, at: i)
            } else if roll < 93 {
                let key = mine[Int(random.next() % UInt64(mine.count))]
                joined[key] = nil
                _ = cluster.processGroupRequest(.leave(key.group, key.member.connection), token: nil, at: i)
            } else {
                let connection = mine[Int(random.next() % UInt64(mine.count))].member.connection
                for key in joined.keys where key.member.connection == connection { joined[key] = nil }
                pendingJoins = pendingJoins.filter { $0.value.member.connection != connection }
                connections[i].removeAll { $0 == connection }
                _ = cluster.processGroupRequest(.connectionClosed(connection), token: nil, at: i)
            }
        }

        /// A crash loses the node's connections (their members go as node down).
        mutating func nodeLost(_ i: Int) {
            let node = NodeID(UInt32(i + 1))
            for key in joined.keys where key.member.node == node { joined[key] = nil }
            pendingJoins = pendingJoins.filter { $0.value.member.node != node }
            connections[i] = []
        }

        mutating func injectFault(_ cluster: inout ReplicationCluster) {
            guard let fault = RandomFault.draw(cluster, profile: profile, token: options.token, random: &random) else { return }
            switch fault {
            case .partition(let sides, let symmetric, let healAfter):
                cluster.network.partition(sides, symmetric: symmetric)
                cluster.queue.schedule(.control(Tag.heal.rawValue), after: healAfter)
            case .crash(let i, let mode, let restartAfter):
                nodeLost(i)
                cluster.crash(i, mode: mode)
                cluster.queue.schedule(.control(restartTagBase + UInt64(i)), after: restartAfter)
            case .pause(let i, let resumeAfter):
                cluster.pause(i)
                cluster.queue.schedule(.control(resumeTagBase + UInt64(i)), after: resumeAfter)
            }
        }
    }
}
