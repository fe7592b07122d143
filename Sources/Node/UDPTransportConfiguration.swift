import Basics
import NIOCore
import TotemConfig

extension UDPTransport {
    /// How a broadcast travels (totem `transport`).
    public enum Mode: String, Hashable, Sendable {
        /// One datagram to each member's address on the ring (corosync's udpu; the default).
        case udpu
        /// One IP multicast datagram to the ring's `mcastaddr:mcastport` with its `ttl`.
        case udp
    }

    /// Where a member listens on one ring: `ringX_addr` from the nodelist, and a port when the
    /// nodelist overrides the interface's `mcastport` for this node (several nodes on one
    /// address). Port 0 binds an ephemeral port (tests; read it back with `localAddress`).
    public struct Endpoint: Hashable, Sendable {
        public var host: String
        public var port: UInt16?
        public init(host: String, port: UInt16? = nil) {
            self.host = host
            self.port = port
        }
    }

    /// One node of the nodelist as the transport needs it.
    public struct Member: Hashable, Sendable {
        public var nodeID: NodeID
        public var ring0: Endpoint
        public var ring1: Endpoint?

        public init(nodeID: NodeID, ring0: Endpoint, ring1: Endpoint? = nil) {
            self.nodeID = nodeID
            self.ring0 = ring0
            self.ring1 = ring1
        }

        /// The nodelist's shape: addresses per ring, one optional port for both rings.
        public init(nodeID: NodeID, ring0Address: String, ring1Address: String? = nil, port: UInt16? = nil) {
            self.init(nodeID: nodeID, ring0: Endpoint(host: ring0Address, port: port),
                      ring1: ring1Address.map { Endpoint(host: $0, port: port) })
        }

        /// The endpoint on ring `ringNumber`, if the member has one there.
        public func endpoint(onRing ringNumber: UInt8) -> Endpoint? {
            switch ringNumber {
            case 0: ring0
            case 1: ring1
            default: nil
            }
        }
    }

    /// Everything `UDPTransport.bind` needs. The runtime builds it from `TotemOptions`, the
    /// nodelist and the key file (`init(localNodeID:options:members:key:)`).
    public struct Configuration: Sendable {
        public var localNodeID: NodeID
        public var mode: Mode
        /// One per ring, distinct ring numbers (0 and 1: corosync 2.x allows two).
        public var interfaces: [TotemOptions.Interface]
        /// The nodelist, the local node included. Any order; kept sorted by node id.
        public var members: [Member]
        /// corosync's `block_unlisted_ips` (default yes): drop datagrams whose source address
        /// is not a member's address on that ring.
        public var blockUnlistedIPs: Bool
        public var protectionSuite: PacketProtectionSuite
        /// Required when `protectionSuite.isEnabled`.
        public var key: ClusterKey?
        /// Largest datagram read; longer ones are cut by the kernel and then fail their
        /// checksum or tag. The default is the largest UDP payload.
        public var receiveDatagramBytesMax: Int
        /// How long after a socket failed it is bound again (and again, until it works):
        /// corosync's `downcheck`, "interval to re-check a downed interface".
        public var rebindIntervalMilliseconds: UInt32

        public init(localNodeID: NodeID, mode: Mode = .udpu, interfaces: [TotemOptions.Interface],
                    members: [Member], blockUnlistedIPs: Bool = true,
                    protectionSuite: PacketProtectionSuite = .none, key: ClusterKey? = nil,
                    receiveDatagramBytesMax: Int = UDPTransport.datagramBytesMax,
                    rebindIntervalMilliseconds: UInt32 = 1000) {
            self.localNodeID = localNodeID
            self.mode = mode
            self.interfaces = interfaces
            self.members = members
            self.blockUnlistedIPs = blockUnlistedIPs
            self.protectionSuite = protectionSuite
            self.key = key
            self.receiveDatagramBytesMax = receiveDatagramBytesMax
            self.rebindIntervalMilliseconds = rebindIntervalMilliseconds
        }

        /// From the effective totem options: transport, interfaces and the crypto settings.
        /// `block_unlisted_ips` is not in `TotemOptions` yet; pass it here.
        public init(localNodeID: NodeID, options: TotemOptions, members: [Member],
                    key: ClusterKey?, blockUnlistedIPs: Bool = true) throws(UDPTransportError) {
            let mode: Mode
            switch options.transport {
            case .udpu: mode = .udpu
            case .udp: mode = .udp
            case .knet: throw .unsupportedTransport(options.transport.rawValue)
            }
            let suite: PacketProtectionSuite
            do {
                suite = try PacketProtectionSuite(cipher: options.cryptoCipher, hash: options.cryptoHash,
                                                  secauth: options.secauth)
            } catch {
                throw .protection(error)
            }
            self.init(localNodeID: localNodeID, mode: mode, interfaces: options.interfaces,
                      members: members, blockUnlistedIPs: blockUnlistedIPs,
                      protectionSuite: suite, key: key, rebindIntervalMilliseconds: options.downcheck)
        }
    }
}

/// A configuration the transport cannot run with, or a socket it could not set up.
public enum UDPTransportError: Error, Sendable, CustomStringConvertible {
    case unsupportedTransport(String)
    case protection(PacketProtectionError)
    case noInterfaces
    case duplicateRing(UInt8)
    case unsupportedRing(UInt8)
    case duplicateMember(NodeID)
    case localNodeNotListed(NodeID)
    case noAddressOnRing(NodeID, ring: UInt8)
    case badAddress(host: String, ring: UInt8, reason: String)
    case multicastAddressMissing(ring: UInt8)
    case multicastNeedsIPv4(ring: UInt8, address: String)
    case bindFailed(address: String, ring: UInt8, reason: String)
    case multicastSetupFailed(ring: UInt8, reason: String)

    public var description: String {
        switch self {
        case .unsupportedTransport(let name):
            "transport \(name) is not supported (use udpu or udp)"
        case .protection(let error):
            error.description
        case .noInterfaces:
            "no interface configured"
        case .duplicateRing(let ring):
            "interface ringnumber \(ring) is configured twice"
        case .unsupportedRing(let ring):
            "interface ringnumber \(ring) is not supported (0 and 1 are)"
        case .duplicateMember(let node):
            "node \(node) is listed twice in the nodelist"
        case .localNodeNotListed(let node):
            "the local node \(node) is not in the nodelist"
        case .noAddressOnRing(let node, let ring):
            "node \(node) has no ring\(ring)_addr but interface ringnumber \(ring) is configured"
        case .badAddress(let host, let ring, let reason):
            "ring \(ring): cannot use address \(host): \(reason)"
        case .multicastAddressMissing(let ring):
            "transport udp needs mcastaddr in interface ringnumber \(ring)"
        case .multicastNeedsIPv4(let ring, let address):
            "ring \(ring): multicast is supported on IPv4 only (\(address))"
        case .bindFailed(let address, let ring, let reason):
            "ring \(ring): cannot bind \(address): \(reason)"
        case .multicastSetupFailed(let ring, let reason):
            "ring \(ring): cannot set up multicast: \(reason)"
        }
    }
}

/// A member's resolved address on one ring.
struct Peer: Sendable {
    var nodeID: NodeID
    var address: SocketAddress
    var host: HostKey
}

/// An IP address without its port, cheap to compare on the receive path.
enum HostKey: Hashable, Sendable {
    case v4(UInt32)
    case v6(UInt64, UInt64)
    case other

    init(_ address: SocketAddress) {
        switch address {
        case .v4(let a):
            self = .v4(a.address.sin_addr.s_addr)
        case .v6(let a):
            let (high, low) = withUnsafeBytes(of: a.address.sin6_addr) { raw in
                (raw.loadUnaligned(fromByteOffset: 0, as: UInt64.self),
                 raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
            }
            self = .v6(high, low)
        case .unixDomainSocket:
            self = .other
        }
    }
}

extension UDPTransport.Configuration {
    /// The interfaces sorted by ring number, checked.
    func checkedInterfaces() throws(UDPTransportError) -> [TotemOptions.Interface] {
        guard !interfaces.isEmpty else { throw .noInterfaces }
        let sorted = interfaces.sorted { $0.ringNumber < $1.ringNumber }
        for (index, interface) in sorted.enumerated() {
            guard interface.ringNumber <= 1 else { throw .unsupportedRing(interface.ringNumber) }
            if index > 0 && sorted[index - 1].ringNumber == interface.ringNumber {
                throw .duplicateRing(interface.ringNumber)
            }
        }
        return sorted
    }

    /// Every member's address on `interface`'s ring, sorted by node id. Members without an
    /// address on that ring are left out, except the local node, which must have one.
    /// Numeric addresses are parsed; names are resolved (a blocking lookup, done only here).
    func peers(on interface: TotemOptions.Interface) throws(UDPTransportError) -> [Peer] {
        let sorted = members.sorted { $0.nodeID < $1.nodeID }
        var peers: [Peer] = []
        var previous: NodeID?
        for member in sorted {
            if member.nodeID == previous { throw .duplicateMember(member.nodeID) }
            previous = member.nodeID
            guard let endpoint = member.endpoint(onRing: interface.ringNumber) else {
                if member.nodeID == localNodeID {
                    throw .noAddressOnRing(member.nodeID, ring: interface.ringNumber)
                }
                continue
            }
            let address = try resolve(endpoint, defaultPort: interface.mcastPort, ring: interface.ringNumber)
            peers.append(Peer(nodeID: member.nodeID, address: address, host: HostKey(address)))
        }
        guard peers.contains(where: { $0.nodeID == localNodeID }) else { throw .localNodeNotListed(localNodeID) }
        return peers
    }

    func resolve(_ endpoint: UDPTransport.Endpoint, defaultPort: UInt16, ring: UInt8) throws(UDPTransportError) -> SocketAddress {
        let port = Int(endpoint.port ?? defaultPort)
        do {
            if let numeric = try? SocketAddress(ipAddress: endpoint.host, port: port) { return numeric }
            return try SocketAddress.makeAddressResolvingHost(endpoint.host, port: port)
        } catch {
            throw .badAddress(host: endpoint.host, ring: ring, reason: "\(error)")
        }
    }
}
