import CMap
import NIOCore
import RESP
import Replication

/// One client connection, run by a channel handler on the connection's event loop: it
/// parses requests as they are read, sends them to the node, and writes the replies in
/// request order, gathering those ready in one loop turn into one socket write.
///
/// Linearizable reads parsed in one turn (GET, MGET, CMAP.GET, ...) are sent together behind
/// one read barrier (`sendReads`, `PipelinedNodeService.submitLinearizableReads`) when the
/// turn's parsing ends or before any other request: a pipeline of GETs costs the node one
/// request, not one per GET. Likewise the writes parsed in one turn (SET, INCR, DEL,
/// CMAP.SET, ...) go as one request (`WriteBatch`, `sendWrites`): one log entry for all of
/// them. The GET and SET most clients send most are taken without a
/// `PreparedCommand` (`ShortCommand`).
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
/// SET NX, tracking, QUIT, INFO, ...) runs alone, in a task: after every earlier reply is
/// written, and before anything later is parsed.
///
/// Bounds: at most `RESPLimits.pendingRequestsMax` requests are parsed and not yet written
/// back; while a command cannot start (no room, waiting for earlier replies, a command
/// running alone, or the socket's send buffer is full) the handler stops asking the
/// channel to read, so the kernel's buffers push back on the client.
///
/// Threading: every method runs on the channel's event loop. When the node steps requests
/// on that same loop (`PipelinedNodeService.requestEventLoop`), a request goes from the
/// read to the node's core and its reply from the core to this handler with no thread
/// switch; otherwise replies hop here with `execute`.
final class ClientConnectionHandler: ChannelDuplexHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Replies are gathered and written together; past this size they go out at once.
    static let replyBufferBytesMax = 64 * 1024

    /// One request's answer, waiting to be written in its turn.
    private enum Slot {
        case ready([RESPValue])
        case one(RESPValue)
        /// Awaiting `missing` of the node's replies (`answers` in request order).
        case waiting(answers: [ReplicatedNode.ClientReply?], missing: Int,
                     reply: @Sendable ([ReplicatedNode.ClientReply]) -> RESPValue)
        /// A command running in a task (it runs alone, or is a CPG.MCAST).
        case running
        /// A GET or a plain SET taken the short way (no `PreparedCommand`), awaiting its
        /// answer.
        case short(ShortCommand)
        /// Its answer, encoded when written (`ShortCommand.encode`).
        case shortAnswer(ShortCommand, ReplicatedNode.ClientReply)
        /// A short SET's usual answer, `+OK`: nothing to keep.
        case ok
    }

    /// A parsed command that could not start yet (it would have to wait).
    private enum Parked {
        case prepared(PreparedCommand)
        case alone(RESPCommand)
        case multicast(RESPCommand)
        case protocolError(RESPError)
        /// `GET key` in linearizable read mode on a pipelining node: batched as is.
        case get(CMapKey)
        /// `SET key value` (no options) on a pipelining node; its request number is taken
        /// when it is parsed, as a prepared write's is.
        case set(ReplicatedNode.ClientRequest)
    }

    private let dispatcher: CommandDispatcher
    /// Read by the batching in ClientServerConnection+Batches.swift.
    let pipelined: (any PipelinedNodeService)?
    /// `pipelined != nil`, kept apart: testing the optional existential copies it, on
    /// every command.
    private let isPipelined: Bool
    // The state below is read and changed several times per command. Swift checks a class's
    // stored properties for overlapping access at run time, which cost about a fifth of
    // the handler's instructions per pipelined SET; `@exclusivity(unchecked)` drops the
    // check. That is sound because every access is to a value (a struct, an enum, a
    // number) through methods that call no code which could come back into the handler:
    // the node's answers (`answered`) arrive between accesses, never during one, and
    // `dispatcher.prepare(_:session:)` only builds a command. Keep it so: do not hold an
    // `inout` to one of these across a call to the node or the channel.
    @exclusivity(unchecked) private var session: Session
    @exclusivity(unchecked) private var parser: RESPCommandParser
    @exclusivity(unchecked) private var input = ByteBuffer()
    /// Slots appended and not yet written (the bound on parsed, unanswered requests).
    @exclusivity(unchecked) private var unanswered: RESPPendingRequests
    /// Unwritten slots in request order; the first one's number is `firstSlotNumber`.
    @exclusivity(unchecked) private var slots = CircularBuffer<Slot>(initialCapacity: 16)
    @exclusivity(unchecked) private var firstSlotNumber: UInt64 = 0
    /// A linearizable read was sent since everything was last answered (a write must
    /// wait for it; a stale read is answered on arrival, before any later write).
    @exclusivity(unchecked) private var readsUnanswered = false
    /// Linearizable reads parsed and not sent yet: sent behind one read barrier
    /// (`sendReads`) before any later request, and at the end of each `processInput`.
    @exclusivity(unchecked) var readBatch = ReadBatch()
    /// Writes parsed and not sent yet: sent as one request (`sendWrites`) before any other
    /// request, when full, and at the end of each `processInput`.
    @exclusivity(unchecked) var writeBatch = WriteBatch()
    @exclusivity(unchecked) private var parked: Parked?
    /// A command runs in a task; nothing later is parsed until it is done.
    @exclusivity(unchecked) private var isRunningTask = false
    /// QUIT or a fatal protocol error: write what is left, then close.
    @exclusivity(unchecked) private var isFinishing = false
    @exclusivity(unchecked) private var isClosed = false
    @exclusivity(unchecked) private var isReadHeld = false
    @exclusivity(unchecked) private var isTurnScheduled = false
    /// Commands started (not in a task) during this `processInput`, for INFO's counts.
    @exclusivity(unchecked) private var commandsStarted = 0
    @exclusivity(unchecked) private var needsFlush = false
    /// The size of the last reply write: the next one's buffer starts this large.
    @exclusivity(unchecked) private var replyBufferCapacity = 512
    @exclusivity(unchecked) private(set) var context: ChannelHandlerContext?
    /// The tasks streaming tracking and process-group pushes (ClientServerConnection+Pushes.swift).
    var pushTasks: [Task<Void, Never>] = []
    /// Completed once the connection is closed and its tracks and groups are released.
    let finished: EventLoopPromise<Void>

    init(dispatcher: CommandDispatcher, session: Session, eventLoop: any EventLoop) {
        self.dispatcher = dispatcher
        self.pipelined = dispatcher.service as? any PipelinedNodeService
        self.isPipelined = pipelined != nil
        self.session = session
        self.parser = RESPCommandParser(limits: session.isAuthenticated ? dispatcher.limits : .unauthenticated)
        self.unanswered = RESPPendingRequests(limits: dispatcher.limits)
        self.finished = eventLoop.makePromise()
    }

    // MARK: Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func channelActive(context: ChannelHandlerContext) {
        dispatcher.stats.connectionOpened()
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        connectionEnded()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        // Normally after channelInactive; this covers a pipeline torn down without it.
        connectionEnded()
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var chunk = unwrapInboundIn(data)
        CPGTrace.shared?.record(.clientRead, UInt64(chunk.readableBytes))
        if input.readableBytes == 0 {
            input = chunk
        } else {
            input.writeBuffer(&chunk)
        }
        processInput()
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        flushIfNeeded()
        context.fireChannelReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { processInput() }
        flushIfNeeded()
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A broken connection (reset, write to a closed socket) ends this client only.
        context.close(promise: nil)
    }

    /// Reads are asked for only while a new command could start (back-pressure).
    func read(context: ChannelHandlerContext) {
        if wantsInput {
            context.read()
        } else {
            isReadHeld = true
        }
    }

    private var wantsInput: Bool {
        !isClosed && !isFinishing && !isRunningTask && parked == nil && (context?.channel.isWritable ?? false)
    }

    // MARK: Requests

    /// Parses and starts commands until one has to wait or the input runs out, writing the
    /// replies that are ready as it goes (a parked command may wait for exactly that).
    private func processInput() {
        guard let context, !isClosed else { return }
        var protocolErrors = 0
        commandsStarted = 0
        // Each pass that goes round again started a command, which consumed input or the
        // parked command, so this ends.
        var startedAny = true
        while startedAny {
            writeReady()
            startedAny = false
            while !isFinishing, !isRunningTask, !isClosed {
                // Moved, not copied, between `parked` and here: a SET's request is not
                // retained and released once more per command.
                let next: Parked
                if let waiting = parked.take() {
                    next = waiting
                } else {
                    guard context.channel.isWritable else { break }
                    do {
                        guard let command = try parser.next(&input) else { break }
                        next = classify(command)
                    } catch {
                        protocolErrors += 1
                        next = .protocolError(error)
                    }
                }
                guard start(next) else {
                    parked = next
                    break
                }
                startedAny = true
            }
        }
        sendPending()
        // A command running in a task is counted when it is done (`ran`), as Redis counts a
        // command once it ran: INFO does not count itself.
        dispatcher.stats.processed(commands: commandsStarted, protocolErrors: protocolErrors)
        if input.readableBytes == 0 {
            input.clear()
        } else if input.readerIndex >= Self.replyBufferBytesMax {
            input.discardReadBytes()
        }
        if isReadHeld && wantsInput {
            isReadHeld = false
            context.read()
        }
    }

    /// What `command` asks for. A command taken the short way is given back to the parser
    /// (`recycle`), which reuses its arguments array.
    private func classify(_ command: consuming RESPCommand) -> Parked {
        // The most common commands the short way; anything unusual (a bad key, arity, a
        // value too large) takes the general one, which gives the error.
        if isPipelined, session.isAuthenticated {
            if command.count == 2, session.readMode == .linearizable, command.isNamed("GET"),
               case .success(let key) = CommandReplies.key(command[1]) {
                parser.recycle(command)
                return .get(key)
            }
            if command.count == 3, command.isNamed("SET"), case .success(let key) = CommandReplies.key(command[1]) {
                let value = CMapValue.string(CommandReplies.bytes(command[2]))
                if dispatcher.refusal(of: value) == nil {
                    parser.recycle(command)
                    return .set(.write(.set(key, value), clientID: session.clientID, clientSeq: session.nextClientSeq()))
                }
            }
        }
        if let prepared = dispatcher.prepare(command, session: &session) { return .prepared(prepared) }
        // Ordered by the node when it accepts it (awaited, so a connection's multicasts
        // keep their order), changes no session state and does not touch the store: it
        // takes its place in the reply order without waiting for earlier replies to be
        // written, so pipelined multicasts stream.
        if command.isNamed("CPG.MCAST") { return .multicast(command) }
        return .alone(command)
    }

    /// Starts `item` if it need not wait; false if it must (it stays parked).
    private func start(_ item: Parked) -> Bool {
        switch item {
        case .protocolError(let error):
            guard !unanswered.isFull else { return false }
            append(.ready([error.reply]))
            if error.isFatal { isFinishing = true }
        case .prepared(let prepared):
            if prepared.waitsForEarlierReplies || (prepared.hasWrite && readsUnanswered) {
                guard slots.isEmpty else { return false }
                readsUnanswered = false
            }
            guard !unanswered.isFull else { return false }
            if prepared.hasLinearizableRead { readsUnanswered = true }
            if isPipelined || prepared.requests.isEmpty { commandsStarted += 1 }
            send(prepared)
        case .get(let key):
            guard !unanswered.isFull else { return false }
            readsUnanswered = true
            commandsStarted += 1
            let number = append(.short(.get))
            sendWrites()
            readBatch.append(.get(key), slot: number, index: 0)
        case .set(let request):
            // As a prepared write: after the reads before it are answered.
            if readsUnanswered {
                guard slots.isEmpty else { return false }
                readsUnanswered = false
            }
            guard !unanswered.isFull else { return false }
            commandsStarted += 1
            sendReads()
            let number = append(.short(.set))
            send(write: request, slot: number, index: 0)
        case .multicast(let command):
            guard !unanswered.isFull else { return false }
            // The common case, a member's multicast the node takes at once, needs no task:
            // a pipeline of multicasts then streams. Anything else (a refusal, a full inbox,
            // a bad argument) runs as before and gives its reply or error.
            sendPending()
            if command.count == 3, session.isAuthenticated, let pipelined,
               case .success(let group) = CommandDispatcher.processGroupName(command[1]),
               pipelined.admitProcessGroupMcast(group, connection: ConnectionID(session.connectionNumber),
                                                payload: CommandReplies.bytes(command[2])) == .accepted {
                commandsStarted += 1
                append(.one(.ok))
                return true
            }
            run { dispatcher, session in await dispatcher.execute(command, session: &session) }
        case .alone(let command):
            // Everything before it is answered first.
            guard slots.isEmpty else { return false }
            readsUnanswered = false
            run { dispatcher, session in await dispatcher.execute(command, session: &session) }
        }
        return true
    }

    private func send(_ prepared: PreparedCommand) {
        guard !prepared.requests.isEmpty else {
            append(.one(prepared.reply([])))
            return
        }
        if isPipelined, prepared.isOnlyLinearizableReads {
            // Joins the turn's batch: one barrier for all of them (`sendReads`).
            let number = append(.waiting(answers: Array(repeating: nil, count: prepared.requests.count),
                                         missing: prepared.requests.count, reply: prepared.reply))
            sendWrites()
            for (index, request) in prepared.requests.enumerated() {
                if case .read(let op, _) = request { readBatch.append(op, slot: number, index: index) }
            }
            return
        }
        if isPipelined, prepared.isOnlyWrites {
            // Joins the turn's write batch: one request for all of them (`sendWrites`).
            sendReads()
            let number = append(.waiting(answers: Array(repeating: nil, count: prepared.requests.count),
                                         missing: prepared.requests.count, reply: prepared.reply))
            for (index, request) in prepared.requests.enumerated() {
                send(write: request, slot: number, index: index)
            }
            return
        }
        sendPending()
        guard isPipelined else {
            let requests = prepared.requests, reply = prepared.reply
            run { dispatcher, _ in
                var answers: [ReplicatedNode.ClientReply] = []
                for request in requests { answers.append(await dispatcher.service.execute(request)) }
                return CommandOutput(reply(answers))
            }
            return
        }
        let number = append(.waiting(answers: Array(repeating: nil, count: prepared.requests.count),
                                     missing: prepared.requests.count, reply: prepared.reply))
        for (index, request) in prepared.requests.enumerated() {
            submit(request, slot: number, index: index)
        }
    }

    @discardableResult
    private func append(_ slot: Slot) -> UInt64 {
        unanswered.requestStarted()
        slots.append(slot)
        return firstSlotNumber &+ UInt64(slots.count - 1)
    }

    /// The node answered request `index` of slot `number`.
    func answered(_ number: UInt64, _ index: Int, _ answer: ReplicatedNode.ClientReply) {
        guard !isClosed, number >= firstSlotNumber, number - firstSlotNumber < UInt64(slots.count) else { return }
        let position = slots.index(slots.startIndex, offsetBy: Int(number - firstSlotNumber))
        if case .short(let command) = slots[position] {
            if command == .set, case .result(.ok, _) = answer {
                slots[position] = .ok
            } else {
                slots[position] = .shortAnswer(command, answer)
            }
            if number == firstSlotNumber { scheduleTurn() }
            return
        }
        guard case .waiting(var answers, let missing, let reply) = slots[position], answers[index] == nil else { return }
        answers[index] = answer
        if missing > 1 {
            slots[position] = .waiting(answers: answers, missing: missing - 1, reply: reply)
            return
        }
        slots[position] = .one(reply(answers.map { $0 ?? .failure(.unknownOutcome) }))
        // Only the first unwritten slot can unblock the writes; the replies of one node step
        // are gathered into one write in the next turn of the loop.
        if number == firstSlotNumber { scheduleTurn() }
    }

    private func scheduleTurn() {
        guard !isTurnScheduled, let context else { return }
        isTurnScheduled = true
        context.eventLoop.execute {
            self.isTurnScheduled = false
            self.processInput()
            self.flushIfNeeded()
        }
    }

    /// Runs `body` in a task with a copy of the session; nothing later is parsed until it
    /// is done, and its output takes the next slot.
    private func run(_ body: @escaping @Sendable (CommandDispatcher, inout Session) async -> CommandOutput) {
        guard let loop = context?.eventLoop else { return }
        isRunningTask = true
        let number = append(.running)
        let dispatcher = self.dispatcher, start = self.session
        Task {
            var session = start
            let output = await body(dispatcher, &session)
            let end = session
            loop.execute { self.ran(number, output, end) }
        }
    }

    private func ran(_ number: UInt64, _ output: CommandOutput, _ session: Session) {
        isRunningTask = false
        dispatcher.stats.processed(commands: 1, protocolErrors: 0)
        self.session = session
        guard !isClosed, let context else {
            releaseSession()
            return
        }
        if let limits = output.newLimits { parser.limits = limits }
        if number >= firstSlotNumber, number - firstSlotNumber < UInt64(slots.count) {
            let position = slots.index(slots.startIndex, offsetBy: Int(number - firstSlotNumber))
            slots[position] = .ready(output.replies)
        }
        if output.close { isFinishing = true }
        if !output.startedPushes.isEmpty {
            // The subscribe confirmation goes out before any push of the stream (the command
            // ran alone, so its reply is the only one unwritten).
            writeReady()
            flushIfNeeded()
            startPushes(output.startedPushes, on: context.channel)
        }
        processInput()
        flushIfNeeded()
    }

    // MARK: Replies

    /// Writes the replies that are ready, in request order, up to the first one that is not.
    private func writeReady() {
        guard let context else { return }
        var buffer: ByteBuffer?
        var written = 0
        gather: while let first = slots.first {
            switch first {
            case .waiting, .running, .short: break gather
            case .ready, .one, .shortAnswer, .ok: break
            }
            // Sized like the last write (a pipeline's replies are alike), so a batch of GET
            // replies does not grow the buffer several times.
            if buffer == nil { buffer = context.channel.allocator.buffer(capacity: replyBufferCapacity) }
            switch first {
            case .ready(let values):
                for value in values { value.encode(into: &buffer!) }
            case .one(let value):
                value.encode(into: &buffer!)
            case .shortAnswer(let command, let answer):
                command.encode(answer, into: &buffer!)
            case .ok:
                buffer!.writeRESPOK()
            case .waiting, .running, .short:
                break gather
            }
            slots.removeFirst()
            firstSlotNumber &+= 1
            written += 1
            if let full = buffer, full.readableBytes >= Self.replyBufferBytesMax {
                context.write(wrapOutboundOut(full), promise: nil)
                buffer = nil
                needsFlush = true
            }
        }
        if let buffer, buffer.readableBytes > 0 {
            replyBufferCapacity = min(max(buffer.readableBytes, 512), Self.replyBufferBytesMax)
            context.write(wrapOutboundOut(buffer), promise: nil)
            needsFlush = true
        }
        for _ in 0..<written { unanswered.replySent() }
        if isFinishing, slots.isEmpty, !isRunningTask, !isClosed {
            // Closed once everything before is on the socket.
            needsFlush = false
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(channel.allocator.buffer(capacity: 0))).whenComplete { _ in
                channel.close(promise: nil)
            }
        }
    }

    private func flushIfNeeded() {
        guard needsFlush, let context else { return }
        needsFlush = false
        context.flush()
    }

    // MARK: The end

    private func connectionEnded() {
        guard !isClosed else { return }
        isClosed = true
        dispatcher.stats.connectionClosed()
        for task in pushTasks { task.cancel() }
        pushTasks = []
        slots.removeAll()
        // A command still running hands the session back first (`ran`).
        if !isRunningTask { releaseSession() }
    }

    /// Ends the session's tracks and process groups, then completes `finished`.
    private func releaseSession() {
        var session = self.session
        self.session.tracks = []
        self.session.processGroups = []
        let dispatcher = self.dispatcher, finished = self.finished
        Task {
            for track in session.tracks { await dispatcher.service.untrack(track.id) }
            session.tracks = []
            await dispatcher.processGroupsClosed(&session)
            finished.succeed(())
        }
    }
}
