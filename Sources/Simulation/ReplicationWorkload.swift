import Basics
import CMap
import Replication

/// The simulated clients: closed-loop, one operation at a time each, against random nodes,
/// recording a history for the linearizability checker. Registers `r0...` get unique
/// values (so a compare-and-set on a version is a compare-and-set on the value, which the
/// checker's model uses), counters `c0...` are incremented. Now and then a client sends
/// several writes as one request (`ClientRequest.writeBatch`, as a node's connection does
/// with a pipeline): each is its own operation of the history, invoked and answered
/// together.
struct ReplicationWorkload {
    struct InFlight {
        var client: Int
        var operation: OperationID
        var kv: KVOperation
        var isWrite: Bool
        var node: Int
        var clientSeq: UInt64
        /// Sent as a write batch (its results come as `.batch`, one per operation).
        var isBatch = false
        /// The writes after `operation` in a write batch, answered by the same reply.
        var more: [(operation: OperationID, kv: KVOperation)] = []
    }

    struct Client {
        var isBusy = false
        var seq: UInt64 = 0
        /// The last value and version this client read of each register.
        var lastRead: [String: (value: String?, version: LogIndex)] = [:]
    }

    static let registers = ["r0", "r1", "r2"]
    static let counters = ["c0", "c1"]

    var random: SeededGenerator
    var clients: [Client]
    var recorder = HistoryRecorder()
    var inFlight: [ClientToken: InFlight] = [:]
    var nextToken: UInt64 = 1
    var nextValue: UInt64 = 1
    /// Writes acknowledged to a client: (client id, client seq) -> index.
    var acknowledged: [(clientID: UInt64, clientSeq: UInt64, index: LogIndex)] = []
    var isRunning = true
    var counts = (ok: 0, failed: 0, unknown: 0)

    init(clientCount: Int, random: SeededGenerator) {
        self.random = random
        clients = Array(repeating: Client(), count: clientCount)
    }

    static func clientID(_ client: Int) -> UInt64 { UInt64(client) + 1 }

    /// Issues client `c`'s next operation at a random node.
    mutating func next(_ c: Int, cluster: inout ReplicationCluster) {
        guard isRunning, !clients[c].isBusy else { return }
        let node = Int(random.next() % UInt64(cluster.nodeCount))
        if random.next() % 8 == 0, nextBatch(c, at: node, cluster: &cluster) { return }
        let (kv, request, isWrite) = drawOperation(c)
        clients[c].seq += 1
        let seq = clients[c].seq
        let mode: ReadMode
        if case .read(_, .stale) = request { mode = .stale } else { mode = .linearizable }
        let op = recorder.invoke(client: ClientID(Self.clientID(c)), kv, readMode: mode, at: cluster.now)
        let token = ClientToken(nextToken)
        nextToken += 1
        var finalRequest = request
        if case .write(let w, _, _) = request {
            finalRequest = .write(w, clientID: Self.clientID(c), clientSeq: seq)
        }
        clients[c].isBusy = true
        inFlight[token] = InFlight(client: c, operation: op, kv: kv, isWrite: isWrite, node: node, clientSeq: seq)
        if !cluster.request(token, finalRequest, at: node) {
            complete(token, .failed(reason: "node \(node + 1) down"), cluster: &cluster)
        }
    }

    /// Client `c` sends two to four writes as one batch (reads drawn meanwhile are skipped;
    /// a single write left goes as a batch of one). False when every draw was a read
    /// (nothing was sent).
    mutating func nextBatch(_ c: Int, at node: Int, cluster: inout ReplicationCluster) -> Bool {
        var writes: [(KVOperation, CMapOperation)] = []
        for _ in 0..<(2 + random.next() % 3) {
            let (kv, request, _) = drawOperation(c)
            if case .write(let op, _, _) = request { writes.append((kv, op)) }
        }
        guard !writes.isEmpty else { return false }
        clients[c].seq += 1
        let seq = clients[c].seq
        let client = ClientID(Self.clientID(c))
        let ids = writes.map { recorder.invoke(client: client, $0.0, readMode: .linearizable, at: cluster.now) }
        let token = ClientToken(nextToken)
        nextToken += 1
        clients[c].isBusy = true
        inFlight[token] = InFlight(client: c, operation: ids[0], kv: writes[0].0, isWrite: true, node: node,
                                   clientSeq: seq, isBatch: true, more: (1..<writes.count).map { (ids[$0], writes[$0].0) })
        let request = ReplicatedNode.ClientRequest.writeBatch(writes.map(\.1), clientID: Self.clientID(c), clientSeq: seq)
        if !cluster.request(token, request, at: node) {
            complete(token, .failed(reason: "node \(node + 1) down"), cluster: &cluster)
        }
        return true
    }

    mutating func drawOperation(_ c: Int) -> (KVOperation, ReplicatedNode.ClientRequest, Bool) {
        let roll = random.next() % 100
        let register = Self.registers[Int(random.next() % UInt64(Self.registers.count))]
        let counter = Self.counters[Int(random.next() % UInt64(Self.counters.count))]
        func value() -> String {
            nextValue += 1
            return "v\(nextValue)"
        }
        switch roll {
        case 0..<30:
            let v = value()
            return (.set(key: register, value: v), .write(.set(CMapKey(register), .string(v)), clientID: 0, clientSeq: 0), true)
        case 30..<55, 55..<62:
            let key = roll < 55 ? register : counter
            let stale = random.next() % 4 == 0
            return (.get(key: key), .read(.get(CMapKey(key)), stale ? .stale : .linearizable), false)
        case 62..<70:
            return (.delete(key: register), .write(.delete(CMapKey(register)), clientID: 0, clientSeq: 0), true)
        case 70..<85:
            guard let seen = clients[c].lastRead[register] else {
                return (.get(key: register), .read(.get(CMapKey(register)), .linearizable), false)
            }
            let v = value()
            return (.compareAndSet(key: register, expected: seen.value, new: v),
                    .write(.compareAndSet(CMapKey(register), expectedVersion: seen.version, value: .string(v)),
                           clientID: 0, clientSeq: 0), true)
        default:
            let by = Int64(random.next() % 5 + 1)
            return (.increment(key: counter, by: by), .write(.incrementBy(CMapKey(counter), by: by), clientID: 0, clientSeq: 0), true)
        }
    }

    mutating func handle(_ token: ClientToken, _ reply: ReplicatedNode.ClientReply, cluster: inout ReplicationCluster) {
        guard let f = inFlight[token] else { return }
        switch reply {
        case .result(let result, let index) where f.isBatch:
            guard case .batch(let results) = result else {
                complete(token, .failed(reason: "\(result) for a batch"), cluster: &cluster)
                return
            }
            let kvs = [f.kv] + f.more.map(\.kv)
            guard results.count == kvs.count else {
                complete(token, .failed(reason: "\(results.count) results for a batch of \(kvs.count)"), cluster: &cluster)
                return
            }
            acknowledged.append((Self.clientID(f.client), f.clientSeq, index))
            complete(token, zip(kvs, results).map { kv, result in
                Self.outcome(of: result, for: kv) ?? .failed(reason: "error \(result)")
            }, cluster: &cluster)
        case .result(let result, let index):
            guard let outcome = Self.outcome(of: result, for: f.kv) else {
                complete(token, .failed(reason: "error \(result)"), cluster: &cluster)
                return
            }
            if f.isWrite { acknowledged.append((Self.clientID(f.client), f.clientSeq, index)) }
            if case .get(let key) = f.kv, case .value(let v, let version) = result, case .string(let bytes) = v {
                clients[f.client].lastRead[key] = (String(decoding: bytes, as: UTF8.self), version)
            } else if case .get(let key) = f.kv, case .notFound = result {
                clients[f.client].lastRead[key] = (nil, .zero)
            }
            complete(token, outcome, cluster: &cluster)
        case .failure(let failure):
            switch failure {
            case .noQuorum, .notWritten, .readNotConfirmed:
                complete(token, .failed(reason: "\(failure)"), cluster: &cluster)
            case .unknownOutcome:
                complete(token, .unknown, cluster: &cluster)
            }
        case .rejected(let why):
            complete(token, .failed(reason: why), cluster: &cluster)
        }
    }

    /// The node of these requests crashed: writes may or may not have happened.
    mutating func nodeLost(_ node: Int, cluster: inout ReplicationCluster) {
        for token in inFlight.filter({ $0.value.node == node }).keys.sorted(by: { $0.rawValue < $1.rawValue }) {
            let isWrite = inFlight[token]!.isWrite
            complete(token, isWrite ? .unknown : .failed(reason: "node lost"), cluster: &cluster)
        }
    }

    /// Completes every operation of the request with `outcome`.
    mutating func complete(_ token: ClientToken, _ outcome: OperationOutcome, cluster: inout ReplicationCluster) {
        guard let f = inFlight[token] else { return }
        complete(token, Array(repeating: outcome, count: 1 + f.more.count), cluster: &cluster)
    }

    /// Completes the request's operations (a batch's in order) with their outcomes.
    mutating func complete(_ token: ClientToken, _ outcomes: [OperationOutcome], cluster: inout ReplicationCluster) {
        guard let f = inFlight.removeValue(forKey: token) else { return }
        precondition(outcomes.count == 1 + f.more.count, "\(outcomes.count) outcomes for \(1 + f.more.count) operations")
        for (operation, outcome) in zip([f.operation] + f.more.map(\.operation), outcomes) {
            recorder.complete(operation, outcome, at: cluster.now)
            switch outcome {
            case .ok: counts.ok += 1
            case .failed: counts.failed += 1
            case .unknown: counts.unknown += 1
            }
        }
        clients[f.client].isBusy = false
        let think = random.next() % 20
        cluster.queue.schedule(.control(ReplicationSimulation.clientTagBase + UInt64(f.client)),
                               after: Milliseconds(UInt32(think)))
    }

    static func outcome(of result: CMapResult, for kv: KVOperation) -> OperationOutcome? {
        switch (kv, result) {
        case (.get, .value(let v, _)):
            guard case .string(let bytes) = v else { return nil }
            return .ok(.value(String(decoding: bytes, as: UTF8.self)))
        case (.get, .notFound): return .ok(.value(nil))
        case (.set, .ok), (.delete, .ok), (.delete, .notFound): return .ok(.done)
        case (.increment, .integer(let n)): return .ok(.integer(n))
        case (.increment, .error(.notAnInteger)): return .ok(.notAnInteger)
        case (.compareAndSet, .ok): return .ok(.swapped(true))
        case (.compareAndSet, .versionMismatch): return .ok(.swapped(false))
        default: return nil
        }
    }
}
