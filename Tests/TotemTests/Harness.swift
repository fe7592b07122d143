import Basics
import Testing
import TotemConfig
@testable import Totem

/// A tiny synchronous router for transcript tests: packets are delivered in FIFO order,
/// timers only fire when a test fires them.
struct Harness {
    var nodes: [TotemInstance]
    var inFlight: [(to: Int, packet: TotemPacket)] = []
    var timers: [[TotemTimerKind: (TimerGeneration, Milliseconds)]]
    var log: [String] = []
    var deliveries: [[Delivery]]
    var changes: [[ConfigurationChange]]
    var persisted: [UInt64]
    var now = Instant.milliseconds(1)
    /// Drops a packet when it returns true.
    var drop: ((Int, TotemPacket) -> Bool)?
    /// For every token processed: the node and how many new or retransmitted mcasts it sent.
    var visits: [(node: Int, mcasts: Int)] = []

    init(count: Int, settings: TotemOptions.Settings = TotemOptions.Settings()) {
        let options = TotemOptions(settings, nodeCount: count)
        let all = (1...count).map { NodeID(UInt32($0)) }
        var random = SeededGenerator(seed: 7)
        nodes = all.map { TotemInstance(nodeID: $0, options: options, random: random.fork(), allowedMembers: all) }
        timers = Array(repeating: [:], count: count)
        deliveries = Array(repeating: [], count: count)
        changes = Array(repeating: [], count: count)
        persisted = Array(repeating: 0, count: count)
    }

    mutating func step(_ i: Int, _ event: TotemEvent) -> [TotemAction] {
        let actions = nodes[i].step(event)
        for action in actions {
            switch action {
            case .send(let packet, .broadcast):
                for j in nodes.indices where j != i { inFlight.append((j, packet)) }
            case .send(let packet, .node(let id)):
                inFlight.append((Int(id.rawValue) - 1, packet))
            case .startTimer(let kind, let generation, let after):
                timers[i][kind] = (generation, after)
            case .cancelTimer(let kind):
                timers[i][kind] = nil
            case .deliver(let d): deliveries[i].append(d)
            case .configurationChange(let c): changes[i].append(c)
            case .persistRingSeq(let s): persisted[i] = s
            case .submitRefused: break
            }
        }
        return actions
    }

    /// Delivers packets until none are in flight or `limit` packets were delivered.
    mutating func run(limit: Int = 10_000) {
        var n = 0
        while !inFlight.isEmpty && n < limit {
            let (to, packet) = inFlight.removeFirst()
            n += 1
            now = now + Milliseconds(1)
            if drop?(to, packet) == true { continue }
            log.append(describe(packet, to: to))
            let actions = step(to, .packetReceived(packet, at: now))
            if case .token = packet.message {
                visits.append((to, sends(actions).filter { if case .mcast = $0 { true } else { false } }.count))
            }
        }
    }

    mutating func fire(_ i: Int, _ kind: TotemTimerKind) -> [TotemAction] {
        guard let (generation, _) = timers[i][kind] else { return [] }
        timers[i][kind] = nil
        return step(i, .timerFired(kind, generation, at: now))
    }

    func describe(_ packet: TotemPacket, to: Int) -> String {
        let route = "\(packet.sender)->\(to + 1)"
        switch packet.message {
        case .token(let t): return "\(route) token seq \(t.seq) aru \(t.aru)"
        case .mcast(let m): return "\(route) mcast \(m.seq)"
        case .join(let j): return "\(route) join proc \(j.procSet) failed \(j.failedSet)"
        case .commitToken(let c): return "\(route) commit \(c.ringID) index \(c.memberIndex)"
        case .mergeDetect: return "\(route) merge detect"
        case .tokenHoldCancel: return "\(route) hold cancel"
        case .ringTest: return "\(route) ring test"
        }
    }

    /// Starts every node and lets the ring form.
    mutating func formRing() {
        for i in nodes.indices { _ = step(i, .started(at: now)) }
        run(limit: 400)
        if nodes.count == 1 { _ = fire(0, .join) }
        run(limit: 400)
    }
}

func sends(_ actions: [TotemAction]) -> [TotemMessage] {
    actions.compactMap { if case .send(let p, _) = $0 { p.message } else { nil } }
}
