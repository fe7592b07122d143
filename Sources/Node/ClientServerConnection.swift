import CMap
import NIOCore
import RESP

/// One client connection's loop: parse requests, run them in order, write the replies, and
/// forward the pushes of the connection's tracks.
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
                try await withThrowingTaskGroup(of: Void.self) { pushTasks in
                    defer { pushTasks.cancelAll() }
                    try await loop(inbound: inbound, outbound: outbound, session: &session, pushTasks: &pushTasks)
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

    private func loop(
        inbound: NIOAsyncChannelInboundStream<ByteBuffer>, outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>,
        session: inout Session, pushTasks: inout ThrowingTaskGroup<Void, Error>
    ) async throws {
        var parser = RESPCommandParser(limits: session.isAuthenticated ? dispatcher.limits : .unauthenticated)
        var pending = RESPPendingRequests(limits: dispatcher.limits)
        var input = ByteBuffer()
        var replies = ByteBuffer()

        var protocolErrors = 0

        func flush() async throws {
            dispatcher.stats.processed(commands: pending.count, protocolErrors: protocolErrors)
            protocolErrors = 0
            while pending.count > 0 { pending.replySent() }
            guard replies.readableBytes > 0 else { return }
            let out = replies
            replies = ByteBuffer()
            try await outbound.write(out)
        }

        for try await chunk in inbound {
            if input.readableBytes == 0 {
                input = chunk
            } else {
                var chunk = chunk
                input.writeBuffer(&chunk)
            }
            while true {
                let command: RESPCommand
                do {
                    guard let next = try parser.next(&input) else { break }
                    command = next
                } catch {
                    protocolErrors += 1
                    error.reply.encode(into: &replies)
                    if error.isFatal {
                        try await flush()
                        return
                    }
                    continue
                }
                pending.requestStarted()
                let output = await dispatcher.execute(command, session: &session)
                for reply in output.replies { reply.encode(into: &replies) }
                if let limits = output.newLimits { parser.limits = limits }
                if output.close {
                    try await flush()
                    return
                }
                if !output.startedPushes.isEmpty {
                    // The subscribe confirmation goes out before any push of the stream.
                    try await flush()
                    for source in output.startedPushes {
                        let channel = ByteBuffer(string: source.channel)
                        if let batched = source.runBatched {
                            pushTasks.addTask {
                                try await batched { payloads in
                                    var push = ByteBuffer()
                                    for payload in payloads { push.writeRESPPushMessage(channel: channel, payload: payload) }
                                    try await outbound.write(push)
                                }
                            }
                            continue
                        }
                        pushTasks.addTask {
                            try await source.run { payload in
                                var push = ByteBuffer()
                                push.writeRESPPushMessage(channel: channel, payload: payload)
                                try await outbound.write(push)
                            }
                        }
                    }
                }
                if pending.isFull || replies.readableBytes >= Self.replyBufferBytesMax { try await flush() }
            }
            try await flush()
            if input.readableBytes == 0 {
                input.clear()
            } else if input.readerIndex >= Self.replyBufferBytesMax {
                input.discardReadBytes()
            }
        }
    }
}
