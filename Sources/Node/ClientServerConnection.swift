import CMap
import NIOCore
import RESP
import Replication

/// One client connection: a reader that parses requests and sends them to the node, a
/// writer that writes the replies in request order, and the push streams of the
/// connection's tracks.
///
/// Pipelining (docs/protocol.md): a command that is just node requests (`PreparedCommand`:
/// GET, SET, INCR, CMAP.SET, ...) is sent at once, without waiting for the replies of the
/// commands before it, so a pipeline's writes travel in the same Totem messages and share
/// an fsync. Requests reach the node in request order and Totem keeps one sender's order,
/// so a command still sees the effects of the ones before it (`PipelinedNodeService`).
/// Two exceptions keep a pipeline's commands from seeing the effects of LATER ones or
/// missing those of earlier ones: a write waits until the reads before it are answered (a
/// linearizable read is answered from the state when its barrier is confirmed, which may
/// hold writes sent after it), and a stale read waits for every earlier reply (it is
/// answered from local state at once). Every other command (READMODE, AUTH, CLIENT, SCAN,
/// SET NX, tracking, QUIT, INFO, ...) runs alone: after every earlier reply is written, and
/// before anything later is sent.
struct ClientConnection: Sendable {
    let dispatcher: CommandDispatcher
    var session: Session

    /// Replies are gathered and written together; past this size they go out at once.
    static let replyBufferBytesMax = 64 * 1024

    func serve(_ channel: NIOAsyncChannel<ByteBuffer, ByteBuffer>) async {
        var session = self.session
        dispatcher.stats.connectionOpened()
        defer { dispatcher.stats.connectionClosed() }
        do {
            try await channel.executeThenClose { inbound, outbound in
                try await withThrowingTaskGroup(of: Void.self) { tasks in
                    defer { tasks.cancelAll() }
                    let replies = ConnectionReplyQueue(limits: dispatcher.limits)
                    tasks.addTask { try await Self.writeReplies(replies, to: outbound) }
                    do {
                        try await read(inbound: inbound, outbound: outbound, replies: replies, session: &session, tasks: &tasks)
                    } catch is ConnectionReplyQueue.Closed {
                        // The writer is gone (the client went away): nothing more to do.
                    }
                    for track in session.tracks { await dispatcher.service.untrack(track.id) }
                    session.tracks = []
                    await dispatcher.processGroupsClosed(&session)
                }
            }
        } catch {
            // A broken connection (reset, write to a closed socket) ends this client only.
            for track in session.tracks { await dispatcher.service.untrack(track.id) }
            await dispatcher.processGroupsClosed(&session)
        }
    }

    /// Reads, parses and sends requests until the client stops sending, QUIT, or a fatal
    /// protocol error; returns once every reply is written.
    private func read(
        inbound: NIOAsyncChannelInboundStream<ByteBuffer>, outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>,
        replies: ConnectionReplyQueue, session: inout Session, tasks: inout ThrowingTaskGroup<Void, Error>
    ) async throws {
        var parser = RESPCommandParser(limits: session.isAuthenticated ? dispatcher.limits : .unauthenticated)
        var input = ByteBuffer()
        let pipelined = dispatcher.service as? any PipelinedNodeService
        /// A linearizable read was sent since everything was last answered (a write must
        /// wait for it; a stale read is answered on arrival, before any later write).
        var readsUnanswered = false

        func finish() async throws {
            replies.finish()
            try await replies.waitUntilAllWritten()
        }

        for try await chunk in inbound {
            if input.readableBytes == 0 {
                input = chunk
            } else {
                var chunk = chunk
                input.writeBuffer(&chunk)
            }
            var commands = 0, protocolErrors = 0
            defer { dispatcher.stats.processed(commands: commands, protocolErrors: protocolErrors) }
            while true {
                let command: RESPCommand
                do {
                    guard let next = try parser.next(&input) else { break }
                    command = next
                } catch {
                    protocolErrors += 1
                    try await replies.waitForRoom()
                    replies.append(.ready([error.reply]))
                    if error.isFatal { return try await finish() }
                    continue
                }
                commands += 1
                if let prepared = dispatcher.prepare(command, session: &session) {
                    if prepared.waitsForEarlierReplies || (prepared.hasWrite && readsUnanswered) {
                        try await replies.waitUntilAllWritten()
                        readsUnanswered = false
                    }
                    if prepared.hasLinearizableRead { readsUnanswered = true }
                    try await replies.waitForRoom()
                    if prepared.requests.isEmpty {
                        replies.append(.ready([prepared.reply([])]))
                    } else if let pipelined {
                        replies.append(.pending(prepared.requests.map { pipelined.submit($0) }, reply: prepared.reply))
                    } else {
                        var answers: [ReplicatedNode.ClientReply] = []
                        for request in prepared.requests { answers.append(await dispatcher.service.execute(request)) }
                        replies.append(.ready([prepared.reply(answers)]))
                    }
                    continue
                }
                if command.isNamed("CPG.MCAST") {
                    // Ordered by the node when it accepts it (awaited here, so a connection's
                    // multicasts keep their order), changes no session state and does not
                    // touch the store: it takes its place in the reply order without waiting
                    // for earlier replies to be written, so pipelined multicasts stream.
                    let output = await dispatcher.execute(command, session: &session)
                    try await replies.waitForRoom()
                    replies.append(.ready(output.replies))
                    continue
                }
                // A command that runs alone: everything before it is answered first.
                try await replies.waitUntilAllWritten()
                readsUnanswered = false
                let output = await dispatcher.execute(command, session: &session)
                if let limits = output.newLimits { parser.limits = limits }
                try await replies.waitForRoom()
                replies.append(.ready(output.replies))
                if output.close { return try await finish() }
                if !output.startedPushes.isEmpty {
                    // The subscribe confirmation goes out before any push of the stream.
                    try await replies.waitUntilAllWritten()
                    for source in output.startedPushes {
                        let channel = ByteBuffer(string: source.channel)
                        if let batched = source.runBatched {
                            tasks.addTask {
                                try await batched { payloads in
                                    var push = ByteBuffer()
                                    for payload in payloads { push.writeRESPPushMessage(channel: channel, payload: payload) }
                                    try await outbound.write(push)
                                }
                            }
                            continue
                        }
                        tasks.addTask {
                            try await source.run { payload in
                                var push = ByteBuffer()
                                push.writeRESPPushMessage(channel: channel, payload: payload)
                                try await outbound.write(push)
                            }
                        }
                    }
                }
            }
            if input.readableBytes == 0 {
                input.clear()
            } else if input.readerIndex >= Self.replyBufferBytesMax {
                input.discardReadBytes()
            }
        }
        try await finish()
    }

    /// Writes the replies in request order: those already complete go out together in one
    /// write; before waiting for a reply that is not there yet, what is gathered goes out.
    private static func writeReplies(_ queue: ConnectionReplyQueue,
                                     to outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>) async throws {
        var buffer = ByteBuffer()
        var gathered = 0
        func flush() async throws {
            guard gathered > 0 else { return }
            let out = buffer
            buffer = ByteBuffer()
            try await outbound.write(out)
            queue.written(gathered)
            gathered = 0
        }
        do {
            while let slots = await queue.nextSlots() {
                for slot in slots {
                    if gathered > 0, !slot.isComplete { try await flush() }
                    for reply in await slot.replies() { reply.encode(into: &buffer) }
                    gathered += 1
                    if buffer.readableBytes >= replyBufferBytesMax { try await flush() }
                }
                try await flush()
            }
        } catch {
            queue.close()
            throw error
        }
        queue.close()
    }
}
