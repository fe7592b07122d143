import NIOCore

/// Where `totemkv node` starts the RESP client server. The server lives in
/// Sources/Node/ClientServer.swift (another engineer's area); until it is merged this hook
/// starts nothing and the node runs without a client port.
///
/// INTEGRATION (one line): replace `return nil` below with
///     return try await startClientServer(service: service, host: host, port: port, password: password, on: group)
public enum RuntimeClientServerHook {
    /// Starts the client server and returns its handle (kept alive by the caller), or nil
    /// when no client server is built in.
    public static func start(service: any NodeService, host: String, port: Int, password: String?,
                             on group: any EventLoopGroup) async throws -> Any? {
        return nil
    }
}
