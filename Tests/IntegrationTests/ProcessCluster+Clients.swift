import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A blocking RESP client on a plain socket, for the crash tests (this test target has no
/// NIO). Every send and receive is bounded by `timeoutSeconds`; a timeout or a closed
/// connection is a thrown error, never a hang.
final class PlainRESPConnection {
    enum Reply: Equatable {
        case simple(String)
        case error(String)
        case integer(Int64)
        case bulk(String)
        case null
        case array([Reply])

        var isError: Bool { if case .error = self { true } else { false } }
        /// The error's code (its first word), if it is one.
        var errorCode: String? {
            guard case .error(let message) = self else { return nil }
            return String(message.prefix { $0 != " " })
        }
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    private let socket: Int32
    private var buffer: [UInt8] = []
    /// The longest reply line or bulk string accepted (the tests use short values).
    static let replyBytesMax = 1 << 20

    init(port: Int, timeoutSeconds: Int = 10) throws {
        #if canImport(Glibc)
        let fd = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let fd = Darwin.socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard fd >= 0 else { throw Failure(description: "socket() failed: errno \(errno)") }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            close(fd)
            throw Failure(description: "cannot connect to 127.0.0.1:\(port): errno \(errno)")
        }
        socket = fd
    }

    deinit { close(socket) }

    /// Sends a command as an array of bulk strings and reads its reply.
    func call(_ arguments: [String]) throws -> Reply {
        var request = "*\(arguments.count)\r\n"
        for argument in arguments { request += "$\(argument.utf8.count)\r\n\(argument)\r\n" }
        let bytes = Array(request.utf8)
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { send(socket, $0.baseAddress, $0.count, 0) }
            guard n > 0 else { throw Failure(description: "send failed: errno \(errno)") }
            sent += n
        }
        return try readReply(depth: 0)
    }

    private func readReply(depth: Int) throws -> Reply {
        guard depth < 8 else { throw Failure(description: "reply nested too deeply") }
        let line = try readLine()
        guard let kind = line.first else { throw Failure(description: "empty reply line") }
        let rest = String(line.dropFirst())
        switch kind {
        case "+": return .simple(rest)
        case "-": return .error(rest)
        case ":":
            guard let value = Int64(rest) else { throw Failure(description: "bad integer '\(rest)'") }
            return .integer(value)
        case "$":
            guard let count = Int(rest), count <= Self.replyBytesMax else { throw Failure(description: "bad bulk length '\(rest)'") }
            if count < 0 { return .null }
            let bytes = try readBytes(count + 2)
            return .bulk(String(decoding: bytes.prefix(count), as: UTF8.self))
        case "*":
            guard let count = Int(rest), count <= 10_000 else { throw Failure(description: "bad array length '\(rest)'") }
            if count < 0 { return .null }
            return .array(try (0..<count).map { _ in try readReply(depth: depth + 1) })
        default:
            throw Failure(description: "unexpected reply line '\(line)'")
        }
    }

    private func readLine() throws -> String {
        // Bounded by replyBytesMax: each pass reads at least one byte or throws.
        while true {
            if let end = buffer.firstIndex(of: UInt8(ascii: "\n")), end > 0, buffer[end - 1] == UInt8(ascii: "\r") {
                let line = String(decoding: buffer[..<(end - 1)], as: UTF8.self)
                buffer.removeFirst(end + 1)
                return line
            }
            guard buffer.count < Self.replyBytesMax else { throw Failure(description: "reply line too long") }
            try fill()
        }
    }

    private func readBytes(_ count: Int) throws -> [UInt8] {
        while buffer.count < count { try fill() }
        let bytes = Array(buffer.prefix(count))
        buffer.removeFirst(count)
        return bytes
    }

    private func fill() throws {
        var chunk = [UInt8](repeating: 0, count: 16 * 1024)
        let n = chunk.withUnsafeMutableBytes { recv(socket, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { throw Failure(description: n == 0 ? "connection closed" : "receive failed or timed out: errno \(errno)") }
        buffer.append(contentsOf: chunk.prefix(n))
    }
}

/// Client access to a `ProcessCluster`'s nodes: node i (1-based, nodelist order) serves
/// clients on the configured base port + i - 1.
extension ProcessCluster {
    var clientBasePort: Int {
        get throws {
            let text = try String(contentsOfFile: configPath, encoding: .utf8)
            guard let client = text.range(of: "client {"),
                  let line = text[client.upperBound...].split(separator: "\n").first(where: { $0.contains("port:") }),
                  let port = Int(line.split(separator: ":").last?.trimmingCharacters(in: .whitespaces) ?? "") else {
                throw PlainRESPConnection.Failure(description: "no client port in \(configPath)")
            }
            return port
        }
    }

    func clientPort(of id: Int) throws -> Int { try clientBasePort + id - 1 }

    func connect(to id: Int) throws -> PlainRESPConnection {
        try PlainRESPConnection(port: clientPort(of: id))
    }

    /// Polls `body` every 100 ms until it returns a value, at most 1200 times (2 min, as
    /// `waitUntil`); a thrown error (node still starting) counts as no value yet.
    func poll<T>(_ body: () throws -> T?) -> T? {
        for _ in 0..<1200 {
            if let value = try? body() { return value }
            Thread.sleep(forTimeInterval: 0.1)
        }
        return nil
    }

    /// A linearizable GET on node `id` that a quorate ring answered (a transient -NOQUORUM
    /// right after a ring change is retried, bounded by `poll`); nil if it never was.
    func confirmedGet(_ key: String, on id: Int) -> PlainRESPConnection.Reply? {
        poll { () throws -> PlainRESPConnection.Reply? in
            let reply = try connect(to: id).call(["GET", key])
            return reply.isError ? nil : reply
        }
    }

    /// Sets `key` through node `id`, retrying (bounded) until a quorate ring acknowledges it.
    /// Only for setup: a retried write after an -UNKNOWN may have been applied twice, which
    /// is harmless for a plain SET of the same value.
    func acknowledgedSet(_ key: String, _ value: String, on id: Int) -> Bool {
        poll { () throws -> Bool? in
            try connect(to: id).call(["SET", key, value]) == .simple("OK") ? true : nil
        } ?? false
    }
}

extension ProcessCluster {
    /// A started cluster whose nodes all report a quorate ring of every member. Its ports are
    /// random (ProcessCluster), so on a machine where other tests and clients hold ports a
    /// node can fail to bind ("Address already in use"): then a new cluster on other ports
    /// is tried, at most `attempts` times. Any other failure is thrown with the logs.
    static func startedQuorate(nodeCount: Int = 3, attempts: Int = 3) throws -> ProcessCluster {
        for attempt in 1...attempts {
            let cluster = try ProcessCluster(nodeCount: nodeCount)
            for id in 1...nodeCount { try cluster.start(id) }
            let members = Array(1...nodeCount)
            let settled = cluster.waitUntil {
                cluster.allQuorate(members: members) || cluster.processes.values.contains { !$0.isRunning }
            }
            if settled && cluster.allQuorate(members: members) { return cluster }
            let tails = cluster.logTails()
            cluster.stopAll()
            if !tails.contains("Address already in use") || attempt == attempts {
                throw PlainRESPConnection.Failure(description: "the cluster did not form (attempt \(attempt)):\n\(tails)")
            }
        }
        throw PlainRESPConnection.Failure(description: "unreachable: attempts must be at least 1")
    }
}
