import Totem

/// Why the transport dropped a datagram, received or to be sent. Raw values are stable (they
/// index the counters and may appear in status output); add new reasons at the end.
public enum UDPTransportDrop: UInt8, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    // Received datagrams, in the order the receive path checks them.
    /// The ring is blocked by `setRingBlocked` (an injected fault).
    case ringBlocked = 0
    /// Our own multicast coming back through the loopback.
    case ownPacket = 1
    /// The source address is no member's address on this ring (`block_unlisted_ips`).
    case unlistedSource = 2
    /// Packet protection refused it: shorter than its overhead.
    case protectionTooShort = 3
    /// Packet protection refused it: no protection header (a node without secauth, noise).
    case notProtected = 4
    /// Packet protection refused it: sealed with another cipher or hash.
    case suiteMismatch = 5
    /// Packet protection refused it: the tag does not verify (another key, tampering).
    case authenticationFailed = 6
    /// The wire codec refused it; `UDPTransportCounters.malformed` has the reason.
    case malformed = 7
    /// A well-formed packet whose header names another ring than the socket's.
    case ringMismatch = 8
    /// The packet's sender is not the member at the source address (or claims to be us).
    case senderMismatch = 9
    /// The socket reported an error while reading.
    case receiveError = 10

    // Datagrams not sent.
    /// The ring is blocked by `setRingBlocked`.
    case sendBlocked = 11
    /// A unicast to a node without an address on this ring.
    case sendToUnknownNode = 12
    /// Larger than one UDP datagram can be (the packing layer should have fragmented it).
    case sendTooLarge = 13
    /// The socket refused the write.
    case sendError = 14
    /// The ring's socket failed and is not bound again yet (or the transport is closed).
    case socketDown = 15

    public var description: String {
        switch self {
        case .ringBlocked: "ring blocked"
        case .ownPacket: "own packet"
        case .unlistedSource: "unlisted source"
        case .protectionTooShort: "too short for protection"
        case .notProtected: "not protected"
        case .suiteMismatch: "cipher/hash mismatch"
        case .authenticationFailed: "authentication failed"
        case .malformed: "malformed"
        case .ringMismatch: "ring mismatch"
        case .senderMismatch: "sender mismatch"
        case .receiveError: "receive error"
        case .sendBlocked: "send blocked"
        case .sendToUnknownNode: "send to unknown node"
        case .sendTooLarge: "send too large"
        case .sendError: "send error"
        case .socketDown: "socket down"
        }
    }

    init(_ rejection: ProtectionRejection) {
        switch rejection {
        case .tooShort: self = .protectionTooShort
        case .notProtected: self = .notProtected
        case .suiteMismatch: self = .suiteMismatch
        case .authenticationFailed: self = .authenticationFailed
        }
    }

    /// Whether the reason is about a received datagram (as opposed to one not sent).
    public var isReceiveDrop: Bool { rawValue <= UDPTransportDrop.receiveError.rawValue }
}

/// What one ring's sockets did. Plain counters, wrapping (never trapping).
public struct UDPTransportCounters: Hashable, Sendable {
    public let ringNumber: UInt8
    /// Datagrams handed to the socket (a udpu broadcast to three peers counts three).
    public var datagramsSent: UInt64 = 0
    public var bytesSent: UInt64 = 0
    /// Datagrams read from the sockets, before any check.
    public var datagramsReceived: UInt64 = 0
    public var bytesReceived: UInt64 = 0
    /// Packets that passed every check and went to the receiver.
    public var packetsDelivered: UInt64 = 0
    /// Unicasts to the local node, delivered without a socket.
    public var loopbackDeliveries: UInt64 = 0
    /// Times a socket of the ring failed (NIO closed it after an error it cannot recover
    /// from, such as ENETUNREACH or EADDRNOTAVAIL on send).
    public var socketFailures: UInt64 = 0
    /// Times the ring's sockets were bound again after a failure, and attempts that failed.
    public var socketRebinds: UInt64 = 0
    public var rebindFailures: UInt64 = 0
    /// The codec's reasons for the `.malformed` drops.
    public var malformed = WireRejectionCounters()
    private var drops = [UInt64](repeating: 0, count: UDPTransportDrop.allCases.count)

    public init(ringNumber: UInt8) {
        self.ringNumber = ringNumber
    }

    public subscript(drop reason: UDPTransportDrop) -> UInt64 {
        drops[Int(reason.rawValue)]
    }

    mutating func record(_ reason: UDPTransportDrop) {
        drops[Int(reason.rawValue)] &+= 1
    }

    /// Received datagrams dropped, whatever the reason.
    public var receiveDropsTotal: UInt64 {
        UDPTransportDrop.allCases.filter(\.isReceiveDrop).reduce(0) { $0 &+ self[drop: $1] }
    }

    /// Every reason with its count, in raw-value order.
    public var allDrops: [(reason: UDPTransportDrop, count: UInt64)] {
        UDPTransportDrop.allCases.map { ($0, self[drop: $0]) }
    }
}
