import Basics
@testable import Replication

/// A tiny shell for replica unit tests: a perfect total order (every member of the current
/// configuration delivers every broadcast, in order), instant peer messages and an instant
/// disk. Faults are introduced by the tests themselves, step by step. The full simulator
/// (Simulation target) runs the replicas over the real Totem core and a faulty network.
struct MiniCluster {
    struct Node {
        var replica: Replica
        /// The node's log on "disk" (durable at once).
        var log: [Entry] = []
        /// A key=value map: ops are "key=value" in UTF-8.
        var state: [String: String] = [:]
        var applied: [Entry] = []
        var isUp = true
    }

    var nodes: [NodeID: Node] = [:]
    var members: [NodeID] = []
    var ringSeq: UInt64 = 0
    var now = Instant.zero
    /// Messages waiting for ordered delivery, and who broadcast them.
    var orderQueue: [(NodeID, [UInt8])] = []
    var peerQueue: [(from: NodeID, to: NodeID, PeerMessage)] = []
    var replies: [ClientToken: String] = [:]
    var failures: [ClientToken: RequestFailure] = [:]
    var answeredReads: [ClientToken: NodeID] = [:]
    var nextToken: UInt64 = 1
    /// When false, broadcasts are kept (not delivered) until `deliverOrdered` is called.
    var autoDeliver = true

    init(nodeIDs: [UInt32]) {
        let voters = Voters(nodeIDs.map { (NodeID($0), 1) })
        for id in nodeIDs {
            let config = ReplicaConfiguration(nodeID: NodeID(id), voters: voters)
            nodes[NodeID(id)] = Node(replica: Replica(configuration: config,
                                                      recovered: RecoveredState(incarnation: 1)))
        }
    }

    mutating func feed(_ node: NodeID, _ event: ReplicaEvent) {
        guard nodes[node]!.isUp else { return }
        let actions = nodes[node]!.replica.step(event)
        perform(actions, at: node)
    }

    mutating func perform(_ actions: [ReplicaAction], at node: NodeID) {
        var durableTo: LogIndex?
        for action in actions {
            switch action {
            case .broadcast(let bytes):
                orderQueue.append((node, bytes))
            case .send(let message, let to):
                peerQueue.append((node, to, message))
            case .append(let entries):
                nodes[node]!.log += entries
                durableTo = entries.last!.index
            case .truncate(let after):
                nodes[node]!.log.removeAll { $0.index > after }
            case .persistNormalEpoch:
                break
            case .apply(let entry, let reply):
                nodes[node]!.applied.append(entry)
                let text = String(decoding: entry.op, as: UTF8.self)
                let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
                nodes[node]!.state[parts[0]] = parts.count > 1 ? parts[1] : ""
                if let reply { replies[reply] = "OK" }
            case .answerReads(let tokens):
                for t in tokens { answeredReads[t] = node }
            case .fail(let token, let failure):
                failures[token] = failure
            case .serveFetch(let to, let epoch, let from, let through):
                let entries = nodes[node]!.log.filter { $0.index >= from && $0.index <= through }
                peerQueue.append((node, to, .entries(epoch: epoch, entries)))
            case .startTick:
                break
            case .installSnapshot:
                preconditionFailure("the mini cluster never compacts, so no snapshot is ever offered")
            }
        }
        if let durableTo {
            feed(node, .appendDurable(through: durableTo, at: now))
        }
        if autoDeliver { settle() }
    }

    /// Delivers every queued ordered message to the current members, then peer messages,
    /// until nothing is left (bounded).
    mutating func settle() {
        var rounds = 0
        while (!orderQueue.isEmpty || !peerQueue.isEmpty) && rounds < 10_000 {
            rounds += 1
            if !orderQueue.isEmpty {
                let (from, bytes) = orderQueue.removeFirst()
                for m in members where nodes[m]!.isUp {
                    feed(m, .delivered(originator: from, payload: bytes[...], at: now))
                }
            } else {
                let (from, to, message) = peerQueue.removeFirst()
                if members.contains(to) && members.contains(from) {
                    feed(to, .peerMessageReceived(from: from, message, at: now))
                }
            }
        }
        precondition(rounds < 10_000, "mini cluster did not settle")
    }

    /// Installs a new configuration: transitional (old members that stay), then regular.
    mutating func configure(_ newMembers: [UInt32]) {
        let ids = newMembers.map(NodeID.init)
        let stay = members.filter { ids.contains($0) }
        ringSeq += 4
        let ring = RingID(representative: ids.min()!, seq: ringSeq)
        let old = members
        // A configuration change sits at one point of the total order: every member sees
        // it before any message broadcast after it.
        let wasAuto = autoDeliver
        autoDeliver = false
        defer { autoDeliver = wasAuto }
        members = []
        for m in old where nodes[m]!.isUp {
            feed(m, .configurationChanged(.transitional, ringID: ring, members: stay, at: now))
        }
        members = ids
        for m in ids where nodes[m]!.isUp {
            feed(m, .configurationChanged(.regular, ringID: ring, members: ids, at: now))
        }
        if wasAuto { settle() }
    }

    mutating func write(at node: UInt32, _ kv: String) -> ClientToken {
        let token = ClientToken(nextToken)
        nextToken += 1
        feed(NodeID(node), .writeRequested(token, clientID: 0, clientSeq: 0, op: Array(kv.utf8), at: now))
        return token
    }

    mutating func read(at node: UInt32) -> ClientToken {
        let token = ClientToken(nextToken)
        nextToken += 1
        feed(NodeID(node), .readRequested(token, at: now))
        return token
    }

    func replica(_ id: UInt32) -> Replica { nodes[NodeID(id)]!.replica }
    func node(_ id: UInt32) -> Node { nodes[NodeID(id)]! }
}
