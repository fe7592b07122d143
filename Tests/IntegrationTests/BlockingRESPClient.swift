import Foundation

/// A reply as a Redis client sees it.
enum Reply: Equatable, CustomStringConvertible {
    case simple(String)
    case error(String)
    case integer(Int64)
    case bulk([UInt8]?)
    case array([Reply]?)

    static let ok = Reply.simple("OK")
    static let null = Reply.bulk(nil)
    static func text(_ string: String) -> Reply { .bulk(Array(string.utf8)) }
    static func texts(_ strings: String...) -> Reply { .array(strings.map { .text($0) }) }

    var string: String? {
        switch self {
        case .simple(let s), .error(let s): s
        case .bulk(let bytes?): String(decoding: bytes, as: UTF8.self)
        case .integer(let n): String(n)
        default: nil
        }
    }

    var isError: Bool { if case .error = self { true } else { false } }
    /// The first word of an error reply (`NOQUORUM`, `ERR`, ...); nil for other replies.
    var errorCode: String? {
        if case .error(let message) = self { message.split(separator: " ").first.map(String.init) } else { nil }
    }
    var elements: [Reply] { if case .array(let items?) = self { items } else { [] } }
    var integer: Int64? { if case .integer(let n) = self { n } else { nil } }

    /// A flat [name, value, ...] array as pairs.
    var pairs: [String: Reply] {
        var result: [String: Reply] = [:]
        let items = elements
        var i = 0
        while i + 1 < items.count {
            if let name = items[i].string { result[name] = items[i + 1] }
            i += 2
        }
        return result
    }

    var description: String {
        switch self {
        case .simple(let s): "+\(s)"
        case .error(let s): "-\(s)"
        case .integer(let n): ":\(n)"
        case .bulk(nil), .array(nil): "(nil)"
        case .bulk(let bytes?): bytes.count > 80 ? "$<\(bytes.count) bytes>" : "\"\(String(decoding: bytes, as: UTF8.self))\""
        case .array(let items?): "[" + items.map(\.description).joined(separator: ", ") + "]"
        }
    }
}

/// A blocking RESP client over a POSIX socket, for tests against real `totemkv node`
/// processes (the integration tests link no server code). Every read is bounded by the
/// socket's receive timeout: a reply that never comes is an error, not a hang.
final class BlockingRESPClient {
    enum ClientError: Error, CustomStringConvertible {
        case connect(port: Int, errno: Int32)
        case closed
        case timedOut
        case malformed(String)
        var description: String {
            switch self {
            case .connect(let port, let code): "connect to 127.0.0.1:\(port) failed: \(String(cString: strerror(code)))"
            case .closed: "the server closed the connection"
            case .timedOut: "no reply within the receive timeout"
            case .malformed(let what): "malformed reply: \(what)"
            }
        }
    }

    private var fd: Int32
    private var buffer: [UInt8] = []
    private var position = 0

    init(port: Int, host: String = "127.0.0.1", timeoutSeconds: Int = 30) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr(host)
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Foundation.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        if result != 0 {
            let code = errno
            Foundation.close(fd)
            throw ClientError.connect(port: port, errno: code)
        }
    }

    deinit { close() }

    func close() {
        if fd >= 0 { Foundation.close(fd) }
        fd = -1
    }

    /// RESP encoding of a command (an array of bulk strings).
    static func encode(_ arguments: [[UInt8]]) -> [UInt8] {
        var out = Array("*\(arguments.count)\r\n".utf8)
        for argument in arguments {
            out += Array("$\(argument.count)\r\n".utf8)
            out += argument
            out += [13, 10]
        }
        return out
    }

    static func encode(_ arguments: [String]) -> [UInt8] { encode(arguments.map { Array($0.utf8) }) }

    func sendRaw(_ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { Foundation.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw ClientError.closed }
            sent += n
        }
    }

    func send(_ arguments: [String]) throws { try sendRaw(Self.encode(arguments)) }

    func call(_ arguments: [String]) throws -> Reply {
        try send(arguments)
        return try read()
    }

    /// Sends every command in one write, then reads one reply each.
    func pipeline(_ commands: [[String]]) throws -> [Reply] {
        try sendRaw(commands.flatMap { Self.encode($0) })
        return try commands.map { _ in try read() }
    }

    /// The next reply; throws `closed` at the end of the stream.
    func read() throws -> Reply {
        let line = try readLine()
        guard let kind = line.first else { throw ClientError.malformed("empty line") }
        let rest = String(decoding: line.dropFirst(), as: UTF8.self)
        switch kind {
        case UInt8(ascii: "+"): return .simple(rest)
        case UInt8(ascii: "-"): return .error(rest)
        case UInt8(ascii: ":"):
            guard let n = Int64(rest) else { throw ClientError.malformed("integer \(rest)") }
            return .integer(n)
        case UInt8(ascii: "$"):
            guard let length = Int(rest), length >= -1 else { throw ClientError.malformed("bulk length \(rest)") }
            if length == -1 { return .bulk(nil) }
            let bytes = try readBytes(length + 2)
            return .bulk(Array(bytes.prefix(length)))
        case UInt8(ascii: "*"):
            guard let count = Int(rest), count >= -1 else { throw ClientError.malformed("array length \(rest)") }
            if count == -1 { return .array(nil) }
            return .array(try (0..<count).map { _ in try read() })
        default:
            throw ClientError.malformed("type byte \(kind)")
        }
    }

    /// True when the server closed the connection (the next read sees the end of stream).
    func isClosedByServer() -> Bool {
        do {
            _ = try fill()
            return false
        } catch ClientError.closed {
            return true
        } catch {
            return false
        }
    }

    private func readLine() throws -> ArraySlice<UInt8> {
        while true {
            if let end = buffer[position...].firstIndex(of: 10), end > position, buffer[end - 1] == 13 {
                let line = buffer[position..<(end - 1)]
                position = end + 1
                return line
            }
            try fill()
        }
    }

    private func readBytes(_ count: Int) throws -> ArraySlice<UInt8> {
        while buffer.count - position < count { try fill() }
        defer { position += count }
        return buffer[position..<(position + count)]
    }

    @discardableResult
    private func fill() throws -> Int {
        if position > 0 && position == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            position = 0
        }
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n == 0 { throw ClientError.closed }
        if n < 0 { throw errno == EAGAIN || errno == EWOULDBLOCK ? ClientError.timedOut : ClientError.closed }
        buffer += chunk[0..<n]
        return n
    }
}
