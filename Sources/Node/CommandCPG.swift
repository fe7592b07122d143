import Basics
import NIOCore
import RESP
import Replication

/// Closed process groups over the line protocol (docs/cpg.md): CPG.JOIN, CPG.LEAVE,
/// CPG.MCAST, CPG.MEMBERS, and `SUBSCRIBE cpg:<group>` / `UNSUBSCRIBE cpg:<group>` as the
/// pub/sub spelling of join and leave. A member's notifications arrive as pub/sub messages
/// on channel `cpg:<group>`, as they happen; the client reads them when it wants.
extension CommandDispatcher {
    static let processGroupChannelPrefix = Array("cpg:".utf8)
    /// Batches of more deliveries than this are encoded off the connection's loop: a push
    /// task on the loop saves two thread wake-ups per push (latency), but in a flood the
    /// loop's time is the limit and encoding hundreds of pushes there costs throughput.
    static let processGroupPushBatchOffLoop = 16

    func processGroupCommand(_ command: RESPCommand, session: inout Session) async -> CommandOutput? {
        let n = command.count
        if command.isNamed("CPG.JOIN") {
            guard n == 2 else { return CommandOutput(CommandReplies.wrongArity("cpg.join")) }
            var output = CommandOutput(replies: [])
            await processGroupJoin(command[1], session: &session, output: &output)
            return output
        }
        if command.isNamed("CPG.LEAVE") {
            guard n == 2 else { return CommandOutput(CommandReplies.wrongArity("cpg.leave")) }
            return CommandOutput(await processGroupLeave(command[1], session: &session))
        }
        if command.isNamed("CPG.MCAST") {
            guard n == 3 else { return CommandOutput(CommandReplies.wrongArity("cpg.mcast")) }
            return CommandOutput(await processGroupMcast(command[1], payload: command[2], session: session))
        }
        if command.isNamed("CPG.MEMBERS") {
            guard n == 2 else { return CommandOutput(CommandReplies.wrongArity("cpg.members")) }
            switch Self.processGroupName(command[1]) {
            case .failure(let error): return CommandOutput(error)
            case .success(let group):
                let members = await service.processGroupMembers(group)
                return CommandOutput(.array(members.map { .bulk($0.description) }))
            }
        }
        // SUBSCRIBE/UNSUBSCRIBE whose channels are all cpg:<group>; others are CMap's.
        let channels = command.arguments.dropFirst().map { CommandReplies.bytes($0) }
        guard n >= 2, channels.allSatisfy({ $0.starts(with: Self.processGroupChannelPrefix) }) else { return nil }
        if command.isNamed("SUBSCRIBE") {
            var output = CommandOutput(replies: [])
            for channel in channels {
                await processGroupJoin(ByteBuffer(bytes: channel.dropFirst(Self.processGroupChannelPrefix.count)),
                                       session: &session, output: &output)
            }
            return output
        }
        if command.isNamed("UNSUBSCRIBE") {
            var replies: [RESPValue] = []
            for channel in channels {
                replies.append(await processGroupLeave(ByteBuffer(bytes: channel.dropFirst(Self.processGroupChannelPrefix.count)),
                                                       session: &session))
            }
            return CommandOutput(replies: replies)
        }
        return nil
    }

    static func processGroupName(_ argument: ByteBuffer) -> Result<ProcessGroupName, RESPValue> {
        do {
            return .success(try ProcessGroupName(validating: CommandReplies.bytes(argument)))
        } catch {
            return .failure(.error("ERR invalid group '\(CommandReplies.text(argument))': \(error.description)"))
        }
    }

    static func processGroupError(_ refusal: ProcessGroupRefusal, _ group: ProcessGroupName) -> RESPValue {
        switch refusal {
        case .tryAgain: .error("TRYAGAIN " + refusal.description)
        default: .error("ERR group '\(group)': " + refusal.description)
        }
    }

    private func subscriptionCount(_ session: Session) -> Int { session.tracks.count + session.processGroups.count }

    /// CPG.JOIN group → ["subscribe", "cpg:<group>", count]; the member's own join event is
    /// its first push.
    private func processGroupJoin(_ argument: ByteBuffer, session: inout Session, output: inout CommandOutput) async {
        let group: ProcessGroupName
        switch Self.processGroupName(argument) {
        case .failure(let error):
            output.replies.append(error)
            return
        case .success(let g): group = g
        }
        switch await service.processGroupJoin(group, connection: ConnectionID(session.connectionNumber)) {
        case .failure(let refusal):
            output.replies.append(Self.processGroupError(refusal, group))
        case .success(let deliveries):
            if !session.processGroups.contains(group) { session.processGroups.append(group) }
            let channel = "cpg:\(group)"
            output.replies.append(.subscription(.subscribe, channel: ByteBuffer(string: channel), count: subscriptionCount(session)))
            let direct = service as? any ProcessGroupDirectPushing
            let connection = ConnectionID(session.connectionNumber)
            let body: @Sendable (_ emitAll: @Sendable ([ByteBuffer]) async throws -> Void) async throws -> Void = { emitAll in
                // On the node's own loop the node writes the pushes itself once this reader
                // has caught up (ProcessGroupDirectPush.swift); this loop then only sees the
                // batches the sink refused, and the markers.
                let sink = ProcessGroupChannelSink.current
                var isMarkerAhead = false
                func attach() {
                    guard let sink, let direct else { return }
                    isMarkerAhead = direct.processGroupAttachSink(sink, group: group, connection: connection)
                }
                attach()
                var ended = false
                for await batch in deliveries {
                    if batch.isEmpty {
                        if isMarkerAhead {
                            isMarkerAhead = false
                            direct?.processGroupSinkReady(group: group, connection: connection)
                        } else {
                            ended = true  // the sink wrote the final delivery
                        }
                        continue
                    }
                    if batch.count > Self.processGroupPushBatchOffLoop {
                        // A flood: encode and hand over from the global pool, as the loop
                        // (which the push task may prefer) is the node's bottleneck then.
                        try await withTaskExecutorPreference(globalConcurrentExecutor) {
                            try await emitAll(Self.processGroupPushPayloads(batch))
                        }
                    } else {
                        try await emitAll(Self.processGroupPushPayloads(batch))
                    }
                    ended = batch.last?.isFinal == true
                    if !ended && !isMarkerAhead && batch.count <= Self.processGroupPushBatchOffLoop { attach() }
                }
                if !ended {
                    try await emitAll([ByteBuffer(string: "dropped: this connection left the group (it fell more than \(ProcessGroupLinks.pushesQueuedMax) batches of pushes behind, or the node stopped)")])
                }
            }
            output.startedPushes.append(.init(channel: channel, run: { emit in
                try await body { payloads in for payload in payloads { try await emit(payload) } }
            }, runBatched: body))
        }
    }

    /// CPG.LEAVE group → ["unsubscribe", "cpg:<group>", count]; the member's own leave event
    /// is its last push on that channel.
    private func processGroupLeave(_ argument: ByteBuffer, session: inout Session) async -> RESPValue {
        let group: ProcessGroupName
        switch Self.processGroupName(argument) {
        case .failure(let error): return error
        case .success(let g): group = g
        }
        let reply = await service.processGroupLeave(group, connection: ConnectionID(session.connectionNumber))
        if reply == .accepted || reply == .refused(.notJoined) { session.processGroups.removeAll { $0 == group } }
        if case .refused(let refusal) = reply { return Self.processGroupError(refusal, group) }
        return .subscription(.unsubscribe, channel: ByteBuffer(string: "cpg:\(group)"), count: subscriptionCount(session))
    }

    private func processGroupMcast(_ argument: ByteBuffer, payload: ByteBuffer, session: Session) async -> RESPValue {
        let group: ProcessGroupName
        switch Self.processGroupName(argument) {
        case .failure(let error): return error
        case .success(let g): group = g
        }
        switch await service.processGroupMcast(group, connection: ConnectionID(session.connectionNumber),
                                               payload: CommandReplies.bytes(payload)) {
        case .accepted: return .ok
        case .refused(let refusal): return Self.processGroupError(refusal, group)
        }
    }

    /// The connection closed: its members leave every group (process down).
    func processGroupsClosed(_ session: inout Session) async {
        guard !session.processGroups.isEmpty else { return }
        session.processGroups = []
        await service.processGroupConnectionClosed(ConnectionID(session.connectionNumber))
    }

    /// The texts of a batch of pushes, as slices of one buffer: one allocation per batch
    /// rather than one (and a formatted string) per message.
    static func processGroupPushPayloads(_ batch: [ProcessGroupDelivery]) -> [ByteBuffer] {
        var bytes = 0
        for delivery in batch {
            if case .message(_, let payload) = delivery.notification { bytes += payload.count + 40 } else { bytes += 256 }
        }
        var storage = ByteBuffer()
        storage.reserveCapacity(bytes)
        var ends: [Int] = []
        ends.reserveCapacity(batch.count)
        for delivery in batch {
            switch delivery.notification {
            case .message(let from, let payload):
                storage.writeProcessGroupMessageText(from: from, payload: payload)
            case .membership:
                var text = processGroupPushPayload(delivery.notification)
                storage.writeBuffer(&text)
            }
            ends.append(storage.writerIndex)
        }
        var slices: [ByteBuffer] = []
        slices.reserveCapacity(batch.count)
        var start = 0
        for end in ends {
            slices.append(storage.getSlice(at: start, length: end - start) ?? ByteBuffer())
            start = end
        }
        return slices
    }

    /// The text of a push: `message <node>:<connection> <payload>` for a message, and
    /// `confchg joined=<list> left=<list> members=<list>` for a membership change, where a
    /// list is comma-separated `node:connection` entries, joined and left ones followed by
    /// their reason in parentheses: `join`, `leave`, `node-down`, `node-up`, `process-down`.
    static func processGroupPushPayload(_ notification: ProcessGroupNotification) -> ByteBuffer {
        switch notification {
        case .message(let from, let payload):
            var buffer = ByteBuffer()
            buffer.reserveCapacity(payload.count + 32)
            buffer.writeString("message \(from) ")
            buffer.writeBytes(payload)
            return buffer
        case .membership(let change):
            let joined = change.joined.map(\.description).joined(separator: ",")
            let left = change.left.map(\.description).joined(separator: ",")
            let members = change.members.map(\.description).joined(separator: ",")
            return ByteBuffer(string: "confchg joined=\(joined) left=\(left) members=\(members)")
        }
    }
}

extension ByteBuffer {
    /// `message <node>:<connection> <payload>`, the text of a group message's push (as
    /// `processGroupPushPayload` has it), written in place: the push task's batches and the
    /// direct sink both write it with this.
    mutating func writeProcessGroupMessageText(from: ProcessGroupMember, payload: [UInt8]) {
        writeStaticString("message ")
        writeDecimal(UInt64(from.node.rawValue))
        writeInteger(UInt8(ascii: ":"))
        writeDecimal(from.connection.rawValue)
        writeInteger(UInt8(ascii: " "))
        writeBytes(payload)
    }

    /// Writes `value` in decimal ASCII, without building a string.
    mutating func writeDecimal(_ value: UInt64) {
        guard value >= 10 else {
            writeInteger(UInt8(ascii: "0") &+ UInt8(value))
            return
        }
        var digits: (UInt64, Int) = (1, 1)
        while digits.0 <= value / 10 { digits = (digits.0 &* 10, digits.1 &+ 1) }
        var rest = value
        var unit = digits.0
        for _ in 0..<digits.1 {
            writeInteger(UInt8(ascii: "0") &+ UInt8(rest / unit))
            rest %= unit
            unit /= 10
        }
    }
}
