import ArgumentParser
import Node
import RESP

/// `totemkv cpg`: closed process groups from the shell, in the spirit of corosync's `testcpg`
/// (join, then print every message and membership change as it is delivered) and
/// `corosync-cpgtool` (a group's members). Each verb is one client connection; docs/cpg.md
/// describes the commands underneath.
struct CPGCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cpg",
        abstract: "Join, multicast to and list closed process groups (CPG.JOIN, CPG.MCAST, CPG.MEMBERS).",
        subcommands: [CPGJoinCommand.self, CPGSendCommand.self, CPGMembersCommand.self])
}

/// One CPG notification as the verbs print it: `<group> <text>`, the text being what the
/// server pushes (`message <node>:<connection> <payload>`, `confchg ...` or `dropped: ...`).
struct CPGPush {
    var group: String
    var text: String

    /// A push in the pub/sub shape `[message, cpg:<group>, <text>]`; nil for anything else
    /// (the `subscribe` reply to a join, or a CMAP push).
    init?(_ value: RESPValue) {
        guard case .array(let parts) = value, parts.count == 3, parts[0].string == "message",
              let channel = parts[1].string, channel.hasPrefix("cpg:"), let text = parts[2].string else { return nil }
        group = String(channel.dropFirst(4))
        self.text = text
    }

    /// Sends a command and returns its reply. Pushes may come before a reply on the same
    /// connection (a join's own confchg, other members' messages); each is handed to `onPush`
    /// in order, so nothing is lost or taken for the reply. Bounded by what the server sends.
    static func reply(_ client: inout RESPClient, to arguments: [String],
                      onPush: (CPGPush) -> Void) async throws -> RESPValue {
        try await client.send(arguments)
        while let value = try await client.read() {
            guard let push = CPGPush(value) else { return value }
            onPush(push)
        }
        throw ClientVerbError.connection("the server closed the connection")
    }
}

struct CPGJoinCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "join",
        abstract: "Join groups and print their messages and membership changes as they are delivered, like testcpg.")
    @OptionGroup var connection: ConnectionOptions
    @Option(help: "Exit after this many notifications (default: run until interrupted).") var count: Int?
    @Argument(help: "The groups to join (one connection can be in up to 64).") var groups: [String]

    func validate() throws {
        if groups.isEmpty { throw ValidationError("give at least one group") }
        if let count, count < 1 { throw ValidationError("--count must be at least 1") }
    }

    func run() async throws {
        try await connection.withClient { client throws in
            var printed = 0
            let show = { (push: CPGPush) in
                print("\(push.group) \(push.text)")
                printed += 1
            }
            for group in groups {
                let reply = try await CPGPush.reply(&client, to: ["CPG.JOIN", group], onPush: show)
                if case .error(let message) = reply { throw ClientVerbError.server(message) }
            }
            // Runs until the server closes the connection, the user interrupts, or --count.
            while count.map({ printed < $0 }) ?? true, let value = try await client.read() {
                if let push = CPGPush(value) { show(push) }
            }
        }
    }
}

struct CPGSendCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "send",
        abstract: "Join a group, multicast messages to it, wait until they come back in the group's order, and leave.")
    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "The group.") var group: String
    @Argument(help: "The messages, one multicast each.") var messages: [String]

    func validate() throws { if messages.isEmpty { throw ValidationError("give at least one message") } }

    func run() async throws {
        try await connection.withClient { client throws in
            guard case .integer(let id) = try await client.call(["CLIENT", "ID"]) else {
                throw ClientVerbError.server("CLIENT ID did not answer an integer")
            }
            // A member is (node id, connection id); connection ids are per node.
            let node = try QuorumCommand.fields(try await client.call(["QUORUM.INFO"])).integer("node_id")
            let member = "\(node):\(id)"
            let own = "message \(member) "
            var delivered = 0
            let count = { (push: CPGPush) in if push.group == group, push.text.hasPrefix(own) { delivered += 1 } }
            for arguments in [["CPG.JOIN", group]] + messages.map({ ["CPG.MCAST", group, $0] }) {
                if case .error(let message) = try await CPGPush.reply(&client, to: arguments, onPush: count) {
                    throw ClientVerbError.server(message)
                }
            }
            // The member's own messages come back to it in the group's total order, which is
            // the confirmation that the group's members received them.
            while delivered < messages.count, let value = try await client.read() {
                if let push = CPGPush(value) { count(push) }
            }
            guard delivered == messages.count else {
                throw ClientVerbError.connection(
                    "the server closed the connection after \(delivered) of \(messages.count) messages came back")
            }
            print("delivered \(delivered) message\(delivered == 1 ? "" : "s") to \(group) as member \(member)")
            _ = try await client.call(["CPG.LEAVE", group])
        }
    }
}

struct CPGMembersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "members", abstract: "Print a group's members as node:connection, one per line (CPG.MEMBERS).")
    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "The group.") var group: String

    func run() async throws {
        let reply = try await connection.withClient { client throws in try await client.call(["CPG.MEMBERS", group]) }
        if case .error(let message) = reply { throw ClientVerbError.server(message) }
        guard case .array(let members) = reply else { throw ClientVerbError.server("CPG.MEMBERS answered \(reply.cliText())") }
        for member in members { print(member.string ?? member.cliText()) }
    }
}
