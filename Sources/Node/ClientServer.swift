import CMap
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import RESP

/// A running client server (RESP over TCP). `close()` stops accepting, closes every client
/// connection and returns when they have released their tracks and process groups.
public final class ClientServerHandle: Sendable {
    /// The port actually bound (useful after binding port 0).
    public let localPort: Int
    private let serverChannel: any Channel
    private let connections: ClientConnections

    init(localPort: Int, serverChannel: any Channel, connections: ClientConnections) {
        self.localPort = localPort
        self.serverChannel = serverChannel
        self.connections = connections
    }

    public func close() async {
        try? await serverChannel.close()
        let open = connections.closeAll()
        for connection in open { connection.channel.close(promise: nil) }
        for connection in open { try? await connection.finished.get() }
    }
}

/// The open connections of one server, so `close` can end them.
final class ClientConnections: Sendable {
    struct Connection: Sendable {
        var channel: any Channel
        var finished: EventLoopFuture<Void>
    }

    private struct State {
        var lastNumber: UInt64 = 0
        var open: [UInt64: Connection] = [:]
        var isClosed = false
    }

    private let state = NIOLockedValueBox(State())

    /// The next connection number (1, 2, ...), for CLIENT ID.
    func nextNumber() -> UInt64 {
        state.withLockedValue { state in
            state.lastNumber &+= 1
            return state.lastNumber
        }
    }

    /// Remembers an open connection until it is finished; false once the server is closed.
    func add(_ number: UInt64, _ connection: Connection) -> Bool {
        let added = state.withLockedValue { state in
            guard !state.isClosed else { return false }
            state.open[number] = connection
            return true
        }
        if added {
            connection.finished.whenComplete { _ in
                self.state.withLockedValue { _ = $0.open.removeValue(forKey: number) }
            }
        }
        return added
    }

    /// Every open connection, oldest first; no more are added.
    func closeAll() -> [Connection] {
        state.withLockedValue { state in
            state.isClosed = true
            return state.open.sorted { $0.key < $1.key }.map(\.value)
        }
    }
}

/// Starts serving Redis-protocol clients for `service` on `host:port` (port 0 = any free
/// port; read `localPort`). With a `password`, a connection must AUTH before anything else
/// and runs with `RESPLimits.unauthenticated` until it does. A value longer than
/// `valueBytesMax` (the store's `max_value_bytes`) is refused before anything is sent.
///
/// Each connection pipelines (`ClientConnectionHandler`): its plain requests are sent to
/// the node in request order without waiting for one another, its replies come back in
/// request order, and at most `limits.pendingRequestsMax` requests are unanswered; past
/// that nothing more is read from the socket, so the kernel's buffers push back on the
/// client. An error on one connection closes that connection only.
///
/// When the service steps requests on an event loop of its own
/// (`PipelinedNodeService.requestEventLoop`: the node runtime), the connections run on that
/// loop, so a request and its reply cross no thread; `group` then only accepts.
public func startClientServer(
    service: any NodeService, host: String, port: Int, password: String?,
    limits: RESPLimits = .init(), valueBytesMax: Int = 1 << 20, on group: EventLoopGroup
) async throws -> ClientServerHandle {
    let dispatcher = CommandDispatcher(
        service: service, password: password.map { Array($0.utf8) }, limits: limits, valueBytesMax: valueBytesMax,
        stats: ClientServerStats())
    let connections = ClientConnections()
    let childGroup: any EventLoopGroup = (service as? any PipelinedNodeService)?.requestEventLoop ?? group
    let server = try await ServerBootstrap(group: group, childGroup: childGroup)
        .serverChannelOption(ChannelOptions.backlog, value: 256)
        .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
        .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
        .childChannelInitializer { channel in
            channel.eventLoop.makeCompletedFuture {
                let number = connections.nextNumber()
                let handler = ClientConnectionHandler(
                    dispatcher: dispatcher,
                    session: Session(connectionNumber: number, clientID: UInt64.random(in: 1...UInt64.max),
                                     isAuthenticated: password == nil),
                    eventLoop: channel.eventLoop)
                try channel.pipeline.syncOperations.addHandler(handler)
                if !connections.add(number, .init(channel: channel, finished: handler.finished.futureResult)) {
                    channel.close(promise: nil)
                }
            }
        }
        .bind(host: host, port: port).get()
    let localPort = server.localAddress?.port ?? port
    return ClientServerHandle(localPort: localPort, serverChannel: server, connections: connections)
}
