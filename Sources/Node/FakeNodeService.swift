import Basics
import CMap
import NIOConcurrencyHelpers
import Replication

/// An in-memory `NodeService` for tests of the client servers: one `CMapState`, writes
/// applied at once at the next index, reads answered from the state in either mode, tracking
/// through a `CMapTracker`. Failures can be planted to see how the servers report them, and
/// requests can be held to see what a connection has in flight at once.
public actor FakeNodeService: NodeService {
    private var state: CMapState
    private var tracker = CMapTracker()
    private var streams: [TrackID: AsyncStream<CMapTrackEvent>.Continuation] = [:]
    private var lastTrackID: UInt64 = 0
    var lastIndex = LogIndex.zero
    private var snapshotIndex = LogIndex.zero
    private var plantedFailures: [ReplicatedNode.ClientReply] = []
    /// Every request received, in order (tests check client ids and sequence numbers).
    public private(set) var requests: [ReplicatedNode.ClientRequest] = []
    public var isQuorate = true
    /// Pipelining (FakeNodeService+Pipelining.swift): requests submitted and not yet taken,
    /// in submission order.
    nonisolated let inbox = NIOLockedValueBox<[(ReplicatedNode.ClientRequest, PendingReply)]>([])
    nonisolated let submissions = NIOLockedValueBox(0)
    /// While true, writes and linearizable reads wait in `held` until `releaseHeld`.
    var isHolding = false
    var held: [(ReplicatedNode.ClientRequest, PendingReply)] = []
    var heldWaiters: [(count: Int, continuation: CheckedContinuation<Bool, Never>)] = []
    /// Rounds: groups of ordered requests answered together (the fake's stand-in for one
    /// Totem message and one fsync). `largestRound` is the most requests in one.
    public internal(set) var rounds = 0
    public internal(set) var largestRound = 0
    /// The quorum service as one node sees it (FakeNodeService+Quorum.swift).
    var quorum = FakeQuorum()
    /// A one-node ring of process groups (FakeNodeService+CPG.swift).
    var processGroupRing = FakeProcessGroupRing()

    public init(limits: CMapLimits = CMapLimits()) {
        state = CMapState(limits: limits)
    }

    /// The next `count` requests (reads or writes) are answered with `reply` instead of run.
    public func plant(_ reply: ReplicatedNode.ClientReply, count: Int = 1) {
        plantedFailures.append(contentsOf: repeatElement(reply, count: count))
    }

    public func setQuorate(_ quorate: Bool) { isQuorate = quorate }

    public func execute(_ request: ReplicatedNode.ClientRequest) async -> ReplicatedNode.ClientReply {
        await submit(request).value
    }

    /// Runs one request now, in the order the fake takes them.
    func run(_ request: ReplicatedNode.ClientRequest) -> ReplicatedNode.ClientReply {
        requests.append(request)
        if !plantedFailures.isEmpty { return plantedFailures.removeFirst() }
        switch request {
        case .write(let op, let clientID, let clientSeq):
            guard op.isWrite else { return .rejected("\(op) is not a write") }
            guard isQuorate else { return .failure(.noQuorum) }
            lastIndex = lastIndex.next
            let applied = state.apply(op, at: lastIndex, client: clientID == 0 ? nil : ClientID(clientID),
                                      requestID: clientID == 0 ? nil : clientSeq)
            if let change = applied.change { publish(change) }
            return .result(applied.result, index: lastIndex)
        case .writeBatch(let ops, let clientID, let clientSeq):
            if let problem = CMapCodec.batchProblem(ops) { return .rejected(problem) }
            guard isQuorate else { return .failure(.noQuorum) }
            lastIndex = lastIndex.next
            // Through a state machine, as the real node applies a batch (one index, the
            // changes one by one).
            var machine = CMapStateMachine(state: state, tracker: tracker)
            let result = machine.applyBatch(ops, at: lastIndex, client: clientID == 0 ? nil : ClientID(clientID),
                                            requestID: clientID == 0 ? nil : clientSeq)
            state = machine.state
            tracker = machine.tracker
            deliverTrackEvents()
            return .result(result, index: lastIndex)
        case .read(let op, let mode):
            guard !op.isWrite else { return .rejected("\(op) is not a read") }
            if mode == .linearizable && !isQuorate { return .failure(.readNotConfirmed) }
            return .result(read(op), index: state.appliedIndex)
        case .reconfigure(let change):
            return reconfigure(change)
        }
    }

    private func read(_ op: CMapOperation) -> CMapResult {
        switch op {
        case .get(let key):
            guard let entry = state.entry(for: key) else { return .notFound }
            return .value(entry.value, version: entry.version)
        case .getOrDefault(let key, let defaultValue):
            let entry = state.entry(for: key) ?? CMapEntry(value: defaultValue, version: .zero)
            return .value(entry.value, version: entry.version)
        case .count(let prefix):
            return .count(UInt64(state.count(prefix: prefix)))
        case .list(let prefix, let cursor, let limit):
            guard limit >= 1, limit <= state.limits.maxPageItems else {
                return .error(.badPageSize(requested: limit, maximum: state.limits.maxPageItems))
            }
            let page = state.list(prefix: prefix, after: cursor, limit: Int(limit))
            return .list(page.items, nextCursor: page.nextCursor)
        case .set, .delete, .adjust, .incrementBy, .compareAndSet:
            return .error(.badValue(type: .string, reason: "not a read"))
        }
    }

    private func publish(_ change: CMapChange) {
        tracker.publish(change)
        deliverTrackEvents()
    }

    private func deliverTrackEvents() {
        for id in tracker.takeReady() {
            let events = tracker.take(id)
            guard let continuation = streams[id] else { continue }
            for event in events { continuation.yield(event) }
            if !tracker.contains(id) {
                continuation.finish()
                streams[id] = nil
            }
        }
    }

    public func status() async -> NodeStatus {
        NodeStatus(
            nodeID: NodeID(1), ringID: RingID(representative: NodeID(1), seq: 4), members: [NodeID(1)],
            totemState: "operational", phase: .active, epoch: Epoch(4), normalEpoch: Epoch(4),
            firstIndex: LogIndex(1), lastIndex: lastIndex, durableIndex: lastIndex, commitIndex: lastIndex,
            appliedIndex: lastIndex, snapshotIndex: snapshotIndex, keyCount: state.count,
            isQuorate: isQuorate, totalVotes: 1, majorityVotes: 1,
            rings: [NodeStatus.RingInterface(ringNumber: 0, isFaulty: false, detail: "in-memory")],
            isFsyncOn: false,
            counters: [("fake_requests", UInt64(requests.count)), ("fake_writes", lastIndex.rawValue)])
    }

    public func track(_ filter: CMapTrackFilter) async -> (TrackID, AsyncStream<CMapTrackEvent>) {
        lastTrackID &+= 1
        let id = TrackID(lastTrackID)
        tracker.add(id, filter: filter)
        let (stream, continuation) = AsyncStream<CMapTrackEvent>.makeStream()
        streams[id] = continuation
        return (id, stream)
    }

    public func untrack(_ id: TrackID) async {
        tracker.remove(id)
        streams.removeValue(forKey: id)?.finish()
    }

    /// The number of live tracks (tests check that a closed connection removed its own).
    public var trackCount: Int { tracker.trackCount }

    public func snapshot() async throws -> LogIndex {
        snapshotIndex = lastIndex
        return lastIndex
    }
}
