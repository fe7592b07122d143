import CMap
import NIOCore
import RESP
import Replication

/// What running one command produced, beyond its replies: things only the connection can do.
struct CommandOutput: Sendable {
    /// Usually one; UNSUBSCRIBE-style commands answer once per channel.
    var replies: [RESPValue]
    /// Close the connection once the replies are out (QUIT).
    var close = false
    /// The parser's limits to use from the next request (after AUTH).
    var newLimits: RESPLimits?
    /// Push streams started by this command (CMAP tracks, and any other service that
    /// pushes): the connection forwards their payloads as pub/sub messages.
    var startedPushes: [StartedPushes] = []

    /// One source of pushes on one channel. `run` calls `emit` once per payload, in order,
    /// and returns when the source ends; the connection cancels it when the client goes.
    struct StartedPushes: Sendable {
        var channel: String
        var run: @Sendable (_ emit: @Sendable (ByteBuffer) async throws -> Void) async throws -> Void
        /// Optional, for busy sources (CPG): hands over several payloads at once, which the
        /// connection writes in one go. When set, the connection uses it instead of `run`.
        var runBatched: (@Sendable (_ emitAll: @Sendable ([ByteBuffer]) async throws -> Void) async throws -> Void)? = nil
    }

    init(_ reply: RESPValue) { self.replies = [reply] }
    init(replies: [RESPValue]) { self.replies = replies }
}

/// Runs client commands against a `NodeService`. Stateless apart from its configuration;
/// the per-connection state is the `Session` passed in.
struct CommandDispatcher: Sendable {
    let service: any NodeService
    let password: [UInt8]?
    let limits: RESPLimits
    /// The largest value SET, CMAP.SET and CMAP.CAS accept (`store.max_value_bytes`).
    let valueBytesMax: Int
    let stats: ClientServerStats

    /// Commands accepted before AUTH (Redis allows these too).
    private static func allowedUnauthenticated(_ command: RESPCommand) -> Bool {
        command.isNamed("AUTH") || command.isNamed("QUIT") || command.isNamed("HELLO")
    }

    func execute(_ command: RESPCommand, session: inout Session) async -> CommandOutput {
        guard command.count > 0 else { return CommandOutput(CommandReplies.syntax) }
        if !session.isAuthenticated && !Self.allowedUnauthenticated(command) {
            return CommandOutput(CommandReplies.noAuth)
        }
        if let prepared = prepare(command, session: &session) {
            var replies: [ReplicatedNode.ClientReply] = []
            for request in prepared.requests { replies.append(await service.execute(request)) }
            return CommandOutput(prepared.reply(replies))
        }
        if let output = connectionCommand(command, session: &session) { return output }
        if let reply = await keyValueCommand(command, session: &session) { return CommandOutput(reply) }
        if let output = await processGroupCommand(command, session: &session) { return output }
        if let output = await cmapCommand(command, session: &session) { return output }
        if let output = await quorumCommand(command, session: &session) { return output }
        if let reply = await adminCommand(command, session: session) { return CommandOutput(reply) }
        return CommandOutput(CommandReplies.unknownCommand(command))
    }

    /// Commands answered from the session alone (PING and ECHO are prepared).
    private func connectionCommand(_ command: RESPCommand, session: inout Session) -> CommandOutput? {
        let n = command.count
        if command.isNamed("QUIT") {
            var output = CommandOutput(.ok)
            output.close = true
            return output
        }
        if command.isNamed("AUTH") { return auth(command, session: &session) }
        if command.isNamed("HELLO") { return CommandOutput(hello(command, session: session)) }
        if command.isNamed("SELECT") {
            guard n == 2 else { return CommandOutput(CommandReplies.wrongArity("select")) }
            guard let db = CommandReplies.integer(command[1]) else { return CommandOutput(CommandReplies.notInteger) }
            return CommandOutput(db == 0 ? .ok : .error("ERR DB index is out of range (TotemKV has only database 0)"))
        }
        if command.isNamed("READMODE") {
            if n == 1 { return CommandOutput(.bulk(session.readMode == .linearizable ? "linearizable" : "stale")) }
            guard n == 2 else { return CommandOutput(CommandReplies.wrongArity("readmode")) }
            if command.argument(1, is: "LINEARIZABLE") {
                session.readMode = .linearizable
            } else if command.argument(1, is: "STALE") {
                session.readMode = .stale
            } else {
                return CommandOutput(.error("ERR invalid read mode '\(CommandReplies.text(command[1]))': use linearizable or stale"))
            }
            return CommandOutput(.ok)
        }
        if command.isNamed("CLIENT") { return CommandOutput(client(command, session: &session)) }
        return nil
    }

    private func auth(_ command: RESPCommand, session: inout Session) -> CommandOutput {
        guard command.count == 2 || command.count == 3 else { return CommandOutput(CommandReplies.wrongArity("auth")) }
        guard let password else {
            return CommandOutput(.error("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?"))
        }
        let userOK = command.count == 2 || command.argument(1, is: "default")
        let given = CommandReplies.bytes(command[command.count - 1])
        guard userOK, Self.equalInConstantTime(given, password) else {
            return CommandOutput(.error("WRONGPASS invalid username-password pair or user is disabled."))
        }
        var output = CommandOutput(.ok)
        if !session.isAuthenticated { output.newLimits = limits }
        session.isAuthenticated = true
        return output
    }

    /// Compares without returning early at the first differing byte, so the time taken does
    /// not tell a guesser how much of the password was right.
    static func equalInConstantTime(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var difference = UInt8(truncatingIfNeeded: a.count ^ b.count)
        for i in 0..<max(a.count, b.count) {
            difference |= (i < a.count ? a[i] : 0) ^ (i < b.count ? b[i] : 0)
        }
        return difference == 0 && a.count == b.count
    }

    private func hello(_ command: RESPCommand, session: Session) -> RESPValue {
        if command.count >= 2 {
            guard let version = CommandReplies.integer(command[1]) else {
                return .error("ERR Protocol version is not an integer or out of range")
            }
            guard version == 2 else { return .error("NOPROTO unsupported protocol version") }
        }
        guard session.isAuthenticated else { return CommandReplies.noAuth }
        return .array([
            .bulk("server"), .bulk("totemkv"), .bulk("version"), .bulk(ClientServerInfo.version),
            .bulk("proto"), .integer(2), .bulk("id"), .integer(Int64(truncatingIfNeeded: session.connectionNumber)),
            .bulk("mode"), .bulk("cluster"), .bulk("role"), .bulk("master"), .bulk("modules"), .array([]),
        ])
    }

    private func client(_ command: RESPCommand, session: inout Session) -> RESPValue {
        guard command.count >= 2 else { return CommandReplies.wrongArity("client") }
        if command.argument(1, is: "SETNAME") {
            guard command.count == 3 else { return CommandReplies.wrongArity("client|setname") }
            let name = CommandReplies.bytes(command[2])
            guard name.count <= 256, !name.contains(where: { $0 <= 0x20 || $0 >= 0x7f }) else {
                return .error("ERR Client names cannot contain spaces, newlines or special characters.")
            }
            session.name = String(decoding: name, as: UTF8.self)
            return .ok
        }
        if command.argument(1, is: "GETNAME") {
            return session.name.isEmpty ? .nullBulkString : .bulk(session.name)
        }
        if command.argument(1, is: "ID") { return .integer(Int64(truncatingIfNeeded: session.connectionNumber)) }
        // Client libraries announce themselves; accepted and ignored.
        if command.argument(1, is: "SETINFO") { return .ok }
        return .error("ERR unknown subcommand '\(CommandReplies.text(command[1]))'. Try CLIENT SETNAME, GETNAME or ID.")
    }

    /// Runs one request against the node and turns failures into their replies.
    func run(_ request: ReplicatedNode.ClientRequest) async -> Result<CMapResult, RESPValue> {
        PreparedCommand.outcome(await service.execute(request))
    }

    func write(_ op: CMapOperation, session: inout Session) async -> Result<CMapResult, RESPValue> {
        await run(.write(op, clientID: session.clientID, clientSeq: session.nextClientSeq()))
    }

    func read(_ op: CMapOperation, session: Session) async -> Result<CMapResult, RESPValue> {
        await run(.read(op, session.readMode))
    }
}

/// Static facts the server reports.
enum ClientServerInfo {
    static let version = "0.1.0"
}
