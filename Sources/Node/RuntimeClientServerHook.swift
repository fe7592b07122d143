import NIOCore

/// Where `totemkv node` starts the RESP client server (Sources/Node/ClientServer.swift).
public enum RuntimeClientServerHook {
    /// Starts the client server and returns its handle (kept alive by the caller).
    public static func start(service: any NodeService, host: String, port: Int, password: String?,
                             on group: any EventLoopGroup) async throws -> Any? {
        return try await startClientServer(service: service, host: host, port: port, password: password, on: group)
    }
}
