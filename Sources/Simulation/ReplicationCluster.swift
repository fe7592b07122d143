import Basics
import CMap
import Quorum
import Replication
import RingLog
import Totem
import TotemConfig

/// N whole nodes (Totem + Replica + CMap over a RingLog on a `SimulatedDisk`) on a
/// `SimulatedNetwork`, driven by one `EventQueue`: the simulator's interpreter of
/// `ReplicatedNode.Action`s. Node indexes are 0..<count with node ids index + 1.
/// The scenario (`ReplicationSimulation`) drives faults and clients.
public struct ReplicationCluster {
    public enum Event {
        case packet(to: Int, TotemPacket)
        case peer(to: Int, from: Int, PeerMessage)
        case totemTimer(node: Int, incarnation: UInt32, TotemTimerKind, TimerGeneration)
        case replicaTick(node: Int, incarnation: UInt32, generation: UInt64)
        case fsyncDone(node: Int, incarnation: UInt32)
        case control(UInt64)
        case quorumTimer(node: Int, incarnation: UInt32, QuorumTimer)
    }

    struct Node {
        var id: NodeID
        var core: ReplicatedNode?
        var disk: SimulatedDisk
        var log: RingLog?
        var incarnation: UInt32 = 0
        var paused = PausedEvents<Event>()
        /// Survives crashes (corosync keeps it in a file of its own).
        var persistedRingSeq: UInt64 = 0
        var isFsyncScheduled = false
        /// The state hash after each step, keyed by the applied index it was taken at.
        var stateHashes = IndexTable<UInt64>()
        /// The newest snapshot, durable (it survives crashes, as a snapshot file written with
        /// temp + fsync + rename would).
        var snapshot: (index: LogIndex, epoch: Epoch, bytes: [UInt8])?
    }

    /// A client request in flight at a node.
    public struct Pending: Sendable {
        public var client: Int
        public var operation: OperationID
    }

    public let options: TotemOptions
    public let voters: Voters
    public var queue = EventQueue<Event>()
    public var network: SimulatedNetwork
    var nodes: [Node]
    var random: SeededGenerator
    /// Disk latency of one fsync, in microseconds (0 = instant).
    public var fsyncMicrosecondsMax: UInt64 = 3_000
    public var replicaConfiguration: (NodeID) -> ReplicaConfiguration
    public internal(set) var hash = TraceHash()
    public internal(set) var trace: [(time: Instant, line: String)] = []
    public private(set) var eventsProcessed: UInt64 = 0
    public internal(set) var violations: [Violation] = []
    /// Client replies, handed to the scenario.
    public var replies: [(token: ClientToken, node: Int, reply: ReplicatedNode.ClientReply)] = []
    /// Requests lost with their node (crash): the scenario marks them unknown.
    public var lostTokens: [ClientToken] = []
    /// Entries applied anywhere, for the log checks: index -> entry (the first seen).
    public internal(set) var appliedAnywhere = IndexTable<Entry>()
    public var tracesEverything = false
    /// Take a snapshot and compact the log every this many applied entries (0 = never).
    public var compactEveryEntries: UInt64 = 0
    public internal(set) var snapshotsTaken = 0
    public internal(set) var snapshotsInstalled = 0
    /// votequorum flags every node runs with (set before starting nodes).
    public var quorumOptions = EffectiveQuorumOptions()
    /// Every quorum notification, by node, in the order each node produced it.
    public internal(set) var quorumNotifications: [(node: Int, notification: QuorumNotification)] = []
    /// What the process groups delivered to each member (ReplicationCluster+CPG.swift).
    public internal(set) var processGroupRecord = ProcessGroupRecord()

    public init(nodeCount: Int, options: TotemOptions, conditions: NetworkConditions, random: SeededGenerator) {
        var random = random
        self.options = options
        voters = Voters((1...nodeCount).map { (NodeID(UInt32($0)), 1) })
        network = SimulatedNetwork(nodeCount: nodeCount, conditions: conditions, random: random.fork())
        nodes = (0..<nodeCount).map { Node(id: NodeID(UInt32($0 + 1)), disk: SimulatedDisk(seed: random.next())) }
        let voters = self.voters
        replicaConfiguration = { ReplicaConfiguration(nodeID: $0, voters: voters) }
        self.random = random
    }

    public var nodeCount: Int { nodes.count }
    public var now: Instant { queue.now }
    public func isUp(_ index: Int) -> Bool { nodes[index].isUp }
    public func isPaused(_ index: Int) -> Bool { nodes[index].paused.isPaused }
    public func core(_ index: Int) -> ReplicatedNode? { nodes[index].core }
    public func stateHashes(_ index: Int) -> IndexTable<UInt64> { nodes[index].stateHashes }

    /// The first index the node's log still holds (the one after its snapshot).
    public func logFirstIndex(_ index: Int) -> LogIndex { nodes[index].log?.firstIndex ?? LogIndex(1) }

    /// The node's durable log as entries (nil when it cannot be read).
    public func logEntries(_ index: Int) -> [Entry]? {
        guard let log = nodes[index].log, log.lastIndex >= log.firstIndex else { return nodes[index].log == nil ? nil : [] }
        guard let records = try? log.read(from: log.firstIndex, through: log.lastIndex) else { return nil }
        return records.compactMap { try? Entry(index: $0.index, epoch: $0.epoch, payload: $0.payload) }
    }

    mutating func note(_ line: String) { trace.append((queue.now, line)) }

    mutating func violation(_ rule: String, node: Int? = nil, _ detail: String) {
        violations.append(Violation(rule: rule, node: node.map { incarnation($0) }, time: queue.now, detail: detail))
    }

    func incarnation(_ index: Int) -> NodeIncarnation {
        NodeIncarnation(node: nodes[index].id, incarnation: nodes[index].incarnation)
    }

    // MARK: - Control

    /// Starts (or restarts) node `index` from what its disk holds.
    public mutating func start(_ index: Int) {
        guard nodes[index].core == nil else { return }
        nodes[index].incarnation += 1
        nodes[index].paused.reset()
        nodes[index].isFsyncScheduled = false
        nodes[index].stateHashes = IndexTable()
        let id = nodes[index].id
        let log: RingLog
        let entries: [Entry]
        var store = CMapStateMachine()
        var applied = (index: LogIndex.zero, epoch: Epoch.zero)
        do {
            log = try RingLog(disk: nodes[index].disk, directory: "/data")
            if let snapshot = nodes[index].snapshot {
                store = CMapStateMachine(state: try CMapSnapshot.decode(snapshot.bytes).state)
                applied = (snapshot.index, snapshot.epoch)
            }
            let from = max(log.firstIndex, applied.index.next)
            let records = log.lastIndex >= from ? try log.read(from: from, through: log.lastIndex) : []
            entries = try records.map { try Entry(index: $0.index, epoch: $0.epoch, payload: $0.payload) }
        } catch {
            violation("restart", node: index, "the log or snapshot does not open: \(error)")
            return
        }
        let meta = log.meta
        let recovered = RecoveredState(normalEpoch: meta?.normalEpoch ?? .zero,
                                       commitIndex: min(meta?.commitIndex ?? .zero, log.lastIndex),
                                       appliedIndex: applied.index, appliedEpoch: applied.epoch,
                                       entries: entries, incarnation: nodes[index].incarnation)
        if let meta, meta.commitIndex > log.lastIndex {
            violation("durability", node: index, "meta commit index \(meta.commitIndex) is past the recovered log's end \(log.lastIndex)")
        }
        let totem = TotemInstance(nodeID: id, options: options, persistedRingSeq: nodes[index].persistedRingSeq,
                                  random: random.fork(), allowedMembers: nodes.map(\.id))
        let replica = Replica(configuration: replicaConfiguration(id), recovered: recovered)
        nodes[index].log = log
        nodes[index].core = ReplicatedNode(totem: totem, replica: replica, store: store, quorumOptions: quorumOptions)
        note("start \(incarnation(index)): log \(log.firstIndex)...\(log.lastIndex) cut \(log.recovery), normal epoch \(recovered.normalEpoch), commit \(recovered.commitIndex)")
        feed(index, .started(at: queue.now))
    }

    /// Crashes node `index`: memory is lost, the disk loses, keeps or tears unsynced writes.
    public mutating func crash(_ index: Int, mode: SimulatedDisk.CrashMode) {
        guard nodes[index].isUp else { return }
        note("crash \(incarnation(index)) (\(mode))")
        nodes[index].core = nil
        nodes[index].log = nil
        nodes[index].disk.crash(mode)
        nodes[index].paused.reset()
    }

    public mutating func pause(_ index: Int) {
        guard nodes[index].isUp, !nodes[index].paused.isPaused else { return }
        note("pause \(incarnation(index))")
        nodes[index].paused.pause()
    }

    public mutating func resume(_ index: Int) {
        guard nodes[index].paused.isPaused else { return }
        note("resume \(incarnation(index)) with \(nodes[index].paused.heldCount) held events")
        for event in nodes[index].paused.resume() { handle(event) }
    }

    /// A client request arrives at node `index`; false if the node is down (connection refused).
    public mutating func request(_ token: ClientToken, _ request: ReplicatedNode.ClientRequest, at index: Int) -> Bool {
        guard nodes[index].isUp, !nodes[index].paused.isPaused else { return false }
        feed(index, .requested(token, request, at: queue.now))
        return true
    }

    // MARK: - Running

    public mutating func run(until time: Instant, eventLimit: UInt64 = .max,
                             onControl: (inout ReplicationCluster, UInt64) -> Void) {
        while let next = queue.nextTime, next <= time, eventsProcessed < eventLimit {
            guard let (_, event) = queue.popNext() else { break }
            if case .control(let tag) = event {
                hash.mix(0xC0 ^ tag)
                onControl(&self, tag)
            } else {
                handle(event)
            }
            // Tag 0: client replies are waiting for the scenario.
            if !replies.isEmpty { onControl(&self, 0) }
        }
    }

    /// The node an event is for, and the incarnation it was scheduled by (nil: any).
    private func target(of event: Event) -> (Int, UInt32?)? {
        switch event {
        case .packet(let to, _): (to, nil)
        case .peer(let to, _, _): (to, nil)
        case .totemTimer(let n, let inc, _, _): (n, inc)
        case .replicaTick(let n, let inc, _): (n, inc)
        case .fsyncDone(let n, let inc): (n, inc)
        case .control: nil
        case .quorumTimer(let n, let inc, _): (n, inc)
        }
    }

    mutating func handle(_ event: Event) {
        eventsProcessed &+= 1
        guard let (index, inc) = target(of: event) else { return }
        guard nodes[index].isUp, inc == nil || inc == nodes[index].incarnation else { return }
        if nodes[index].paused.holdIfPaused(event) { return }
        hash.mix(queue.now.nanoseconds ^ UInt64(index) << 56)
        let at = queue.now
        switch event {
        case .packet(_, let packet):
            feed(index, .packetReceived(packet, at: at))
        case .peer(_, let from, let message):
            feed(index, .peerMessageReceived(from: nodes[from].id, message, at: at))
        case .totemTimer(_, _, let kind, let generation):
            feed(index, .totemTimerFired(kind, generation, at: at))
        case .replicaTick(_, _, let generation):
            feed(index, .replicaTickFired(generation: generation, at: at))
        case .fsyncDone:
            nodes[index].isFsyncScheduled = false
            guard let log = nodes[index].log else { return }
            do {
                let durable = try log.sync()
                feed(index, .appendDurable(through: durable, at: at))
            } catch {
                violation("disk", node: index, "fsync failed: \(error)")
            }
        case .control:
            break
        case .quorumTimer(_, _, let timer):
            feed(index, .quorumTimerFired(timer, at: at))
        }
    }

    mutating func feed(_ index: Int, _ event: ReplicatedNode.Event) {
        // The core is stepped and read in place, by mutating calls through the optional:
        // moving it out and back copied the whole struct twice per event, an rvalue read
        // such as `nodes[index].core?.replica` copied the whole node, and a copy alive
        // during `step` would make the store's B-tree shared, so every apply copied its path.
        guard nodes[index].isUp, let (actions, broken) = nodes[index].core?.simulatorStep(event) else { return }
        for message in broken { violation("invariant", node: index, message) }
        perform(actions, at: index)
        guard nodes[index].isUp, let (applied, hash) = nodes[index].core?.simulatorStateHash() else { return }
        nodes[index].stateHashes[applied] = hash
        compactIfDue(index)
    }
}

extension ReplicatedNode {
    /// `step`, and the invariants the step found broken (read here, on the core in place).
    mutating func simulatorStep(_ event: Event) -> (actions: [Action], broken: ArraySlice<String>) {
        let before = replica.brokenInvariants.count
        let actions = step(event)
        return (actions, replica.brokenInvariants.dropFirst(before))
    }

    /// The store's applied index and state hash (mutating only to be read in place).
    mutating func simulatorStateHash() -> (LogIndex, UInt64) {
        (store.state.appliedIndex, store.state.stateHash)
    }
}

extension ReplicationCluster.Node {
    /// Whether the node runs. Matching the case does not copy the core, as `core != nil`
    /// did (it copied the whole optional to compare it).
    var isUp: Bool {
        if case .some = core { return true }
        return false
    }
}
