import NIOCore
import NIOPosix
import RESP

/// A minimal RESP client over TCP, for the `totemkv` client verbs and for tests of the
/// client server. Use it inside `RESPClient.withConnection`; it is not shared between tasks.
public struct RESPClient {
    public enum ClientError: Error, CustomStringConvertible {
        case connectionClosed
        case protocolError(RESPError)
        public var description: String {
            switch self {
            case .connectionClosed: "the server closed the connection"
            case .protocolError(let error): "bad reply from the server: \(error.message)"
            }
        }
    }

    private var inbound: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    private let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    private var parser = RESPReplyParser()
    private var buffer = ByteBuffer()

    private init(inbound: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator,
                 outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>) {
        self.inbound = inbound
        self.outbound = outbound
    }

    /// Connects, runs `body`, closes. With a `timeout`, the connection is closed when it
    /// runs out, so a read that would wait forever ends with `connectionClosed`.
    public static func withConnection<T: Sendable>(
        host: String, port: Int, timeout: Duration? = nil, on group: EventLoopGroup,
        _ body: (inout RESPClient) async throws -> T
    ) async throws -> T {
        let channel = try await ClientBootstrap(group: group)
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .connect(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        let raw = channel.channel
        let watchdog: Task<Void, Never>? = timeout.map { timeout in
            Task {
                // Not a pause in the logic: the bound after which a stuck exchange is ended.
                guard (try? await Task.sleep(for: timeout)) != nil else { return }
                raw.close(promise: nil)
            }
        }
        defer { watchdog?.cancel() }
        return try await channel.executeThenClose { inbound, outbound in
            var client = RESPClient(inbound: inbound.makeAsyncIterator(), outbound: outbound)
            return try await body(&client)
        }
    }

    /// Sends a command as an array of bulk strings.
    public mutating func send(_ arguments: [String]) async throws {
        try await sendRaw(RESPCommand(strings: arguments).encodedBuffer)
    }

    /// Sends bytes as they are (inline commands, malformed input in tests).
    public mutating func sendRaw(_ bytes: ByteBuffer) async throws {
        try await outbound.write(bytes)
    }

    public mutating func sendRaw(_ text: String) async throws {
        try await sendRaw(ByteBuffer(string: text))
    }

    /// The next reply, or nil when the server closed the connection.
    public mutating func read() async throws -> RESPValue? {
        while true {
            do {
                if let value = try parser.next(&buffer) { return value }
            } catch {
                throw ClientError.protocolError(error)
            }
            let chunk: ByteBuffer?
            do {
                chunk = try await inbound.next()
            } catch {
                return nil
            }
            guard var chunk else { return nil }
            buffer.writeBuffer(&chunk)
        }
    }

    /// Sends a command and reads its reply.
    public mutating func call(_ arguments: [String]) async throws -> RESPValue {
        try await send(arguments)
        guard let reply = try await read() else { throw ClientError.connectionClosed }
        return reply
    }
}

extension RESPCommand {
    var encodedBuffer: ByteBuffer {
        var buffer = ByteBuffer()
        encode(into: &buffer)
        return buffer
    }
}

extension RESPValue {
    /// The value as redis-cli prints it: `OK`, `(integer) 1`, `"text"`, `(nil)`,
    /// `(error) ERR ...`, numbered lines for arrays.
    public func cliText(indent: Int = 0) -> String {
        switch self {
        case .simpleString(let text): return text
        case .error(let message): return "(error) " + message
        case .integer(let value): return "(integer) \(value)"
        case .nullBulkString, .nullArray: return "(nil)"
        case .bulkString(let bytes): return RESPValue.quoted(Array(bytes.readableBytesView))
        case .array(let elements):
            if elements.isEmpty { return "(empty array)" }
            let width = String(elements.count).count
            var lines: [String] = []
            for (offset, element) in elements.enumerated() {
                let number = String(offset + 1)
                let label = String(repeating: " ", count: width - number.count) + number + ") "
                let pad = offset == 0 ? "" : String(repeating: " ", count: indent)
                lines.append(pad + label + element.cliText(indent: indent + label.count))
            }
            return lines.joined(separator: "\n")
        }
    }

    /// Quoted like redis-cli: printable ASCII as is, `\"` `\\` `\n` `\r` `\t`, else `\xHH`.
    static func quoted(_ bytes: [UInt8]) -> String {
        var text = "\""
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "\""): text += "\\\""
            case UInt8(ascii: "\\"): text += "\\\\"
            case UInt8(ascii: "\n"): text += "\\n"
            case UInt8(ascii: "\r"): text += "\\r"
            case UInt8(ascii: "\t"): text += "\\t"
            case 0x20..<0x7f: text += String(UnicodeScalar(byte))
            default:
                let hex = Array("0123456789abcdef")
                text += "\\x" + String(hex[Int(byte >> 4)]) + String(hex[Int(byte & 0xf)])
            }
        }
        return text + "\""
    }
}
