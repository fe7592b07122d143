import Basics
import Quorum

/// Drives several `VoteQuorumState`s the way the replication layer will: a partition is a
/// ring; NODEINFO multicasts are delivered to every member of the sender's ring in one agreed
/// order; timers fire when virtual time passes their deadline. Nodes in no ring are down.
struct Cluster {
    let configuration: VoterConfiguration
    let options: QuorumOptions
    private(set) var states: [NodeID: VoteQuorumState] = [:]
    private(set) var rings: [[NodeID]] = []
    private(set) var now = Instant.milliseconds(1_000)
    private var ringSeq: UInt64 = 0
    private var timers: [NodeID: [(QuorumTimer, Instant)]] = [:]
    /// Every action each node returned, in order.
    private(set) var actions: [NodeID: [VoteQuorumState.Action]] = [:]
    /// How many reconfigurations each node has applied: the harness's stand-in for the
    /// position of its log, so a ring's sync can hand everyone the newest configuration.
    private var configurationVersion: [NodeID: Int] = [:]

    init(voters: [NodeID], votes: [UInt32]? = nil, expected: Votes? = nil, options: QuorumOptions = QuorumOptions()) {
        let list = voters.enumerated().map { VoterConfiguration.Voter($1, votes: Votes(votes?[$0] ?? 1)) }
        configuration = try! VoterConfiguration(voters: list, expectedVotes: expected)
        self.options = options
        for node in voters { start(node) }
    }

    /// (Re)starts a node: a fresh state, in no ring until the next `form`.
    mutating func start(_ node: NodeID) {
        // A restart keeps the node's durable configuration (its meta file), like the real node.
        let durable = states[node]?.configuration ?? configuration
        // Flags as resolved at cluster creation: a changed configuration must not change them.
        let effective = try! options.resolved(for: configuration)
        states[node] = VoteQuorumState(localNode: node, configuration: durable, options: effective)
        timers[node] = []
        rings = rings.map { $0.filter { $0 != node } }.filter { !$0.isEmpty }
    }

    subscript(node: NodeID) -> VoteQuorumState { states[node]! }

    /// Installs these rings (nodes not listed are down) and runs each ring's sync.
    mutating func form(_ partitions: [[NodeID]]) {
        rings = partitions.map { $0.sorted() }
        for ring in rings {
            // Log sync, simplified: every member installs the newest configuration in the ring.
            let newest = ring.max { (configurationVersion[$0] ?? 0, $0) < (configurationVersion[$1] ?? 0, $1) }!
            for node in ring where states[node]!.configuration != states[newest]!.configuration {
                apply(.configurationRestored(states[newest]!.configuration, at: now), to: node)
                configurationVersion[node] = configurationVersion[newest]
            }
            ringSeq += 4
            let ringID = RingID(representative: ring[0], seq: ringSeq)
            var multicasts: [(NodeID, NodeInfo)] = []
            for node in ring {
                let out = apply(.membershipChanged(ringID: ringID, members: ring, at: now), to: node)
                multicasts += out.compactMap { if case .multicastNodeInfo(let info) = $0 { (node, info) } else { nil } }
            }
            deliver(multicasts, in: ring)
        }
    }

    /// A clean shutdown: the node's LEAVING NODEINFO (if any) reaches its ring, then it is down.
    mutating func shutDown(_ node: NodeID) {
        let out = apply(.shutdownRequested(at: now), to: node)
        let multicasts = out.compactMap { if case .multicastNodeInfo(let info) = $0 { (node, info) } else { nil } }
        if let ring = rings.first(where: { $0.contains(node) }) { deliver(multicasts, in: ring) }
    }

    /// A committed reconfiguration delivered to every member of `node`'s ring.
    mutating func reconfigure(_ change: Reconfiguration, from node: NodeID) {
        guard let ring = rings.first(where: { $0.contains(node) }) else { return }
        for member in ring {
            let before = states[member]!.configuration
            apply(.reconfigurationDelivered(change, at: now), to: member)
            if states[member]!.configuration != before { configurationVersion[member, default: 0] += 1 }
        }
    }

    /// Moves virtual time and fires due timers, in deadline order (ties by node id).
    mutating func advance(by ms: UInt32) {
        now = now + Milliseconds(ms)
        var due: [(Instant, NodeID, QuorumTimer)] = []
        for (node, list) in timers {
            for (timer, deadline) in list where deadline <= now { due.append((deadline, node, timer)) }
        }
        due.sort { ($0.0, $0.1) < ($1.0, $1.1) }
        for (_, node, timer) in due {
            timers[node]!.removeAll { $0.0 == timer }
            _ = apply(.timerFired(timer, at: now), to: node)
        }
    }

    private mutating func deliver(_ initial: [(NodeID, NodeInfo)], in ring: [NodeID]) {
        var queue = initial
        var budget = 10_000
        while !queue.isEmpty && budget > 0 {
            budget -= 1
            let (sender, info) = queue.removeFirst()
            for member in ring {
                let out = apply(.nodeInfoReceived(info, from: sender, at: now), to: member)
                queue += out.compactMap { if case .multicastNodeInfo(let i) = $0 { (member, i) } else { nil } }
            }
        }
        precondition(budget > 0, "NODEINFO delivery did not settle")
    }

    @discardableResult
    mutating func apply(_ event: VoteQuorumState.Event, to node: NodeID) -> [VoteQuorumState.Action] {
        let out = states[node]!.step(event)
        actions[node, default: []] += out
        for action in out {
            switch action {
            case .startTimer(let timer, let deadline): timers[node, default: []].append((timer, deadline))
            case .cancelTimer(let timer): timers[node, default: []].removeAll { $0.0 == timer }
            default: break
            }
        }
        return out
    }

    /// The last quorum notification `node` pushed.
    func lastQuorumNotification(_ node: NodeID) -> QuorumNotification? {
        for action in (actions[node] ?? []).reversed() {
            if case .notifyQuorum(let n) = action { return n }
        }
        return nil
    }

    mutating func clearActions() { actions = [:] }
}

func ids(_ raw: UInt32...) -> [NodeID] { raw.map { NodeID($0) } }
func id(_ raw: UInt32) -> NodeID { NodeID(raw) }
