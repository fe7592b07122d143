import NIOCore

/// Where `totemkv node` starts the RESP client server (Sources/Node/ClientServer.swift).
public enum RuntimeClientServerHook {
    /// Starts the client server and returns its handle (kept alive by the caller).
    /// `valueBytesMax` is the store's `max_value_bytes`: longer values are refused, and the
    /// parser's bulk limit follows it (`RESPLimits.forValues`).
    public static func start(service: any NodeService, host: String, port: Int, password: String?,
                             valueBytesMax: Int = 1 << 20, on group: any EventLoopGroup) async throws -> Any? {
        return try await startClientServer(service: service, host: host, port: port, password: password,
                                           limits: .forValues(upTo: valueBytesMax), valueBytesMax: valueBytesMax,
                                           on: group)
    }
}
