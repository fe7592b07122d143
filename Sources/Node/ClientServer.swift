import CMap
import NIOCore
import NIOPosix
import RESP

/// A running client server (RESP over TCP). `close()` stops accepting, closes every client
/// connection and returns when all their tasks have ended.
public final class ClientServerHandle: Sendable {
    /// The port actually bound (useful after binding port 0).
    public let localPort: Int
    private let task: Task<Void, Never>

    init(localPort: Int, task: Task<Void, Never>) {
        self.localPort = localPort
        self.task = task
    }

    public func close() async {
        task.cancel()
        await task.value
    }
}

/// Starts serving Redis-protocol clients for `service` on `host:port` (port 0 = any free
/// port; read `localPort`). With a `password`, a connection must AUTH before anything else
/// and runs with `RESPLimits.unauthenticated` until it does. A value longer than
/// `valueBytesMax` (the store's `max_value_bytes`) is refused before anything is sent.
///
/// Each connection pipelines (`ClientConnection`): its plain requests are sent to the node
/// in request order without waiting for one another, its replies come back in request
/// order, and at most `limits.pendingRequestsMax` requests are unanswered; past that
/// nothing more is read from the socket, so the kernel's buffers push back on the client.
/// An error on one connection closes that connection only.
public func startClientServer(
    service: any NodeService, host: String, port: Int, password: String?,
    limits: RESPLimits = .init(), valueBytesMax: Int = 1 << 20, on group: EventLoopGroup
) async throws -> ClientServerHandle {
    let server = try await ServerBootstrap(group: group)
        .serverChannelOption(ChannelOptions.backlog, value: 256)
        .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
        .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
        .bind(host: host, port: port) { channel in
            channel.eventLoop.makeCompletedFuture {
                try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
            }
        }
    let localPort = server.channel.localAddress?.port ?? port
    let dispatcher = CommandDispatcher(
        service: service, password: password.map { Array($0.utf8) }, limits: limits, valueBytesMax: valueBytesMax,
        stats: ClientServerStats())
    let task = Task<Void, Never> {
        // Cancelling this task (close) ends the accept loop and, through the task group, every
        // connection's loop; `executeThenClose` then closes their channels.
        try? await withThrowingDiscardingTaskGroup { connections in
            try await server.executeThenClose { inbound in
                var connectionNumber: UInt64 = 0
                for try await client in inbound {
                    connectionNumber &+= 1
                    let connection = ClientConnection(
                        dispatcher: dispatcher,
                        session: Session(connectionNumber: connectionNumber, clientID: UInt64.random(in: 1...UInt64.max),
                                         isAuthenticated: password == nil))
                    connections.addTask { await connection.serve(client) }
                }
            }
        }
    }
    return ClientServerHandle(localPort: localPort, task: task)
}
