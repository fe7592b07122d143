import Basics
import NIOCore
import Replication

/// The runtime's side of closed process groups: one bounded stream per (connection, group)
/// member, fed from `.processGroupDelivered` actions on the loop, and the requests waiting
/// for their reply. Loop-confined, like the rest of the runtime's state.
struct ProcessGroupLinks {
    struct Key: Hashable, Comparable {
        var connection: ConnectionID
        var group: ProcessGroupName
        static func < (a: Key, b: Key) -> Bool { (a.connection, a.group) < (b.connection, b.group) }
    }

    /// Batches (one per step that delivered to the member) queued for one member and not
    /// yet written to its connection. A member that falls this far behind is taken out of
    /// the group (process down): its pushes could no longer be delivered in order, and the
    /// node's memory stays bounded (a step delivers at most one token visit's messages).
    static let pushesQueuedMax = 8192

    var streams: [Key: AsyncStream<[ProcessGroupDelivery]>.Continuation] = [:]
    var waiting: [ClientToken: CheckedContinuation<ProcessGroupReply, Never>] = [:]
    /// Joins waiting for their reply: a refused join removes its stream.
    var joins: [ClientToken: Key] = [:]
    var membersFellBehind: UInt64 = 0
    /// Notifications of the current step, per member, in the order members first got one.
    var gathered: [Key: [ProcessGroupDelivery]] = [:]
    var gatheredOrder: [Key] = []
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
            runtime.processGroupLinks.joins[token] = key
            return nil
        }
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

    public func processGroupMcast(_ group: ProcessGroupName, connection: ConnectionID, payload: [UInt8]) async -> ProcessGroupReply {
        await processGroupRequest(.mcast(group, connection, payload: payload))
    }

    public func processGroupMembers(_ group: ProcessGroupName) async -> [ProcessGroupMember] {
        (try? await eventLoop.submit { self.core.processGroupMembers(group) }.get()) ?? []
    }

    public func processGroupConnectionClosed(_ connection: ConnectionID) async {
        _ = await processGroupRequest(.connectionClosed(connection)) { runtime, _ in
            for key in runtime.processGroupLinks.streams.keys.sorted() where key.connection == connection {
                runtime.processGroupLinks.streams.removeValue(forKey: key)?.finish()
            }
            return nil
        }
    }

    /// Runs one request on the loop and waits for its reply. `prepare` runs first, on the
    /// loop, with the request's token; a non-nil result answers without stepping the core.
    private func processGroupRequest(
        _ request: ProcessGroupRequest,
        prepare: @escaping @Sendable (NodeRuntime, ClientToken) -> ProcessGroupReply? = { _, _ in nil }
    ) async -> ProcessGroupReply {
        await withCheckedContinuation { continuation in
            eventLoop.execute {
                guard !self.isStopped, self.isStarted else {
                    continuation.resume(returning: .refused(.notRunning))
                    return
                }
                let token = ClientToken(self.nextToken)
                self.nextToken &+= 1
                if let early = prepare(self, token) {
                    continuation.resume(returning: early)
                    return
                }
                self.processGroupLinks.waiting[token] = continuation
                self.enqueue(.core(.processGroupRequested(token, request, at: self.now())))
            }
        }
    }

    func processGroupReplied(_ token: ClientToken, _ reply: ProcessGroupReply) {
        if let key = processGroupLinks.joins.removeValue(forKey: token), reply != .accepted {
            processGroupLinks.streams.removeValue(forKey: key)?.finish()
        }
        processGroupLinks.waiting.removeValue(forKey: token)?.resume(returning: reply)
    }

    /// Gathers a notification for its member; `flushProcessGroupDeliveries` hands each
    /// member's gathered notifications over as one batch after every step.
    func processGroupDelivered(_ delivery: ProcessGroupDelivery) {
        let key = ProcessGroupLinks.Key(connection: delivery.connection, group: delivery.group)
        guard processGroupLinks.streams[key] != nil else { return }
        if processGroupLinks.gathered[key] == nil { processGroupLinks.gatheredOrder.append(key) }
        processGroupLinks.gathered[key, default: []].append(delivery)
    }

    /// One batch per member; a member whose queue is full leaves the group (process down)
    /// and its stream ends.
    func flushProcessGroupDeliveries() {
        guard !processGroupLinks.gatheredOrder.isEmpty else { return }
        let order = processGroupLinks.gatheredOrder
        processGroupLinks.gatheredOrder = []
        for key in order {
            guard let batch = processGroupLinks.gathered.removeValue(forKey: key),
                  let stream = processGroupLinks.streams[key] else { continue }
            switch stream.yield(batch) {
            case .enqueued:
                if batch.last?.isFinal == true {
                    stream.finish()
                    processGroupLinks.streams[key] = nil
                }
            case .dropped:
                stream.finish()
                processGroupLinks.streams[key] = nil
                processGroupLinks.membersFellBehind &+= 1
                enqueue(.core(.processGroupRequested(nil, .fellBehind(key.group, key.connection), at: now())))
            case .terminated:
                processGroupLinks.streams[key] = nil
            @unknown default:
                processGroupLinks.streams[key] = nil
            }
        }
    }

    /// For METRICS and INFO stats.
    func processGroupCounters() -> [(String, UInt64)] {
        let groups = core.processGroups
        return [
            ("cpg_local_memberships", UInt64(groups.intentCount)),
            ("cpg_malformed_messages", UInt64(groups.malformedMessages)),
            ("cpg_members_fell_behind", processGroupLinks.membersFellBehind),
            ("cpg_messages_from_departed_nodes", UInt64(groups.messagesFromDepartedNodes)),
        ]
    }

    /// The node stops: every stream ends, every waiting request is refused.
    func endProcessGroupLinks() {
        for key in processGroupLinks.streams.keys.sorted() { processGroupLinks.streams[key]?.finish() }
        processGroupLinks.streams = [:]
        processGroupLinks.gathered = [:]
        processGroupLinks.gatheredOrder = []
        let waiting = processGroupLinks.waiting.sorted { $0.key.rawValue < $1.key.rawValue }
        processGroupLinks.waiting = [:]
        processGroupLinks.joins = [:]
        for (_, continuation) in waiting { continuation.resume(returning: .refused(.notRunning)) }
    }
}
