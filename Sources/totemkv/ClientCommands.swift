import ArgumentParser
import Foundation
import NIOPosix
import Node
import RESP

/// Where a client verb connects: `--host`/`--port` (`-h`/`-p` as in redis-cli), defaulting
/// to node 1 of the local cluster of `totemkv up` (127.0.0.1:7379; its nodes take 7379 and up).
struct ConnectionOptions: ParsableArguments {
    @Option(name: [.customShort("h"), .long], help: "The node's client address.")
    var host = "127.0.0.1"

    @Option(name: [.short, .long], help: "The node's client port.")
    var port = 7379

    @Option(name: [.customShort("a"), .long], help: "The cluster's client password (sent with AUTH).")
    var password: String?

    /// Connects, authenticates when a password is given, runs `body`.
    func withClient<T: Sendable>(_ body: (inout RESPClient) async throws -> T) async throws -> T {
        do {
            return try await RESPClient.withConnection(
                host: host, port: port, on: MultiThreadedEventLoopGroup.singleton
            ) { client throws in
                if let password {
                    let reply = try await client.call(["AUTH", password])
                    if case .error(let message) = reply { throw ClientVerbError.server(message) }
                }
                return try await body(&client)
            }
        } catch let error as ClientVerbError {
            throw error
        } catch {
            throw ClientVerbError.connection("cannot talk to \(host):\(port): \(error)")
        }
    }

    /// Runs one command and prints its reply like redis-cli; an error reply fails the verb.
    func runPrinting(_ arguments: [String]) async throws {
        let reply = try await withClient { client throws in try await client.call(arguments) }
        if case .error(let message) = reply { throw ClientVerbError.server(message) }
        print(reply.cliText())
    }
}

enum ClientVerbError: Error, CustomStringConvertible {
    case server(String)
    case connection(String)
    var description: String {
        switch self {
        case .server(let message): "(error) " + message
        case .connection(let message): message
        }
    }
}

/// The client verbs, each one command on one connection.
struct GetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "get", abstract: "Print a key's value (GET).")
    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "The key.") var key: String
    func run() async throws { try await connection.runPrinting(["GET", key]) }
}

struct SetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "set", abstract: "Set a key to a string value (SET).")
    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "The key: 1 to 255 bytes of A-Z a-z 0-9 _ . / : -") var key: String
    @Argument(help: "The value.") var value: String
    func run() async throws { try await connection.runPrinting(["SET", key, value]) }
}

struct DelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "del", abstract: "Delete keys (DEL); prints how many existed.")
    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "The keys.") var keys: [String]
    func validate() throws { if keys.isEmpty { throw ValidationError("give at least one key") } }
    func run() async throws { try await connection.runPrinting(["DEL"] + keys) }
}

struct KeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "keys", abstract: "List keys matching prefix* (KEYS).")
    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "A pattern: a prefix followed by '*', or '*'.") var pattern = "*"
    func run() async throws { try await connection.runPrinting(["KEYS", pattern]) }
}

struct CMapSetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cmap-set", abstract: "Set a typed key (CMAP.SET), like corosync-cmapctl -s.")
    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "The key.") var key: String
    @Argument(help: "The type: i8 u8 i16 u16 i32 u32 i64 u64 flt dbl str bin.") var type: String
    @Argument(help: "The value.") var value: String
    func run() async throws { try await connection.runPrinting(["CMAP.SET", key, type, value]) }
}

struct CMapGetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cmap-get", abstract: "Print a typed key as `key (type) = value` (CMAP.GET), like corosync-cmapctl -g.")
    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "The key.") var key: String
    func run() async throws {
        let reply = try await connection.withClient { client throws in try await client.call(["CMAP.GET", key]) }
        switch reply {
        case .error(let message): throw ClientVerbError.server(message)
        case .array(let parts) where parts.count == 3:
            print("\(key) (\(parts[0].string ?? "?")) = \(parts[1].string ?? "")")
        default:
            throw ClientVerbError.server("ERR no such key '\(key)'")
        }
    }
}

struct CMapListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cmap", abstract: "List keys as `key (type) = value` (CMAP.ITER), like corosync-cmapctl.")
    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "Only keys with this prefix.") var prefix = ""
    /// Bounds the listing (pages of 100 keys).
    static let pagesMax = 100_000

    func run() async throws {
        try await connection.withClient { client throws in
            var cursor = ""
            for _ in 0..<Self.pagesMax {
                let reply = try await client.call(["CMAP.ITER", prefix, cursor])
                guard case .array(let parts) = reply, parts.count == 2, case .array(let entries) = parts[1] else {
                    if case .error(let message) = reply { throw ClientVerbError.server(message) }
                    throw ClientVerbError.server("ERR unexpected CMAP.ITER reply")
                }
                for case .array(let entry) in entries where entry.count == 3 {
                    print("\(entry[0].string ?? "") (\(entry[1].string ?? "")) = \(entry[2].string ?? "")")
                }
                cursor = parts[0].string ?? ""
                if cursor.isEmpty { return }
            }
        }
    }
}

struct TrackCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "track", abstract: "Print changes of keys with a prefix as they commit (CMAP.TRACK), like corosync-cmapctl -t.")
    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "The prefix (empty = every key).") var prefix = ""

    func run() async throws {
        try await connection.withClient { client throws in
            let reply = try await client.call(["CMAP.TRACK", prefix])
            if case .error(let message) = reply { throw ClientVerbError.server(message) }
            // Runs until the server closes the connection or the user interrupts.
            while let push = try await client.read() {
                if case .array(let parts) = push, parts.count == 3 { print(parts[2].string ?? "") }
            }
        }
    }
}

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "Print the node's ring, members and quorum (RING.STATUS, QUORUM.INFO, LOG.INFO).")
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        try await connection.withClient { client throws in
            for command in ["RING.STATUS", "QUORUM.INFO", "LOG.INFO"] {
                let reply = try await client.call([command])
                guard case .array(let pairs) = reply else {
                    if case .error(let message) = reply { throw ClientVerbError.server(message) }
                    continue
                }
                print("== \(command)")
                var index = 0
                while index + 1 < pairs.count {
                    print("\(pairs[index].string ?? ""): \(Self.inline(pairs[index + 1]))")
                    index += 2
                }
            }
        }
    }

    static func inline(_ value: RESPValue) -> String {
        switch value {
        case .integer(let n): String(n)
        case .array(let elements): "[" + elements.map(inline).joined(separator: ", ") + "]"
        default: value.string ?? value.cliText()
        }
    }
}

/// `totemkv cli`: reads lines from standard input, splits them like redis-cli (quotes and
/// escapes as the server's inline commands), sends each as a command and prints the reply.
struct CLICommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cli", abstract: "An interactive line client, like redis-cli.")
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        let prompt = "\(connection.host):\(connection.port)> "
        try await connection.withClient { client throws in
            // One line per loop; ends at end of input or QUIT.
            while true {
                FileHandle.standardOutput.write(Data(prompt.utf8))
                guard let line = readLine(strippingNewline: true) else { return }
                guard !line.allSatisfy(\.isWhitespace) else { continue }
                // The server splits inline lines itself, quotes and escapes as redis-cli does. A
                // leading space keeps a line starting with `*` from being taken for a RESP array.
                try await client.sendRaw((line.hasPrefix("*") ? " " : "") + line + "\r\n")
                guard let reply = try await client.read() else {
                    FileHandle.standardOutput.write(Data("the server closed the connection\n".utf8))
                    return
                }
                // Written the same way as the prompt, so the two never come out of order.
                FileHandle.standardOutput.write(Data((reply.cliText() + "\n").utf8))
                if line.trimmingCharacters(in: .whitespaces).uppercased() == "QUIT" { return }
            }
        }
    }
}
