import Basics
import CMap
import Quorum
import Totem

/// One node's protocol cores composed: Totem orders, the `Replica` replicates and commits,
/// the CMap state machine applies. Still sans-IO: the real node (`Node`) and the simulator
/// feed the same events and perform the same actions, so the glue between the cores is
/// written once and tested by the simulator.
///
/// Inside a step, events flow between the cores through one FIFO: a Totem delivery becomes a
/// replica event, a replica broadcast becomes a Totem submission, in the order produced.
public struct ReplicatedNode: Sendable {
    public internal(set) var totem: TotemInstance
    public internal(set) var replica: Replica
    public internal(set) var store: CMapStateMachine
    public var nodeID: NodeID { replica.configuration.nodeID }
    /// Linearizable reads waiting for their barrier.
    var pendingReads: [ClientToken: CMapOperation] = [:]
    /// Entries whose op did not decode (a bug or a corrupt log): counted, applied as errors.
    public internal(set) var undecodableOps = 0
    /// Snapshots from a source that did not decode or did not match their message: dropped.
    public private(set) var undecodableSnapshots = 0
    /// The last configuration change Totem delivered (for status).
    public private(set) var lastConfiguration: ConfigurationChange?
    /// The quorum and votequorum services (ReplicatedNode+Quorum.swift).
    public internal(set) var quorumService: QuorumService
    /// Closed process groups: ordered by Totem, never logged, no quorum needed.
    public internal(set) var processGroups: ProcessGroups

    public enum ReadMode: Hashable, Sendable { case linearizable, stale }

    public enum ClientRequest: Equatable, Sendable {
        /// A write, with the client's id and request number for duplicate suppression
        /// (0 = none).
        case write(CMapOperation, clientID: UInt64, clientSeq: UInt64)
        /// Several writes as ONE request: one log entry (`CMapCodec.encodeBatch`), applied in
        /// order at its index, each op with the result it would have alone. The reply is
        /// `.result(.batch(results), index:)`, one result per op; a failure (no quorum,
        /// unknown outcome) or a refusal is the whole batch's. At most
        /// `CMapBatch.operationsMax` writes, none under the reserved keys.
        case writeBatch([CMapOperation], clientID: UInt64, clientSeq: UInt64)
        /// A read-only operation (get, getOrDefault, count, list).
        case read(CMapOperation, ReadMode)
        /// votequorum's setexpected / setvotes: checked, then committed as a log entry.
        case reconfigure(Reconfiguration)
    }

    public enum ClientReply: Equatable, Sendable {
        /// The operation's result; `index` is the log index it was applied at (writes) or
        /// the applied index it was read at (reads).
        case result(CMapResult, index: LogIndex)
        case failure(RequestFailure)
        /// The request itself is wrong (a write sent as a read, an undecodable operation).
        case rejected(String)
    }

    public enum Event: Sendable {
        case started(at: Instant)
        case packetReceived(TotemPacket, at: Instant)
        case totemTimerFired(TotemTimerKind, TimerGeneration, at: Instant)
        case peerMessageReceived(from: NodeID, PeerMessage, at: Instant)
        case appendDurable(through: LogIndex, at: Instant)
        case replicaTickFired(generation: UInt64, at: Instant)
        case requested(ClientToken, ClientRequest, at: Instant)
        case leaveRequested(at: Instant)
        case quorumTimerFired(QuorumTimer, at: Instant)
        /// A local client's process-group request (ReplicatedNode+CPG.swift).
        case processGroupRequested(ClientToken?, ProcessGroupRequest, at: Instant)
    }

    /// In the order to perform them; the ordering rules of `TotemAction` and `ReplicaAction`
    /// carry over (a ring seq or a normal epoch is persisted before later sends).
    public enum Action: Equatable, Sendable {
        case sendPacket(TotemPacket, to: TotemDestination)
        case startTotemTimer(TotemTimerKind, TimerGeneration, after: Milliseconds)
        case cancelTotemTimer(TotemTimerKind)
        case persistRingSeq(UInt64)
        case sendPeer(PeerMessage, to: NodeID)
        case append([Entry])
        case truncate(after: LogIndex)
        case persistNormalEpoch(Epoch, commitIndex: LogIndex)
        case serveFetch(to: NodeID, epoch: Epoch, from: LogIndex, through: LogIndex)
        case startReplicaTick(generation: UInt64, after: Milliseconds)
        /// Store `bytes` (a CMap snapshot at `index`) durably and reset the log to start after
        /// `index`, before any later action; the store already holds the snapshot's state.
        case installSnapshot(index: LogIndex, epoch: Epoch, bytes: [UInt8])
        case reply(ClientToken, ClientReply)
        /// An entry was applied (for the simulator's state checks and for status).
        case applied(Entry)
        case configurationChanged(ConfigurationChange)
        /// The quorum state changed (quorate, members, votes, quorum): push it to trackers.
        case quorumChanged(QuorumNotification)
        /// Feed `.quorumTimerFired` after this long (a late firing is ignored).
        case startQuorumTimer(QuorumTimer, after: Milliseconds)
        /// Hand a process-group notification to a local member's connection, in order.
        case processGroupDelivered(ProcessGroupDelivery)
        case processGroupReplied(ClientToken, ProcessGroupReply)
    }

    public init(totem: TotemInstance, replica: Replica, store: CMapStateMachine) {
        precondition(totem.nodeID == replica.configuration.nodeID,
                     "Totem node \(totem.nodeID) and replica node \(replica.configuration.nodeID) differ")
        precondition(store.state.appliedIndex == replica.appliedIndex,
                     "store applied \(store.state.appliedIndex) but replica applied \(replica.appliedIndex)")
        self.totem = totem
        self.replica = replica
        self.store = store
        self.quorumService = QuorumService(nodeID: totem.nodeID, voters: replica.configuration.voters,
                                           options: EffectiveQuorumOptions())
        self.processGroups = ProcessGroups(nodeID: totem.nodeID)
        adoptStoredVoters()
    }

    /// Change tracking is node-local (not replicated): the shell adds and removes tracks
    /// and drains their events after each step.
    public mutating func withTracker<T>(_ body: (inout CMapTracker) -> T) -> T {
        body(&store.tracker)
    }

    enum Work {
        case totem(TotemEvent)
        case replica(ReplicaEvent)
        /// What a slot of the queue holds once its item was taken (moved out, not copied).
        case taken
    }

    public mutating func step(_ event: Event) -> [Action] {
        var actions: [Action] = []
        var work: [Work] = []
        work.reserveCapacity(4)
        /// A snapshot offered by the source in this step, decoded and verified.
        var offered: (bytes: [UInt8], state: CMapState)?
        switch event {
        case .peerMessageReceived(let from, .snapshot(let epoch, let index, let snapshotEpoch, let bytes), let at):
            guard let decoded = try? CMapSnapshot.decode(bytes, limits: store.state.limits),
                  decoded.header.index == index, decoded.header.epoch == snapshotEpoch else {
                undecodableSnapshots += 1
                return actions
            }
            offered = (bytes, decoded.state)
            replica.offerSnapshotVoters(snapshotVoters(decoded.state))
            work.append(.replica(.snapshotOffered(from: from, epoch: epoch, index: index,
                                                  snapshotEpoch: snapshotEpoch, at: at)))
        case .started(let at):
            work.append(.totem(.started(at: at)))
        case .packetReceived(let packet, let at):
            work.append(.totem(.packetReceived(packet, at: at)))
        case .totemTimerFired(let kind, let generation, let at):
            work.append(.totem(.timerFired(kind, generation, at: at)))
        case .peerMessageReceived(let from, let message, let at):
            work.append(.replica(.peerMessageReceived(from: from, message, at: at)))
        case .appendDurable(let through, let at):
            work.append(.replica(.appendDurable(through: through, at: at)))
        case .replicaTickFired(let generation, let at):
            work.append(.replica(.tickFired(generation: generation, at: at)))
        case .leaveRequested(let at):
            quorumStep(.shutdownRequested(at: at), at: at, work: &work, actions: &actions)
            work.append(.totem(.leaveRequested(at: at)))
        case .quorumTimerFired(let timer, let at):
            quorumStep(.timerFired(timer, at: at), at: at, work: &work, actions: &actions)
        case .processGroupRequested(let token, let request, let at):
            processGroupStep(.requested(token, request), at: at, into: &actions)
        case .requested(let token, let request, let at):
            switch request {
            case .write(let op, _, _) where ReconfigurationEntry.touchesReservedKey(op):
                actions.append(.reply(token, .rejected("keys under totemkv.quorum. are reserved: use QUORUM.SETVOTES / QUORUM.SETEXPECTED")))
            case .write(let op, let clientID, let clientSeq):
                work.append(.replica(.writeRequested(token, clientID: clientID, clientSeq: clientSeq,
                                                     op: CMapCodec.encode(op), at: at)))
            case .writeBatch(let ops, let clientID, let clientSeq):
                if let problem = Self.batchProblem(ops) {
                    actions.append(.reply(token, .rejected(problem)))
                    break
                }
                let op = CMapCodec.encodeBatch(ops)
                guard op.count <= CMapBatch.encodedBytesMax else {
                    actions.append(.reply(token, .rejected("a write batch of \(op.count) bytes (the limit is \(CMapBatch.encodedBytesMax))")))
                    break
                }
                work.append(.replica(.writeRequested(token, clientID: clientID, clientSeq: clientSeq, op: op, at: at)))
            case .read(let op, _) where op.isWrite:
                actions.append(.reply(token, .rejected("a write cannot be served as a read")))
            case .read(let op, .stale):
                actions.append(.reply(token, .result(read(op), index: store.state.appliedIndex)))
            case .read(let op, .linearizable):
                pendingReads[token] = op
                work.append(.replica(.readRequested(token, at: at)))
            case .reconfigure(let change):
                reconfigurationRequested(token, change, at: at, work: &work, actions: &actions)
            }
        }
        resendRefusedNodeInfo(at: event.instant, work: &work)
        var head = 0
        while head < work.count {
            var item = Work.taken
            swap(&item, &work[head])
            head += 1
            switch consume item {
            case .taken:
                preconditionFailure("work item \(head - 1) taken twice")
            case .totem(let e):
                let at = e.instant
                var lastSubmitted: [UInt8]?
                if case .submitted(let payload, _) = e { lastSubmitted = payload }
                // Consecutive deliveries become one replica step (flushed before any other
                // work item, so the order of work is unchanged).
                var delivered: [DeliveredMessage] = []
                let totemActions = totem.step(e)
                for a in totemActions {
                    switch a {
                    case .send(let packet, let to): actions.append(.sendPacket(packet, to: to))
                    case .startTimer(let k, let g, let after): actions.append(.startTotemTimer(k, g, after: after))
                    case .cancelTimer(let k): actions.append(.cancelTotemTimer(k))
                    case .persistRingSeq(let seq): actions.append(.persistRingSeq(seq))
                    // Service messages: the replica's deliveries batched so far are queued
                    // first, so whatever a service queues for the replica comes after them in
                    // Totem's order. The services themselves step at once, ahead of the
                    // replica's queued work; neither reads the other's state there (voters
                    // change only when a reconfiguration entry is applied).
                    case .deliver(let d) where RingMessage.isNodeInfo(d.bytes):
                        Self.flush(&delivered, into: &work, at: at)
                        nodeInfoDelivered(d, at: at, work: &work, actions: &actions)
                    case .deliver(let d) where RingMessage.isProcessGroupPayload(d.bytes):
                        Self.flush(&delivered, into: &work, at: at)
                        processGroupDelivered(d, at: at, into: &actions)
                    case .deliver(let d):
                        // Sized once for the rest of the step's actions instead of growing.
                        if delivered.isEmpty { delivered.reserveCapacity(totemActions.count) }
                        delivered.append(DeliveredMessage(originator: d.originator, payload: d.bytes))
                    case .configurationChange(let change):
                        Self.flush(&delivered, into: &work, at: at)
                        lastConfiguration = change
                        actions.append(.configurationChanged(change))
                        processGroupStep(.configurationChanged(change), at: at, into: &actions)
                        let kind: ConfigurationKind = change.kind == .regular ? .regular : .transitional
                        work.append(.replica(.configurationChanged(kind, ringID: change.ringID,
                                                                   members: change.members, at: at)))
                        quorumConfigurationChanged(change, at: at, work: &work, actions: &actions)
                    case .submitRefused:
                        if let payload = lastSubmitted, RingMessage.isNodeInfo(payload) {
                            nodeInfoRefused(payload)
                        } else if let payload = lastSubmitted {
                            Self.flush(&delivered, into: &work, at: at)
                            work.append(.replica(.broadcastRefused(payload, at: at)))
                        }
                    }
                }
                Self.flush(&delivered, into: &work, at: at)
            case .replica(let e):
                let at = Self.instant(of: e)
                for a in replica.step(e) {
                    switch a {
                    case .broadcast(let bytes): work.append(.totem(.submitted(bytes, at: at)))
                    case .send(let message, let to): actions.append(.sendPeer(message, to: to))
                    case .append(let entries): Self.appendMerging(entries, to: &actions)
                    case .truncate(let after): actions.append(.truncate(after: after))
                    case .persistNormalEpoch(let epoch, let commit):
                        actions.append(.persistNormalEpoch(epoch, commitIndex: commit))
                    case .serveFetch(let to, let epoch, let from, let through):
                        actions.append(.serveFetch(to: to, epoch: epoch, from: from, through: through))
                    case .startTick(let g, let after): actions.append(.startReplicaTick(generation: g, after: after))
                    case .installSnapshot(let index, let epoch):
                        guard let snapshot = offered else {
                            preconditionFailure("replica installs a snapshot at \(index) that was not offered in this step")
                        }
                        store.replaceState(with: snapshot.state)
                        actions.append(.installSnapshot(index: index, epoch: epoch, bytes: snapshot.bytes))
                        quorumVotersRestored(snapshot.state, at: at, work: &work, actions: &actions)
                    case .apply(let entry, let reply) where ReconfigurationEntry.isReconfiguration(entry.op):
                        reconfigurationApplied(entry, reply: reply, at: at, work: &work, actions: &actions)
                    case .apply(let entry, let reply):
                        let result = apply(entry)
                        actions.append(.applied(entry))
                        if let reply {
                            actions.append(.reply(reply, result.map { .result($0, index: entry.index) }
                                ?? .rejected("undecodable operation at index \(entry.index)")))
                        }
                    case .answerReads(let tokens):
                        for token in tokens {
                            guard let op = pendingReads.removeValue(forKey: token) else { continue }
                            actions.append(.reply(token, .result(read(op), index: store.state.appliedIndex)))
                        }
                    case .fail(let token, let failure):
                        pendingReads.removeValue(forKey: token)
                        actions.append(.reply(token, .failure(failure)))
                    }
                }
            }
        }
        return actions
    }

    /// Why a write batch is refused as a whole, or nil (its writes are checked one by one
    /// when applied, as single writes are).
    static func batchProblem(_ ops: [CMapOperation]) -> String? {
        if let problem = CMapCodec.batchProblem(ops) { return problem }
        // Elements borrowed through the buffer, not copied one by one.
        if ops.withUnsafeBufferPointer({ b in b.indices.contains { ReconfigurationEntry.touchesReservedKey(b[$0]) } }) {
            return "keys under totemkv.quorum. are reserved: use QUORUM.SETVOTES / QUORUM.SETEXPECTED"
        }
        return nil
    }

    /// nil when the entry's operation does not decode.
    private mutating func apply(_ entry: Entry) -> CMapResult? {
        guard let decoded = try? CMapCodec.decodeEntryOperation(entry.op) else {
            undecodableOps += 1
            // Every node decodes the same bytes the same way, so this stays deterministic:
            // a read-only operation moves the applied index and changes nothing else.
            _ = store.apply(.count(CMapPrefix.all), at: entry.index)
            return nil
        }
        let client = entry.clientID == 0 ? nil : ClientID(entry.clientID)
        let requestID = client == nil ? nil : entry.clientSeq
        switch decoded {
        case .single(let op):
            return store.apply(op, at: entry.index, client: client, requestID: requestID)
        case .batch(let ops):
            return store.applyBatch(ops, at: entry.index, client: client, requestID: requestID)
        }
    }

    /// A read-only operation on the applied state.
    public func read(_ op: CMapOperation) -> CMapResult {
        Self.read(op, in: store.state)
    }

    /// A read-only operation on `state` (a published copy of the applied state, e.g. read
    /// by the node's shell for the reads of a confirmed barrier beyond the first).
    public static func read(_ op: CMapOperation, in state: CMapState) -> CMapResult {
        switch op {
        case .get(let key):
            guard let e = state.entry(for: key) else { return .notFound }
            return .value(e.value, version: e.version)
        case .getOrDefault(let key, let defaultValue):
            guard let e = state.entry(for: key) else { return .value(defaultValue, version: .zero) }
            return .value(e.value, version: e.version)
        case .count(let prefix):
            return .count(UInt64(state.count(prefix: prefix)))
        case .list(let prefix, let after, let limit):
            let page = state.list(prefix: prefix, after: after, limit: Int(min(limit, state.limits.maxPageItems)))
            return .list(page.items, nextCursor: page.nextCursor)
        case .set, .delete, .adjust, .incrementBy, .compareAndSet:
            preconditionFailure("read(\(op)): writes are rejected before they get here")
        }
    }

    private static func flush(_ delivered: inout [DeliveredMessage], into work: inout [Work], at: Instant) {
        switch delivered.count {
        case 0: return
        case 1: work.append(.replica(.delivered(originator: delivered[0].originator, payload: delivered[0].payload, at: at)))
        default: work.append(.replica(.deliveredBatch(delivered, at: at)))
        }
        delivered = []
    }

    /// As `Replica.appendMerging`: adjacent appends (one per Totem delivery) become one.
    private static func appendMerging(_ entries: [Entry], to actions: inout [Action]) {
        // Matched without binding, then moved out with `removeLast`: the batch is never
        // copied and stays uniquely referenced, so it grows in place.
        if case .append? = actions.last, case .append(var batch) = actions.removeLast() {
            batch.append(contentsOf: entries)
            actions.append(.append(batch))
        } else {
            actions.append(.append(entries))
        }
    }

    private static func instant(of event: ReplicaEvent) -> Instant {
        switch event {
        case .configurationChanged(_, _, _, let at), .delivered(_, _, let at), .deliveredBatch(_, let at),
             .peerMessageReceived(_, _, let at),
             .appendDurable(_, let at), .writeRequested(_, _, _, _, let at), .readRequested(_, let at),
             .tickFired(_, let at), .broadcastRefused(_, let at), .snapshotOffered(_, _, _, _, let at):
            at
        }
    }
}
