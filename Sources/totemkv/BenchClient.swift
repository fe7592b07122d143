import NIOCore
import NIOPosix
import RESP

/// One closed-loop client: a connection with one request in flight. Lives on one event loop
/// and is only touched there (its channel handler, timers and connect callbacks all run on
/// that loop), so it needs no lock.
///
/// Life: connect (AUTH first with a password) → send → reply → record → send ... An error
/// reply waits `errorBackoffMilliseconds` before the next request. A lost or failed
/// connection moves to the next port of the client's port order and connects again after
/// `reconnectDelayMilliseconds`. The client is done when its request budget is spent or the
/// run stops.
final class BenchClient {
    private enum State {
        case idle
        case connecting
        case authenticating
        case awaiting(BenchRequest, sentAtNanoseconds: UInt64)
        case waiting
        case done
    }

    private let plan: BenchPlan
    // The loop run owns its clients and outlives them.
    private unowned let run: BenchLoopRun
    private let loop: any EventLoop
    private var workload: BenchWorkload
    private let portOrder: [Int]
    private var portIndex = 0
    private var remaining: UInt64?
    private var state = State.idle
    private var channel: (any Channel)?
    private var isConnected = false
    private var parser = RESPReplyParser()
    private var inbound = ByteBuffer()

    init(index: Int, plan: BenchPlan, run: BenchLoopRun, loop: any EventLoop) {
        self.plan = plan
        self.run = run
        self.loop = loop
        workload = BenchWorkload(plan: plan, client: index)
        portOrder = plan.portOrder(ofClient: index)
        remaining = plan.requestBudget(ofClient: index)
    }

    func start() {
        if remaining == 0 { finish() } else { connect() }
    }

    /// The run is over: drop what is in flight (it is not counted) and close.
    func stop() { finish() }

    // MARK: Connection

    private func connect() {
        guard !run.isStopped else { finish(); return }
        state = .connecting
        let bound = NIOLoopBound(self, eventLoop: loop)
        ClientBootstrap(group: loop)
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(.milliseconds(max(plan.requestTimeoutMilliseconds, 1)))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(BenchClientHandler(client: bound.value))
                }
            }
            .connect(host: plan.host, port: portOrder[portIndex])
            .assumeIsolated()
            .whenComplete { result in self.connectCompleted(result) }
    }

    private func connectCompleted(_ result: Result<any Channel, any Error>) {
        switch result {
        case .success(let channel):
            guard case .connecting = state, !run.isStopped else {
                channel.close(promise: nil)
                return
            }
            self.channel = channel
            isConnected = true
            run.recorder.clientConnected()
            parser = RESPReplyParser()
            inbound.clear()
            if let password = plan.password {
                state = .authenticating
                var buffer = channel.allocator.buffer(capacity: 32 + password.utf8.count)
                buffer.writeRESPArrayHeader(count: 2)
                buffer.writeRESPBulkString("AUTH")
                buffer.writeRESPBulkString(password)
                channel.writeAndFlush(buffer, promise: nil)
            } else {
                sendNext()
            }
        case .failure:
            guard case .connecting = state else { return }
            run.recorder.recordError(.connectFailed)
            moveToNextPortAndReconnect()
        }
    }

    /// Called by the handler when the channel closes (lost, timed out, or stopped).
    func connectionClosed() {
        if isConnected {
            isConnected = false
            run.recorder.clientDisconnected()
        }
        channel = nil
        switch state {
        case .done:
            return
        case .awaiting:
            // Its outcome is unknown: the node may have committed it before dying.
            run.recorder.recordError(.connectionLost)
            spendOne()
        default:
            break
        }
        guard !isBudgetSpent else { finish(); return }
        moveToNextPortAndReconnect()
    }

    private func moveToNextPortAndReconnect() {
        guard !run.isStopped else { finish(); return }
        portIndex = (portIndex + 1) % portOrder.count
        state = .waiting
        after(plan.reconnectDelayMilliseconds) { $0.connect() }
    }

    // MARK: Requests

    private func sendNext() {
        guard !run.isStopped, !isBudgetSpent else { finish(); return }
        guard let channel else { moveToNextPortAndReconnect(); return }
        let request = workload.next()
        var buffer = channel.allocator.buffer(capacity: plan.valueBytes + plan.keyPrefix.utf8.count + 48)
        workload.encode(request, keyPrefix: plan.keyPrefix, into: &buffer)
        state = .awaiting(request, sentAtNanoseconds: BenchClock.nanoseconds())
        channel.writeAndFlush(buffer, promise: nil)
    }

    /// Called by the loop's timeout sweep (`BenchLoopRun`): a request without a reply for
    /// `requestTimeoutMilliseconds` is a timeout, and its connection is closed (which
    /// reconnects, on the next port: the node may be gone). A sweep rather than one NIO timer
    /// per request keeps the loop's timer heap small at thousands of requests a second.
    func checkTimeout(nowNanoseconds now: UInt64) {
        guard case .awaiting(_, let sentAt) = state,
              now &- sentAt >= UInt64(plan.requestTimeoutMilliseconds) * 1_000_000 else { return }
        run.recorder.recordError(.timeout)
        spendOne()
        state = .waiting
        channel?.close(promise: nil)
    }

    /// Called by the handler with the bytes it read.
    func received(_ bytes: inout ByteBuffer) {
        inbound.writeBuffer(&bytes)
        // Bounded by the bytes read: each reply consumes at least 3 of them.
        while true {
            let reply: RESPValue?
            do {
                reply = try parser.next(&inbound)
            } catch {
                run.recorder.recordError(.unexpectedReply)
                state = .waiting
                channel?.close(promise: nil)
                return
            }
            guard let reply else { return }
            handle(reply)
        }
    }

    private func handle(_ reply: RESPValue) {
        switch state {
        case .authenticating:
            if case .error = reply {
                run.recorder.recordError(.connectFailed)
                state = .waiting
                channel?.close(promise: nil)
            } else {
                sendNext()
            }
        case .awaiting(let request, let sentAt):
            let now = BenchClock.nanoseconds()
            let outcome = BenchOutcome.classify(reply, to: request.kind)
            run.recorder.record(outcome, latencyMicroseconds: (now &- sentAt) / 1000,
                                atMillisecond: run.millisecond(ofNanoseconds: now))
            spendOne()
            if case .failed = outcome {
                state = .waiting
                after(plan.errorBackoffMilliseconds) { $0.sendNext() }
            } else {
                sendNext()
            }
        default:
            // No request in flight (a reply after a timeout): the connection is being closed.
            break
        }
    }

    // MARK: Helpers

    private var isBudgetSpent: Bool { remaining == 0 }

    private func spendOne() {
        if let left = remaining, left > 0 { remaining = left - 1 }
    }

    private func finish() {
        if case .done = state { return }
        state = .done
        channel?.close(promise: nil)
        run.clientFinished()
    }

    /// Runs `body` on the loop after `milliseconds`, unless the client is done by then.
    private func after(_ milliseconds: Int64, _ body: @escaping (BenchClient) -> Void) {
        loop.assumeIsolated().scheduleTask(in: .milliseconds(milliseconds)) {
            if case .done = self.state { return }
            body(self)
        }
    }
}

/// The channel handler: hands reads and the close to its client.
final class BenchClientHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    private let client: BenchClient

    init(client: BenchClient) { self.client = client }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        client.received(&bytes)
    }

    func channelInactive(context: ChannelHandlerContext) {
        client.connectionClosed()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

/// The monotonic clock of the bench (NIO's uptime clock).
enum BenchClock {
    static func nanoseconds() -> UInt64 { NIODeadline.now().uptimeNanoseconds }
}
