#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Basics
import NIOCore
import NIOPosix
import TotemConfig

extension UDPTransport {
    /// Binds one socket per configured ring on `eventLoop` (two in `udp` mode: the member's
    /// own address, and the multicast group) and returns the running transport. Every
    /// socket is closed again if any step fails.
    ///
    /// The local node's socket on ring r is bound to its ring-r address from the nodelist,
    /// at its port override or else the interface's `mcastport` (corosync: "mcastport is the
    /// port the node listens on"). Nodes sharing one host need distinct addresses
    /// (127.0.0.N on Linux) or distinct port overrides.
    public static func bind(_ configuration: Configuration, on eventLoop: any EventLoop,
                            receiver: @escaping Receiver) async throws(UDPTransportError) -> UDPTransport {
        let interfaces = try configuration.checkedInterfaces()
        let protection: PacketProtection
        do {
            protection = try PacketProtection(suite: configuration.protectionSuite, key: configuration.key)
        } catch {
            throw .protection(error)
        }
        var rings: [UDPTransportState.Ring] = []
        var plans: [RingSocketPlan] = []
        for (index, interface) in interfaces.enumerated() {
            let peers = try configuration.peers(on: interface)
            guard let local = peers.first(where: { $0.nodeID == configuration.localNodeID }) else {
                throw .localNodeNotListed(configuration.localNodeID)
            }
            let group = configuration.mode == .udp ? try multicastGroup(of: interface) : nil
            let via = group == nil ? nil : try multicastInterfaceAddress(for: local.address, ring: interface.ringNumber)
            rings.append(UDPTransportState.Ring(ringNumber: interface.ringNumber, multicastGroup: group,
                                                localAddress: local.address, peers: peers,
                                                counters: UDPTransportCounters(ringNumber: interface.ringNumber)))
            plans.append(RingSocketPlan(ringIndex: index, ringNumber: interface.ringNumber,
                                        unicastAddress: local.address, multicastGroup: group, multicastVia: via,
                                        ttl: interface.ttl, datagramBytesMax: configuration.receiveDatagramBytesMax))
        }
        let state = NIOLoopBoundBox.makeBoxSendingValue(
            UDPTransportState(localNodeID: configuration.localNodeID, mode: configuration.mode,
                              blockUnlistedIPs: configuration.blockUnlistedIPs, rings: rings,
                              protection: protection),
            eventLoop: eventLoop)

        var channels: [RingChannels] = []
        do {
            for index in plans.indices {
                let ring = try await bindRing(plans[index], eventLoop: eventLoop, state: state, receiver: receiver)
                channels.append(ring)
                // A rebind must take the same port, also when the kernel picked it.
                plans[index].unicastAddress = ring.unicast.localAddress ?? plans[index].unicastAddress
            }
        } catch {
            for ring in channels { ring.closeAll() }
            throw error
        }

        let transport = UDPTransport(eventLoop: eventLoop, configuration: configuration, interfaces: interfaces,
                                     plans: plans, state: state, receiver: receiver)
        let bound = channels
        do {
            try await eventLoop.submit {
                for index in bound.indices {
                    state.value.rings[index].localAddress = transport.plans[index].unicastAddress
                    state.value.rings[index].channels = bound[index]
                    transport.watch(bound[index], ringIndex: index)
                }
            }.get()
        } catch {
            for ring in bound { ring.closeAll() }
            throw .bindFailed(address: "\(transport.localAddresses)", ring: transport.ringNumbers[0],
                              reason: "event loop: \(error)")
        }
        return transport
    }

    /// Binds one ring's sockets as `plan` says: the unicast socket, and in udp mode the
    /// multicast sending options and the group socket. Closes what it opened on failure.
    static func bindRing(_ plan: RingSocketPlan, eventLoop: any EventLoop, state: NIOLoopBoundBox<UDPTransportState>,
                         receiver: @escaping Receiver) async throws(UDPTransportError) -> RingChannels {
        let unicast = try await bindChannel(at: plan.unicastAddress, ringNumber: plan.ringNumber,
                                            sharesPort: false, eventLoop: eventLoop, state: state,
                                            ringIndex: plan.ringIndex, receiver: receiver,
                                            datagramBytesMax: plan.datagramBytesMax)
        guard let group = plan.multicastGroup, let via = plan.multicastVia else {
            return RingChannels(unicast: unicast, multicast: nil)
        }
        var multicast: (any Channel)?
        do {
            try await configureMulticastSending(unicast, via: via, ttl: plan.ttl, ring: plan.ringNumber)
            let channel = try await bindChannel(at: group, ringNumber: plan.ringNumber, sharesPort: true,
                                                eventLoop: eventLoop, state: state, ringIndex: plan.ringIndex,
                                                receiver: receiver, datagramBytesMax: plan.datagramBytesMax)
            multicast = channel
            try await join(channel, group: group, via: via, ring: plan.ringNumber)
            return RingChannels(unicast: unicast, multicast: channel)
        } catch {
            RingChannels(unicast: unicast, multicast: multicast).closeAll()
            throw error
        }
    }

    private static func bindChannel(at address: SocketAddress, ringNumber: UInt8, sharesPort: Bool,
                                    eventLoop: any EventLoop, state: NIOLoopBoundBox<UDPTransportState>,
                                    ringIndex: Int, receiver: @escaping Receiver,
                                    datagramBytesMax: Int) async throws(UDPTransportError) -> any Channel {
        // The multicast socket of every node on this host binds the same group:port; with
        // SO_REUSEADDR the kernel gives each of them every multicast datagram.
        let bootstrap = DatagramBootstrap(group: eventLoop)
            .channelOption(.socketOption(.so_reuseaddr), value: sharesPort ? 1 : 0)
            .channelOption(.socketOption(.so_rcvbuf), value: socketReceiveBufferBytes)
            .channelOption(.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: datagramBytesMax))
            .channelOption(.maxMessagesPerRead, value: UInt(messagesPerReadMax))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        UDPTransportHandler(state: state, ringIndex: ringIndex, receiver: receiver))
                }
            }
        do {
            return try await bootstrap.bind(to: address).get()
        } catch {
            throw .bindFailed(address: "\(address)", ring: ringNumber, reason: "\(error)")
        }
    }

    private static func multicastGroup(of interface: TotemOptions.Interface) throws(UDPTransportError) -> SocketAddress {
        guard let host = interface.mcastAddr else { throw .multicastAddressMissing(ring: interface.ringNumber) }
        let group: SocketAddress
        do {
            group = try SocketAddress(ipAddress: host, port: Int(interface.mcastPort))
        } catch {
            throw .badAddress(host: host, ring: interface.ringNumber, reason: "\(error)")
        }
        guard case .v4 = group else { throw .multicastNeedsIPv4(ring: interface.ringNumber, address: host) }
        guard group.isMulticast else {
            throw .badAddress(host: host, ring: interface.ringNumber, reason: "not a multicast address")
        }
        return group
    }

    /// The address naming the interface that multicast leaves and is joined on: the node's
    /// own address, except that any 127/8 address means the loopback, whose address is
    /// 127.0.0.1 (Linux routes all of 127/8 to lo, but only 127.0.0.1 is assigned to it).
    private static func multicastInterfaceAddress(for local: SocketAddress, ring: UInt8) throws(UDPTransportError) -> in_addr {
        guard case .v4(let address) = local else {
            throw .multicastNeedsIPv4(ring: ring, address: "\(local)")
        }
        let hostOrder = UInt32(bigEndian: address.address.sin_addr.s_addr)
        if hostOrder >> 24 == 127 {
            return in_addr(s_addr: UInt32(0x7F00_0001).bigEndian)
        }
        return address.address.sin_addr
    }

    private static func configureMulticastSending(_ channel: any Channel, via interface: in_addr, ttl: UInt8,
                                                  ring: UInt8) async throws(UDPTransportError) {
        guard let options = channel as? any SocketOptionProvider else {
            throw .multicastSetupFailed(ring: ring, reason: "the channel has no socket options")
        }
        do {
            try await options.setIPMulticastIF(interface).get()
            try await options.setIPMulticastTTL(ttl).get()
            // Other nodes on this host receive through the loopback copy.
            try await options.setIPMulticastLoop(1).get()
        } catch {
            throw .multicastSetupFailed(ring: ring, reason: "\(error)")
        }
    }

    private static func join(_ channel: any Channel, group: SocketAddress, via interface: in_addr,
                             ring: UInt8) async throws(UDPTransportError) {
        guard case .v4(let groupAddress) = group, let options = channel as? any SocketOptionProvider else {
            throw .multicastSetupFailed(ring: ring, reason: "not an IPv4 socket")
        }
        let request = ip_mreq(imr_multiaddr: groupAddress.address.sin_addr, imr_interface: interface)
        do {
            try await options.unsafeSetSocketOption(level: .ip, name: .ip_add_membership, value: request).get()
        } catch {
            throw .multicastSetupFailed(ring: ring, reason: "joining \(group): \(error)")
        }
    }
}

/// What it takes to bind one ring's sockets, at start and again after a socket failed.
struct RingSocketPlan: Sendable {
    var ringIndex: Int
    var ringNumber: UInt8
    /// The member's own address; after the first bind, with the port actually bound.
    var unicastAddress: SocketAddress
    /// udp mode: the group, and the address naming the interface to join it on.
    var multicastGroup: SocketAddress?
    var multicastVia: in_addr?
    var ttl: UInt8
    var datagramBytesMax: Int
}

/// Feeds one socket's datagrams through the transport's checks and hands the survivors to
/// the receiver. Runs on the transport's event loop.
final class UDPTransportHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    private let state: NIOLoopBoundBox<UDPTransportState>
    private let ringIndex: Int
    private let receiver: UDPTransport.Receiver

    init(state: NIOLoopBoundBox<UDPTransportState>, ringIndex: Int, receiver: @escaping UDPTransport.Receiver) {
        self.state = state
        self.ringIndex = ringIndex
        self.receiver = receiver
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = Self.unwrapInboundIn(data)
        // The state access ends before the callback, which may send (and so touch the state).
        let received = state.value.receive(envelope, ringIndex: ringIndex)
        if let received {
            if let trace = CPGTrace.shared {
                let kind: UInt64
                switch received.packet.message {
                case .token: kind = 1
                case .mcast: kind = 2
                default: kind = 3
                }
                trace.record(.packetReceived, kind)
            }
            receiver(received)
        }
    }

    /// Datagram sockets report non-fatal errors (ECONNREFUSED after a send to a closed
    /// port) here; they are counted and the socket keeps going.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        state.value.rings[ringIndex].counters.record(.receiveError)
    }
}
