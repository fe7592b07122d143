import Basics
import NIOCore
import RESP

/// One request a bench client sends.
struct BenchRequest: Equatable, Sendable {
    enum Kind: Equatable, Sendable { case set, get }
    var kind: Kind
    /// Index into the keyspace.
    var key: Int
}

/// A client's stream of requests: keys drawn uniformly from the keyspace, GET or SET by
/// `readPercent`, from a generator seeded per client so a run is repeatable in what it sends.
struct BenchWorkload: Sendable {
    private var generator: SeededGenerator
    private let keyspace: Int
    private let readPercent: Int
    /// The client's SET value: `valueBytes` printable bytes, the same for all its writes.
    let value: [UInt8]

    init(plan: BenchPlan, client: Int) {
        // One stream per client (SplitMix inside the generator spreads nearby seeds apart).
        var generator = SeededGenerator(seed: plan.seed &+ UInt64(client) &* 0x9E37_79B9_7F4A_7C15)
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789".utf8)
        var value: [UInt8] = []
        value.reserveCapacity(plan.valueBytes)
        for _ in 0..<plan.valueBytes {
            value.append(alphabet[Int(generator.next() % UInt64(alphabet.count))])
        }
        self.generator = generator
        self.value = value
        self.keyspace = plan.keyspace
        self.readPercent = plan.readPercent
    }

    mutating func next() -> BenchRequest {
        let key = Int(generator.next() % UInt64(keyspace))
        let isRead: Bool
        switch readPercent {
        case 0: isRead = false
        case 100: isRead = true
        default: isRead = generator.next() % 100 < UInt64(readPercent)
        }
        return BenchRequest(kind: isRead ? .get : .set, key: key)
    }

    /// Appends the request as a RESP array of bulk strings (`SET key value` or `GET key`).
    func encode(_ request: BenchRequest, keyPrefix: String, into buffer: inout ByteBuffer) {
        let key = keyPrefix + String(request.key)
        switch request.kind {
        case .set:
            buffer.writeRESPArrayHeader(count: 3)
            buffer.writeRESPBulkString("SET")
            buffer.writeRESPBulkString(key)
            buffer.writeRESPBulkString(value)
        case .get:
            buffer.writeRESPArrayHeader(count: 2)
            buffer.writeRESPBulkString("GET")
            buffer.writeRESPBulkString(key)
        }
    }
}

/// What a reply means to the bench.
enum BenchOutcome: Equatable, Sendable {
    /// `+OK` to a SET: an acknowledged write.
    case acknowledged
    /// A value or `(nil)` to a GET.
    case read(hit: Bool)
    case failed(BenchErrorKind)

    static func classify(_ reply: RESPValue, to kind: BenchRequest.Kind) -> BenchOutcome {
        switch (kind, reply) {
        case (_, .error(let message)): .failed(BenchErrorKind(serverError: message))
        case (.set, .simpleString("OK")): .acknowledged
        case (.get, .bulkString): .read(hit: true)
        case (.get, .nullBulkString): .read(hit: false)
        default: .failed(.unexpectedReply)
        }
    }
}

/// Why a request failed. Server errors are told apart by their code (the first word).
enum BenchErrorKind: Hashable, Comparable, Sendable {
    /// `-NOQUORUM`: nothing was written.
    case noQuorum
    /// `-UNKNOWN`: the write may or may not have happened.
    case unknown
    /// Another error code (`ERR`, `WRONGTYPE`, ...), at most `serverCodeBytesMax` bytes.
    case server(String)
    /// A reply of the wrong shape (neither OK, a value, nil nor an error).
    case unexpectedReply
    /// The connection broke with the request in flight: its outcome is unknown.
    case connectionLost
    /// Connecting (or AUTH) failed.
    case connectFailed
    /// No reply within the request timeout.
    case timeout

    static let serverCodeBytesMax = 32

    init(serverError message: String) {
        let code = message.prefix { !$0.isWhitespace }
        switch code {
        case "NOQUORUM": self = .noQuorum
        case "UNKNOWN": self = .unknown
        default: self = .server(String(code.prefix(Self.serverCodeBytesMax)))
        }
    }

    /// How the summary names the kind; also its sort key.
    var label: String {
        switch self {
        case .noQuorum: "NOQUORUM"
        case .unknown: "UNKNOWN"
        case .server(let code): code.isEmpty ? "server" : code
        case .unexpectedReply: "unexpected-reply"
        case .connectionLost: "connection-lost"
        case .connectFailed: "connect-failed"
        case .timeout: "timeout"
        }
    }

    /// Connection-level kinds, as opposed to an error reply from a node.
    var isConnection: Bool {
        switch self {
        case .connectionLost, .connectFailed, .timeout: true
        default: false
        }
    }

    static func < (a: BenchErrorKind, b: BenchErrorKind) -> Bool { a.label < b.label }
}
