import Basics
import Totem
import TotemConfig

/// N Totem instances over a `SimulatedNetwork`, driven by one `EventQueue`: the
/// interpreter of `TotemAction`s for the simulator. Nodes are indexes 0..<count with node
/// ids index + 1. The cluster records what every node's upper layer saw; the scenario
/// (`TotemSimulation`) decides faults and workload through the control methods.
public struct TotemCluster {
    public enum Event {
        case packet(to: Int, TotemPacket)
        case timer(node: Int, incarnation: UInt32, TotemTimerKind, TimerGeneration)
        /// Something for the scenario driver (faults, workload, phase changes).
        case control(UInt64)
    }

    struct Node {
        var id: NodeID
        var instance: TotemInstance?
        var incarnation: UInt32 = 0
        var paused = PausedEvents<Event>()
        var persistedRingSeq: UInt64 = 0
    }

    public let options: TotemOptions
    public var queue = EventQueue<Event>()
    public var network: SimulatedNetwork
    var nodes: [Node]
    var random: SeededGenerator
    let canary: TotemInstance.TestingCanary?
    let canaryNode: Int
    public private(set) var hash = TraceHash()
    public private(set) var records: [NodeIncarnation: [TotemRecord]] = [:]
    /// Notable events (faults, configuration changes), for printing around a violation.
    public private(set) var trace: [(time: Instant, line: String)] = []
    public private(set) var eventsProcessed: UInt64 = 0
    public private(set) var deliveriesRecorded: UInt64 = 0
    /// Called for every delivery (the benchmark counts without recording).
    public var recordsDeliveries = true

    public init(nodeCount: Int, options: TotemOptions, conditions: NetworkConditions,
                random: SeededGenerator, canary: TotemInstance.TestingCanary? = nil, canaryNode: Int = 0) {
        var random = random
        self.options = options
        network = SimulatedNetwork(nodeCount: nodeCount, conditions: conditions, random: random.fork())
        nodes = (0..<nodeCount).map { Node(id: NodeID(UInt32($0 + 1))) }
        self.random = random
        self.canary = canary
        self.canaryNode = canaryNode
    }

    public var nodeCount: Int { nodes.count }
    public var now: Instant { queue.now }
    public func nodeID(_ index: Int) -> NodeID { nodes[index].id }
    public func isUp(_ index: Int) -> Bool { nodes[index].instance != nil }
    public func isPaused(_ index: Int) -> Bool { nodes[index].paused.isPaused }
    public func instance(_ index: Int) -> TotemInstance? { nodes[index].instance }
    public func incarnation(_ index: Int) -> NodeIncarnation {
        NodeIncarnation(node: nodes[index].id, incarnation: nodes[index].incarnation)
    }

    mutating func note(_ line: String) {
        trace.append((queue.now, line))
    }

    // MARK: - Control

    /// Starts (or restarts after a crash) node `index` with its persisted ring seq.
    public mutating func start(_ index: Int) {
        guard nodes[index].instance == nil else { return }
        nodes[index].incarnation += 1
        nodes[index].paused.reset()
        let all = nodes.map(\.id)
        nodes[index].instance = TotemInstance(
            nodeID: nodes[index].id, options: options, persistedRingSeq: nodes[index].persistedRingSeq,
            random: random.fork(), allowedMembers: all,
            testingCanary: index == canaryNode ? canary : nil)
        records[incarnation(index), default: []] = []
        note("start \(incarnation(index)) ring seq \(nodes[index].persistedRingSeq)")
        feed(index, .started(at: queue.now))
    }

    /// Crashes node `index`: everything but the persisted ring seq is lost.
    public mutating func crash(_ index: Int) {
        guard nodes[index].instance != nil else { return }
        note("crash \(incarnation(index))")
        nodes[index].instance = nil
        nodes[index].paused.reset()
    }

    public mutating func pause(_ index: Int) {
        guard nodes[index].instance != nil, !nodes[index].paused.isPaused else { return }
        note("pause \(incarnation(index))")
        nodes[index].paused.pause()
    }

    public mutating func resume(_ index: Int) {
        guard nodes[index].paused.isPaused else { return }
        note("resume \(incarnation(index)) with \(nodes[index].paused.heldCount) held events")
        for event in nodes[index].paused.resume() { handle(event) }
    }

    /// Submits `payload` at node `index`; false if the node is down or refused it.
    @discardableResult
    public mutating func submit(_ payload: [UInt8], at index: Int) -> Bool {
        guard nodes[index].instance != nil else { return false }
        let actions = nodes[index].instance!.step(.submitted(payload, at: queue.now))
        let refused = actions.contains { if case .submitRefused = $0 { true } else { false } }
        perform(actions, from: index)
        return !refused
    }

    // MARK: - Running

    /// Processes events up to and including `time`; control events are returned to the
    /// caller through `onControl`.
    public mutating func run(until time: Instant, eventLimit: UInt64 = .max,
                             onControl: (inout TotemCluster, UInt64) -> Void) {
        while let next = queue.nextTime, next <= time, eventsProcessed < eventLimit {
            guard let (_, event) = queue.popNext() else { break }
            if case .control(let tag) = event {
                hash.mix(0xC0 ^ tag)
                onControl(&self, tag)
            } else {
                handle(event)
            }
        }
    }

    mutating func handle(_ event: Event) {
        eventsProcessed &+= 1
        switch event {
        case .packet(let to, let packet):
            guard nodes[to].instance != nil else { return }
            if nodes[to].paused.holdIfPaused(event) { return }
            hash.mix(queue.now.nanoseconds)
            hash.mix(UInt64(to) << 32 | UInt64(packet.sender.rawValue))
            feed(to, .packetReceived(packet, at: queue.now))
        case .timer(let index, let incarnation, let kind, let generation):
            guard nodes[index].instance != nil, nodes[index].incarnation == incarnation else { return }
            if nodes[index].paused.holdIfPaused(event) { return }
            hash.mix(queue.now.nanoseconds)
            hash.mix(UInt64(index) << 8 | UInt64(kind.rawValue))
            feed(index, .timerFired(kind, generation, at: queue.now))
        case .control:
            break
        }
    }

    mutating func feed(_ index: Int, _ event: TotemEvent) {
        guard nodes[index].instance != nil else { return }
        let before = nodes[index].instance!.state
        let actions = nodes[index].instance!.step(event)
        let after = nodes[index].instance!.state
        if before != after && (after == .operational || before == .operational) {
            note("\(incarnation(index)) \(before) -> \(after) ring \(nodes[index].instance!.ringID)")
        }
        perform(actions, from: index)
    }

    mutating func perform(_ actions: [TotemAction], from index: Int) {
        for action in actions {
            switch action {
            case .send(let packet, let destination):
                switch destination {
                case .broadcast:
                    for to in 0..<nodes.count where to != index { transmit(packet, from: index, to: to) }
                case .node(let id):
                    let to = Int(id.rawValue) - 1
                    if to >= 0 && to < nodes.count { transmit(packet, from: index, to: to) }
                }
            case .startTimer(let kind, let generation, let after):
                queue.schedule(.timer(node: index, incarnation: nodes[index].incarnation, kind, generation),
                               after: after)
            case .cancelTimer:
                break
            case .deliver(let delivery):
                deliveriesRecorded &+= 1
                hash.mix(delivery.seq)
                hash.mix(UInt64(delivery.originator.rawValue) << 32 | UInt64(index))
                guard recordsDeliveries else { continue }
                let parsed = WorkloadPayload.parse(delivery.payload)
                records[incarnation(index), default: []].append(TotemRecord(
                    time: queue.now,
                    entry: .delivered(ringID: delivery.ringID, seq: delivery.seq, originator: delivery.originator,
                                      payloadID: parsed?.id ?? UInt64.max, isIntact: parsed?.isIntact ?? false)))
            case .configurationChange(let change):
                hash.mix(change.ringID.seq ^ UInt64(index) << 56)
                for m in change.members { hash.mix(UInt64(m.rawValue)) }
                note("\(incarnation(index)) \(change)")
                records[incarnation(index), default: []].append(TotemRecord(time: queue.now, entry: .configuration(change)))
            case .persistRingSeq(let seq):
                nodes[index].persistedRingSeq = seq
            case .submitRefused:
                break
            }
        }
    }

    mutating func transmit(_ packet: TotemPacket, from: Int, to: Int) {
        for arrival in network.route(from: from, to: to, now: queue.now) {
            queue.schedule(.packet(to: to, packet), at: arrival)
        }
    }
}
