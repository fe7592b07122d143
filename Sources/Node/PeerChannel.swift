import Basics
import NIOCore
import NIOPosix
import Replication

/// The TCP side channel between replicas: acks, fetches and entries (`PeerMessage`).
///
/// One listening socket per node and one outgoing connection per peer. Messages to a peer
/// whose connection is down are dropped, not queued: the replica resends what matters on its
/// tick (acks, fetches), so a queue would only replay stale traffic after a reconnect. A send
/// to a disconnected peer starts a reconnect, at most one per `reconnectInterval`.
///
/// Threading: every socket (listener, accepted and outgoing) lives on `eventLoop`, and all
/// mutable state is touched only there; `send` and `setPeers` must be called on the loop.
/// Received messages reach `receiver` on the loop, in arrival order per connection.
///
/// Frames: `PeerFrame` (length, CRC32C, sender id, payload). A bad frame closes the connection
/// it came on (the byte stream cannot be resynchronised); the sender reconnects.
///
/// Flushing: `send` only writes; the connections written to are flushed once, by a task
/// queued on the loop behind the current one, so every message sent to a peer during one
/// turn of the loop (the acks of several durability reports handled back to back, say)
/// leaves in one TCP write. On loopback a write system call also runs the receiver's TCP
/// input, which made it the largest single cost of an ack; one per message per peer was
/// one per fdatasync per peer.
public final class PeerChannel: @unchecked Sendable {
    public typealias Receiver = @Sendable (NodeID, PeerMessage) -> Void

    public let eventLoop: any EventLoop
    public let localNodeID: NodeID
    /// The address the listener is bound to (with the real port when 0 was asked for).
    public let localAddress: SocketAddress
    private let listener: any Channel
    private let reconnectInterval: TimeAmount

    // Loop-confined state.
    private var peers: [NodeID: SocketAddress] = [:]
    private var connections: [NodeID: Connection] = [:]
    private var accepted: [ObjectIdentifier: any Channel] = [:]
    private var isClosed = false
    /// Connections written to since the last flush, each once, in the order first written.
    /// At most one per peer, so a linear search is cheap and no hash order is involved.
    private var unflushed: [any Channel] = []
    private var isFlushQueued = false
    /// Counters for status: frames sent, dropped while disconnected, received, rejected.
    public private(set) var counters = Counters()

    public struct Counters: Sendable {
        public var sent: UInt64 = 0
        /// Flushes of a connection (at most one per connection per loop turn); `sent` minus
        /// this is the number of TCP writes that coalescing saved.
        public var flushes: UInt64 = 0
        public var droppedDisconnected: UInt64 = 0
        public var received: UInt64 = 0
        public var rejected: UInt64 = 0
        public var connects: UInt64 = 0
    }

    private enum Connection {
        case connecting
        case connected(any Channel)
        /// Failed at `at`; the next attempt waits until `reconnectInterval` has passed.
        case failed(at: NIODeadline)
    }

    private init(eventLoop: any EventLoop, localNodeID: NodeID, listener: any Channel, localAddress: SocketAddress,
                 reconnectInterval: TimeAmount) {
        self.eventLoop = eventLoop
        self.localNodeID = localNodeID
        self.listener = listener
        self.localAddress = localAddress
        self.reconnectInterval = reconnectInterval
    }

    /// Binds the listener on `host:port` (0: an ephemeral port) on `eventLoop`.
    public static func bind(host: String, port: Int, localNodeID: NodeID, on eventLoop: any EventLoop,
                            reconnectInterval: TimeAmount = .milliseconds(200),
                            receiver: @escaping Receiver) async throws -> PeerChannel {
        let box = ChannelBox()
        let listener = try await ServerBootstrap(group: eventLoop, childGroup: eventLoop)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { child in
                child.eventLoop.makeCompletedFuture {
                    try child.pipeline.syncOperations.addHandler(ByteToMessageHandler(PeerFrameDecoder()))
                    try child.pipeline.syncOperations.addHandler(PeerInboundHandler(receiver: receiver, box: box))
                    box.channel?.registerAccepted(child)
                }
            }
            .bind(host: host, port: port).get()
        guard let address = listener.localAddress else {
            try? await listener.close()
            throw PeerChannelError.noLocalAddress(host: host, port: port)
        }
        let channel = PeerChannel(eventLoop: eventLoop, localNodeID: localNodeID, listener: listener,
                                  localAddress: address, reconnectInterval: reconnectInterval)
        // The box is read by accepted connections on the loop: set it there.
        try await eventLoop.submit { box.channel = channel }.get()
        return channel
    }

    /// The peers' listening addresses (the local node is ignored). Connections to peers whose
    /// address changed are closed and re-made on the next send.
    public func setPeers(_ addresses: [NodeID: SocketAddress]) {
        eventLoop.preconditionInEventLoop()
        for (id, address) in addresses.sorted(by: { $0.key < $1.key }) where id != localNodeID {
            if peers[id] != address {
                if case .connected(let channel) = connections[id] { channel.close(promise: nil) }
                connections[id] = nil
            }
            peers[id] = address
        }
    }

    /// Sends `message` to `peer` if connected; otherwise drops it and starts a reconnect.
    public func send(_ message: PeerMessage, to peer: NodeID) {
        eventLoop.preconditionInEventLoop()
        guard !isClosed, let address = peers[peer] else {
            counters.droppedDisconnected &+= 1
            return
        }
        switch connections[peer] {
        case .connected(let channel):
            var buffer = channel.allocator.buffer(capacity: 64)
            guard PeerFrame.write(message.encoded(), from: localNodeID, into: &buffer) else {
                counters.rejected &+= 1
                return
            }
            counters.sent &+= 1
            channel.write(buffer, promise: nil)
            flushLater(channel)
        case .connecting:
            counters.droppedDisconnected &+= 1
        case .failed(let at) where NIODeadline.now() < at + reconnectInterval:
            counters.droppedDisconnected &+= 1
        case .failed, nil:
            counters.droppedDisconnected &+= 1
            connect(peer, address: address)
        }
    }

    /// Closes the listener and every connection.
    public func close() async {
        let channels: [any Channel] = (try? await eventLoop.submit {
            self.isClosed = true
            var all: [any Channel] = [self.listener]
            for (_, connection) in self.connections.sorted(by: { $0.key < $1.key }) {
                if case .connected(let channel) = connection { all.append(channel) }
            }
            all.append(contentsOf: self.accepted.values)
            self.connections = [:]
            self.accepted = [:]
            return all
        }.get()) ?? [listener]
        for channel in channels { try? await channel.close() }
    }

    /// Queues the one flush of this turn (if not queued yet) and notes `channel` for it.
    private func flushLater(_ channel: any Channel) {
        if !unflushed.contains(where: { $0 === channel }) { unflushed.append(channel) }
        guard !isFlushQueued else { return }
        isFlushQueued = true
        eventLoop.execute { self.flushWritten() }
    }

    /// Flushes every connection written to since the last flush. A connection closed in
    /// between fails its pending writes, as a write to it would have failed: the replica
    /// resends what matters on its tick.
    private func flushWritten() {
        isFlushQueued = false
        let channels = unflushed
        unflushed.removeAll(keepingCapacity: true)
        for channel in channels {
            counters.flushes &+= 1
            channel.flush()
        }
    }

    private func connect(_ peer: NodeID, address: SocketAddress) {
        connections[peer] = .connecting
        counters.connects &+= 1
        ClientBootstrap(group: eventLoop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .connectTimeout(.seconds(1))
            .channelInitializer { channel in
                // Outgoing connections only write; anything read is ignored.
                channel.eventLoop.makeSucceededVoidFuture()
            }
            .connect(to: address)
            .hop(to: eventLoop)
            .whenComplete { result in
                guard self.peers[peer] == address, case .connecting = self.connections[peer] else {
                    if case .success(let channel) = result { channel.close(promise: nil) }
                    return
                }
                switch result {
                case .success(let channel):
                    if self.isClosed {
                        channel.close(promise: nil)
                        return
                    }
                    self.connections[peer] = .connected(channel)
                    channel.closeFuture.hop(to: self.eventLoop).whenComplete { _ in
                        if case .connected(let current) = self.connections[peer], current === channel {
                            self.connections[peer] = .failed(at: .now())
                        }
                    }
                case .failure:
                    self.connections[peer] = .failed(at: .now())
                }
            }
    }

    fileprivate func registerAccepted(_ child: any Channel) {
        let key = ObjectIdentifier(child)
        accepted[key] = child
        child.closeFuture.whenComplete { _ in self.accepted[key] = nil }
    }

    fileprivate func countReceived(valid: Bool) {
        if valid { counters.received &+= 1 } else { counters.rejected &+= 1 }
    }
}

public enum PeerChannelError: Error, Sendable, CustomStringConvertible {
    case noLocalAddress(host: String, port: Int)
    public var description: String {
        switch self {
        case .noLocalAddress(let host, let port): "the peer listener on \(host):\(port) has no local address"
        }
    }
}

/// Lets the child initializer reach the channel object created after the listener.
private final class ChannelBox: @unchecked Sendable {
    var channel: PeerChannel?
}

/// Decodes frames and hands the messages to the receiver; closes the connection on a bad frame.
private final class PeerInboundHandler: ChannelInboundHandler {
    typealias InboundIn = PeerFrame
    let receiver: PeerChannel.Receiver
    let box: ChannelBox

    init(receiver: @escaping PeerChannel.Receiver, box: ChannelBox) {
        self.receiver = receiver
        self.box = box
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        guard let message = try? PeerMessage(decoding: frame.payload) else {
            box.channel?.countReceived(valid: false)
            context.close(promise: nil)
            return
        }
        box.channel?.countReceived(valid: true)
        receiver(frame.from, message)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        box.channel?.countReceived(valid: false)
        context.close(promise: nil)
    }
}
