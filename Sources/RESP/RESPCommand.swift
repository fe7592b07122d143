import NIOCore

/// One client request: its arguments, the command name first. Arguments are binary-safe.
///
/// Arguments parsed from a RESP array are slices of the connection's receive buffer (no
/// copy). A caller that keeps one beyond the current read (a value waiting to be committed)
/// should copy it, so that the receive buffer can be reused rather than copied on its next
/// write.
public struct RESPCommand: Hashable, Sendable, CustomStringConvertible {
    public var arguments: [ByteBuffer]

    public init(_ arguments: [ByteBuffer]) {
        self.arguments = arguments
    }

    /// A command from UTF-8 strings, for tests and for our own client.
    public init(strings: [String]) {
        self.arguments = strings.map { ByteBuffer(string: $0) }
    }

    /// The number of arguments, the command name included.
    public var count: Int { arguments.count }

    public subscript(index: Int) -> ByteBuffer { arguments[index] }

    /// The command name in upper case (ASCII letters only are folded), or "" for none.
    public var name: String {
        guard let first = arguments.first else { return "" }
        return String(decoding: first.readableBytesView.map { RESPCommand.upper($0) }, as: UTF8.self)
    }

    /// Whether argument `index` equals `word` ignoring ASCII case (`SET`, `set`, `Set`).
    /// Allocates nothing; the usual way to dispatch on a command name or an option.
    public func argument(_ index: Int, is word: StaticString) -> Bool {
        guard index >= 0, index < arguments.count else { return false }
        let argument = arguments[index]
        guard argument.readableBytes == word.utf8CodeUnitCount else { return false }
        return word.withUTF8Buffer { expected in
            argument.withUnsafeReadableBytes { actual in
                for offset in 0..<expected.count
                where RESPCommand.upper(actual[offset]) != RESPCommand.upper(expected[offset]) {
                    return false
                }
                return true
            }
        }
    }

    /// Whether the command name is `word`, ignoring ASCII case.
    public func isNamed(_ word: StaticString) -> Bool { argument(0, is: word) }

    /// The sum of the arguments' lengths.
    public var argumentBytes: Int { arguments.reduce(0) { $0 &+ $1.readableBytes } }

    /// Appends the command as a RESP array of bulk strings, the form clients send.
    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeRESPArrayHeader(count: arguments.count)
        for argument in arguments { buffer.writeRESPBulkString(argument) }
    }

    public var description: String {
        arguments.map { String(decoding: $0.readableBytesView, as: UTF8.self) }.joined(separator: " ")
    }

    @inline(__always)
    static func upper(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z") ? byte &- 32 : byte
    }
}
