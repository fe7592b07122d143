import NIOCore
import NIOPosix
import Node
import RESP

/// A client server over a `FakeNodeService` on 127.0.0.1 with an ephemeral port, and
/// clients connected to it. Every exchange is bounded: a client's connection is closed after
/// `clientTimeout`, so a reply that never comes fails the test instead of hanging it.
struct ClientServerFixture {
    static let clientTimeout: Duration = .seconds(20)

    let service: FakeNodeService
    let port: Int

    static func run(
        password: String? = nil, limits: RESPLimits = .init(), valueBytesMax: Int = 1 << 20,
        _ body: (ClientServerFixture) async throws -> Void
    ) async throws {
        let service = FakeNodeService()
        let handle = try await startClientServer(
            service: service, host: "127.0.0.1", port: 0, password: password, limits: limits,
            valueBytesMax: valueBytesMax, on: MultiThreadedEventLoopGroup.singleton)
        do {
            try await body(ClientServerFixture(service: service, port: handle.localPort))
        } catch {
            await handle.close()
            throw error
        }
        await handle.close()
    }

    func client<T: Sendable>(_ body: (inout RESPClient) async throws -> T) async throws -> T {
        try await RESPClient.withConnection(
            host: "127.0.0.1", port: port, timeout: Self.clientTimeout, on: MultiThreadedEventLoopGroup.singleton, body)
    }
}

extension RESPValue {
    static func bulks(_ texts: String...) -> RESPValue { .array(texts.map { .bulk($0) }) }

    /// The error's text, or nil.
    var errorText: String? {
        if case .error(let text) = self { return text }
        return nil
    }
}
