import Basics
import NIOCore
import Replication

/// The runtime's side of closed process groups: one bounded stream per (connection, group)
/// member, fed from `.processGroupDelivered` actions on the loop, and the requests waiting
/// for their reply. Loop-confined, like the rest of the runtime's state.
@available(macOS 15, *)
struct ProcessGroupLinks {
    struct Key: Hashable, Comparable {
        var connection: ConnectionID
        var group: ProcessGroupName
        static func < (a: Key, b: Key) -> Bool { (a.connection, a.group) < (b.connection, b.group) }
    }

    /// Batches queued for one member and not yet written to its connection (a batch is what
    /// one loop turn delivered to the member: `handOverProcessGroupDeliveries`; this counts
    /// batches, not notifications). A member that falls this far behind is taken out of
    /// the group (process down): its pushes could no longer be delivered in order, and the
    /// node's memory stays bounded (a step delivers at most one token visit's messages).
    static let pushesQueuedMax = 8192

    var streams: [Key: AsyncStream<[ProcessGroupDelivery]>.Continuation] = [:]
    /// Streams whose member's own join has not been delivered yet: what comes before it
    /// belongs to an earlier membership of the same connection and group (one taken out for
    /// falling behind, whose leave is still on its way) and is dropped, its final leave
    /// included, so that it does not end the new stream. A subset of `streams`' keys.
    var awaitingJoin: Set<Key> = []
    /// Members whose pushes skip the stream (NodeRuntime+CPGDirectPush.swift). A subset of
    /// `streams`' keys.
    var directPushes: [Key: DirectPush] = [:]
    /// Sinks are written without a flush (`deliverOwnNow`), and those to flush at the end of
    /// the loop turn.
    var isSinkFlushDeferred = false
    /// A hand-over is writing (`handOverProcessGroupDeliveries` does not nest).
    var isHandingOver = false
    /// Batches of pushes the node wrote to a sink itself, for METRICS.
    var directPushBatches: UInt64 = 0
    var sinksToFlush: [any ProcessGroupPushSink] = []
    var waiting: [ClientToken: CheckedContinuation<ProcessGroupReply, Never>] = [:]
    /// Joins waiting for their reply: a refused join removes its stream.
    var joins: [ClientToken: Key] = [:]
    var membersFellBehind: UInt64 = 0
    /// Multicasts answered `OK` at once (`ProcessGroupInbox`) and never handed to Totem: the
    /// core refused them (their member was taken out of the group in between, or Totem is
    /// not running), or the node stopped first.
    var admittedMcastsDropped: UInt64 = 0
    /// Notifications gathered for the next hand-over, per member, in the order members
    /// first got one; `gatheredIndex` finds a member's batch, and the last one used is
    /// tried first (a step's deliveries mostly go to one or a few members).
    var gathered: [(key: Key, deliveries: [ProcessGroupDelivery])] = []
    var gatheredIndex: [Key: Int] = [:]
    var lastGathered = 0
    /// A hand-over of `gathered` is scheduled for the end of the loop turn.
    var isHandOverScheduled = false
    /// Whether deliveries are rare enough to hand them over at once.
    var quietPush = ProcessGroupQuietPush()
    /// Hand-overs made at once by `quietPush`, for METRICS.
    var quietHandOvers: UInt64 = 0
    /// The inbox's drain is running (a step inside it must not start another).
    var isDrainingInbox = false
    /// Requests taken from the inbox that wait for room in Totem's send queue (a connection's
    /// answered multicast, and that connection's later requests); retried after a step once
    /// Totem can take `held.smallestHeadBytes`.
    var held = ProcessGroupHeldRequests<ProcessGroupInbox.Item>()
    /// Bytes of answered multicasts stepped since the inbox was last told (`release`).
    var releasedBytes = 0
    /// Drains of the inbox and requests taken by them, for METRICS (requests per hop).
    var inboxDrains: UInt64 = 0
    var inboxRequests: UInt64 = 0
}

@available(macOS 15, *)
extension NodeRuntime {
    public func processGroupJoin(_ group: ProcessGroupName, connection: ConnectionID) async
        -> Result<AsyncStream<[ProcessGroupDelivery]>, ProcessGroupRefusal> {
        let (stream, continuation) = AsyncStream.makeStream(
            of: [ProcessGroupDelivery].self, bufferingPolicy: .bufferingOldest(ProcessGroupLinks.pushesQueuedMax))
        let key = ProcessGroupLinks.Key(connection: connection, group: group)
        let reply = await processGroupRequest(.join(group, connection)) { runtime, token in
            guard runtime.processGroupLinks.streams[key] == nil else { return .refused(.alreadyJoined) }
            runtime.processGroupLinks.streams[key] = continuation
            runtime.processGroupLinks.awaitingJoin.insert(key)
            runtime.processGroupLinks.joins[token] = key
            return nil
        }
        CPGTrace.shared?.record(.nodeID, UInt64(configuration.nodeID.rawValue))
        guard reply == .accepted else {
            continuation.finish()
            if case .refused(let refusal) = reply { return .failure(refusal) }
            return .failure(.notRunning)
        }
        return .success(stream)
    }

    public func processGroupLeave(_ group: ProcessGroupName, connection: ConnectionID) async -> ProcessGroupReply {
        await processGroupRequest(.leave(group, connection))
    }

    /// Answered at once, without a hop to the loop, when the member is known and the inbox
    /// has room (`ProcessGroupInbox`); otherwise it waits for its turn and the core decides.
    public func admitProcessGroupMcast(_ group: ProcessGroupName, connection: ConnectionID, payload: [UInt8]) -> ProcessGroupReply? {
        let (admission, needsDrain) = processGroupInbox.admit(.init(connection: connection, group: group), payload: payload)
        if needsDrain {
            // A connection on the runtime's loop (the client server puts them there) steps
            // its multicast at once: when the ring is idle, Totem releases the held token (or
            // sends the hold cancel) before the `OK` is even written, rather than a loop turn
            // later. Every item is stepped on its own either way; this only saves the hop.
            if eventLoop.inEventLoop && !isDraining && !processGroupLinks.isDrainingInbox {
                if let trace = CPGTrace.shared {
                    trace.record(.mcastAdmitted, CPGTrace.stamp(payload))
                    drainProcessGroupInbox()
                    trace.record(.mcastStepped, core.totem.stats.heldTokenBroadcasts)
                } else {
                    drainProcessGroupInbox()
                }
                if Self.ownDeliveryFirst { deliverOwnNow() }
            } else {
                scheduleProcessGroupDrain()
            }
        }
        switch admission {
        case .admitted: return .accepted
        case .mustWait: return nil
        }
    }

    public func processGroupMcast(_ group: ProcessGroupName, connection: ConnectionID, payload: [UInt8]) async -> ProcessGroupReply {
        if let reply = admitProcessGroupMcast(group, connection: connection, payload: payload) { return reply }
        return await processGroupRequest(.mcast(group, connection, payload: payload))
    }

    public func processGroupMembers(_ group: ProcessGroupName) async -> [ProcessGroupMember] {
        (try? await eventLoop.submit { self.core.processGroupMembers(group) }.get()) ?? []
    }

    public func processGroupConnectionClosed(_ connection: ConnectionID) async {
        _ = await processGroupRequest(.connectionClosed(connection)) { runtime, _ in
            for key in runtime.processGroupLinks.streams.keys.sorted() where key.connection == connection {
                runtime.endStream(key)
            }
            return nil
        }
    }

    /// Queues one request behind the connection's earlier ones and waits for its reply.
    /// `prepare` runs first, on the loop, with the request's token; a non-nil result answers
    /// without stepping the core.
    private func processGroupRequest(
        _ request: ProcessGroupRequest,
        prepare: (@Sendable (NodeRuntime, ClientToken) -> ProcessGroupReply?)? = nil
    ) async -> ProcessGroupReply {
        await withCheckedContinuation { continuation in
            let (queued, needsDrain) = processGroupInbox.append(.waiting(request, prepare: prepare, continuation))
            guard queued else { return continuation.resume(returning: .refused(.notRunning)) }
            if needsDrain { scheduleProcessGroupDrain() }
        }
    }

    private func scheduleProcessGroupDrain() {
        eventLoop.execute { self.drainProcessGroupInbox() }
    }

    /// Steps what the inbox holds, in order, in one loop turn. An answered multicast that
    /// Totem's send queue cannot take yet is held, with every later request of its
    /// connection (`ProcessGroupHeldRequests`); other connections' requests go on, and so
    /// does the drain: the inbox's next appender schedules the next one, whatever is held.
    /// Bounded: a few passes, then the rest goes to the next loop turn.
    func drainProcessGroupInbox() {
        guard !processGroupLinks.isDrainingInbox else { return }
        processGroupLinks.isDrainingInbox = true
        defer {
            processGroupLinks.isDrainingInbox = false
            releaseStepped()
        }
        for _ in 0..<4 {
            let items = processGroupInbox.take()
            if items.isEmpty { return }
            processGroupLinks.inboxDrains &+= 1
            for item in items { route(item) }
        }
        // Still more: let other work (tokens, packets) run first.
        scheduleProcessGroupDrain()
    }

    /// Retries the held requests once Totem can take the smallest held multicast.
    func retryHeldProcessGroupRequests() {
        guard !processGroupLinks.held.isEmpty, !processGroupLinks.isDrainingInbox,
              canQueueNow(processGroupLinks.held.smallestHeadBytes) else { return }
        processGroupLinks.isDrainingInbox = true
        defer {
            processGroupLinks.isDrainingInbox = false
            releaseStepped()
        }
        for item in processGroupLinks.held.takeAll() { route(item) }
    }

    /// Steps `item`, or holds it. Once the node has stopped nothing is held: the step
    /// answers it (`notRunning`) or drops it.
    private func route(_ item: ProcessGroupInbox.Item) {
        if !isStopped, isStarted,
           processGroupLinks.held.hold(item, canQueue: { core.totem.canQueue(payloadBytes: $0) }) {
            return
        }
        stepInboxItem(item)
        processGroupLinks.inboxRequests &+= 1
    }

    private func releaseStepped() {
        processGroupInbox.release(processGroupLinks.releasedBytes)
        processGroupLinks.releasedBytes = 0
    }

    /// Totem's send queue takes a payload of `bytes` now (or the node is not running, and
    /// the step refuses it).
    func canQueueNow(_ bytes: Int) -> Bool {
        isStopped || !isStarted || core.totem.canQueue(payloadBytes: bytes)
    }

    private func stepInboxItem(_ item: ProcessGroupInbox.Item) {
        switch item {
        case .admitted(let request, let bytes):
            processGroupLinks.releasedBytes &+= bytes
            guard !isStopped, isStarted else {
                processGroupLinks.admittedMcastsDropped &+= 1
                return
            }
            stepProcessGroupRequest(takeToken(), request)
        case .waiting(let request, let prepare, let continuation):
            guard !isStopped, isStarted else { return continuation.resume(returning: .refused(.notRunning)) }
            let token = takeToken()
            if let early = prepare?(self, token) { return continuation.resume(returning: early) }
            // A member on its way out is no longer surely there: its multicasts go the
            // waiting way from now on, and the core answers them.
            switch request {
            case .leave(let group, let connection):
                processGroupInbox.memberRemoved(.init(connection: connection, group: group))
            case .connectionClosed(let connection):
                processGroupInbox.connectionRemoved(connection)
            default:
                break
            }
            processGroupLinks.waiting[token] = continuation
            stepProcessGroupRequest(token, request)
        }
    }

    private func takeToken() -> ClientToken {
        let token = ClientToken(nextToken)
        nextToken &+= 1
        return token
    }

    /// Steps at once: inside the runtime's work loop directly, otherwise through `enqueue`
    /// (which runs it, and what follows from it, before returning). Either way Totem has
    /// queued or refused the request when this returns, so the next item's room check holds.
    private func stepProcessGroupRequest(_ token: ClientToken, _ request: ProcessGroupRequest) {
        if isDraining {
            stepCore(.processGroupRequested(token, request, at: now()))
        } else {
            enqueue(.core(.processGroupRequested(token, request, at: now())))
        }
    }

    func processGroupReplied(_ token: ClientToken, _ reply: ProcessGroupReply) {
        if let key = processGroupLinks.joins.removeValue(forKey: token) {
            if reply == .accepted {
                processGroupInbox.memberAdded(key)
            } else {
                endStream(key)
            }
        }
        if let waiting = processGroupLinks.waiting.removeValue(forKey: token) {
            waiting.resume(returning: reply)
        } else if reply != .accepted {
            processGroupLinks.admittedMcastsDropped &+= 1
        }
    }

    /// Gathers a notification for its member; `handOverProcessGroupDeliveries` hands each
    /// member's gathered notifications over as one batch.
    func processGroupDelivered(_ delivery: ProcessGroupDelivery) {
        if let trace = CPGTrace.shared, case .message(_, let payload) = delivery.notification {
            trace.record(.delivered, CPGTrace.stamp(payload))
        }
        let key = ProcessGroupLinks.Key(connection: delivery.connection, group: delivery.group)
        let last = processGroupLinks.lastGathered
        if last < processGroupLinks.gathered.count && processGroupLinks.gathered[last].key == key {
            processGroupLinks.gathered[last].deliveries.append(delivery)
            return
        }
        if let index = processGroupLinks.gatheredIndex[key] {
            processGroupLinks.lastGathered = index
            processGroupLinks.gathered[index].deliveries.append(delivery)
            return
        }
        guard processGroupLinks.streams[key] != nil else { return }
        if processGroupLinks.awaitingJoin.contains(key) {
            guard case .membership(let change) = delivery.notification,
                  change.joined.contains(where: { $0.member == ProcessGroupMember(node: core.processGroups.nodeID,
                                                                                  connection: key.connection) }) else {
                return
            }
            processGroupLinks.awaitingJoin.remove(key)
        }
        processGroupLinks.lastGathered = processGroupLinks.gathered.count
        processGroupLinks.gatheredIndex[key] = processGroupLinks.gathered.count
        processGroupLinks.gathered.append((key, [delivery]))
    }

    /// Called after every step: retries a held inbox, and hands the gathered notifications
    /// over at the end of the loop turn, so that what the packets of one read (up to
    /// `UDPTransport.messagesPerReadMax`) delivered reaches a member as one batch, one
    /// wake-up of its connection and one socket write.
    /// When deliveries are rare (`ProcessGroupQuietPush`) they go at once instead: a
    /// message and the token read together no longer make the push wait for the token's
    /// forwarding.
    func flushProcessGroupDeliveries() {
        retryHeldProcessGroupRequests()
        guard !processGroupLinks.gathered.isEmpty else { return }
        if !processGroupLinks.isHandingOver, processGroupLinks.quietPush.handsOverAtOnce(at: now()) {
            // Whatever a scheduled hand-over would take goes now; it then finds nothing.
            processGroupLinks.quietHandOvers &+= 1
            handOverProcessGroupDeliveries()
            return
        }
        guard !processGroupLinks.isHandOverScheduled else { return }
        processGroupLinks.isHandOverScheduled = true
        eventLoop.execute { self.handOverProcessGroupDeliveries() }
    }

    /// One batch per member (`handOver(_:to:)`).
    func handOverProcessGroupDeliveries() {
        guard !processGroupLinks.isHandingOver else {
            // Called back from inside a hand-over (a sink's write reached a client handler
            // that stepped the node): the outer one is still writing earlier batches, so
            // what was gathered since waits for the next one.
            if !processGroupLinks.isHandOverScheduled {
                processGroupLinks.isHandOverScheduled = true
                eventLoop.execute { self.handOverProcessGroupDeliveries() }
            }
            return
        }
        processGroupLinks.isHandOverScheduled = false
        guard !processGroupLinks.gathered.isEmpty else { return }
        processGroupLinks.isHandingOver = true
        defer { processGroupLinks.isHandingOver = false }
        processGroupLinks.quietPush.handedOver(at: now())
        CPGTrace.shared?.record(.handedOver)
        let gathered = processGroupLinks.gathered
        processGroupLinks.gathered = []
        processGroupLinks.gatheredIndex = [:]
        processGroupLinks.lastGathered = 0
        for (key, batch) in gathered { handOver(batch, to: key) }
    }

    /// Takes a member whose queue is full out of its group (process down); its stream ends.
    /// The connection may join again at once: its new stream ignores the old membership's
    /// last deliveries (`awaitingJoin`).
    func memberFellBehind(_ key: ProcessGroupLinks.Key) {
        processGroupInbox.memberRemoved(key)
        endStream(key)
        processGroupLinks.membersFellBehind &+= 1
        enqueue(.core(.processGroupRequested(nil, .fellBehind(key.group, key.connection), at: now())))
    }

    /// For METRICS and INFO stats.
    func processGroupCounters() -> [(String, UInt64)] {
        let groups = core.processGroups
        return [
            ("cpg_admitted_mcasts_dropped", processGroupLinks.admittedMcastsDropped),
            ("cpg_direct_push_batches", processGroupLinks.directPushBatches),
            ("cpg_inbox_drains", processGroupLinks.inboxDrains),
            ("cpg_inbox_requests", processGroupLinks.inboxRequests),
            ("cpg_local_memberships", UInt64(groups.intentCount)),
            ("cpg_malformed_messages", UInt64(groups.malformedMessages)),
            ("cpg_members_fell_behind", processGroupLinks.membersFellBehind),
            ("cpg_messages_from_departed_nodes", UInt64(groups.messagesFromDepartedNodes)),
            ("cpg_quiet_hand_overs", processGroupLinks.quietHandOvers),
        ]
    }

    /// The node stops: every stream ends, every waiting request is refused, and answered
    /// multicasts not yet handed to Totem are dropped (counted).
    func endProcessGroupLinks() {
        for item in processGroupLinks.held.takeAll() + processGroupInbox.stop() {
            switch item {
            case .admitted: processGroupLinks.admittedMcastsDropped &+= 1
            case .waiting(_, _, let continuation): continuation.resume(returning: .refused(.notRunning))
            }
        }
        processGroupLinks.releasedBytes = 0
        for key in processGroupLinks.streams.keys.sorted() { processGroupLinks.streams[key]?.finish() }
        processGroupLinks.streams = [:]
        processGroupLinks.awaitingJoin = []
        processGroupLinks.directPushes = [:]
        processGroupLinks.sinksToFlush = []
        processGroupLinks.gathered = []
        processGroupLinks.gatheredIndex = [:]
        processGroupLinks.lastGathered = 0
        let waiting = processGroupLinks.waiting.sorted { $0.key.rawValue < $1.key.rawValue }
        processGroupLinks.waiting = [:]
        processGroupLinks.joins = [:]
        for (_, continuation) in waiting { continuation.resume(returning: .refused(.notRunning)) }
    }
}
