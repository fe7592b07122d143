import Basics
import NIOCore
import Totem

/// The transport's mutable state. It lives in a `NIOLoopBoundBox` and is touched only on the
/// transport's event loop, so neither locks nor atomics are needed. Its methods decide; the
/// transport and the channel handler perform the socket writes and the callback. Not
/// `Sendable` (it holds the protection session): it is moved into the box once, at bind.
struct UDPTransportState {
    struct Ring: Sendable {
        let ringNumber: UInt8
        /// udp mode: where broadcasts go.
        let multicastGroup: SocketAddress?
        /// The unicast socket's address (the configured one until the bind reports the real
        /// port); every datagram we send leaves from it, so a datagram arriving from it is our
        /// own multicast looped back.
        var localAddress: SocketAddress
        /// Sorted by node id, the local node included.
        var peers: [Peer]
        var isBlocked = false
        var counters: UDPTransportCounters
        /// nil before the first bind, after `close`, and while a failed socket waits to be
        /// bound again.
        var channels: UDPTransport.RingChannels?
    }

    let localNodeID: NodeID
    let mode: UDPTransport.Mode
    let blockUnlistedIPs: Bool
    var rings: [Ring]
    var protection: PacketProtection
    /// Set by `close`: no more rebinding.
    var isClosed = false
    /// Channels with broadcasts written and not flushed yet (`UDPTransport.flush`).
    var channelsToFlush: [any Channel] = []

    func ringIndex(_ ringNumber: UInt8) -> Int? {
        rings.firstIndex { $0.ringNumber == ringNumber }
    }

    // MARK: Receiving

    /// Runs every check on one datagram, in the order docs/secauth.md lists them, and returns
    /// the packet to deliver, or nil after counting why it was dropped.
    mutating func receive(_ envelope: AddressedEnvelope<ByteBuffer>, ringIndex: Int) -> UDPTransport.Received? {
        // Fields are read one by one rather than copying the ring: a copy would share the
        // counters' storage and make every counter update copy it.
        rings[ringIndex].counters.datagramsReceived &+= 1
        rings[ringIndex].counters.bytesReceived &+= UInt64(envelope.data.readableBytes)
        if rings[ringIndex].isBlocked { return drop(.ringBlocked, ringIndex) }
        let source = envelope.remoteAddress
        if source == rings[ringIndex].localAddress { return drop(.ownPacket, ringIndex) }
        let sourceHost = HostKey(source)
        if blockUnlistedIPs && !rings[ringIndex].peers.contains(where: { $0.host == sourceHost }) {
            return drop(.unlistedSource, ringIndex)
        }

        let decoded: WireCodec.Frame?
        if protection.suite.isEnabled {
            switch protection.open(Array(envelope.data.readableBytesView)) {
            case .success(let plain):
                decoded = WireCodec.decode(plain, counting: &rings[ringIndex].counters.malformed)
            case .failure(let rejection):
                return drop(UDPTransportDrop(rejection), ringIndex)
            }
        } else {
            // Without protection the datagram is the packet: decoded in place from the
            // receive buffer, without copying it into an array first.
            decoded = envelope.data.withUnsafeReadableBytes { raw in
                WireCodec.decode(raw, counting: &rings[ringIndex].counters.malformed)
            }
        }
        guard let frame = decoded else { return drop(.malformed, ringIndex) }
        let ringNumber = rings[ringIndex].ringNumber
        if frame.ringNumber != ringNumber { return drop(.ringMismatch, ringIndex) }
        let sender = frame.packet.sender
        if sender == localNodeID { return drop(.senderMismatch, ringIndex) }
        if blockUnlistedIPs {
            // The sender must be the member listed at the source's address. Ports are not
            // compared: members sharing one address are told apart by their node ids only.
            guard rings[ringIndex].peers.contains(where: { $0.nodeID == sender && $0.host == sourceHost }) else {
                return drop(.senderMismatch, ringIndex)
            }
        }
        rings[ringIndex].counters.packetsDelivered &+= 1
        return UDPTransport.Received(packet: frame.packet, ringNumber: ringNumber, source: source)
    }

    private mutating func drop(_ reason: UDPTransportDrop, _ ringIndex: Int) -> UDPTransport.Received? {
        rings[ringIndex].counters.record(reason)
        return nil
    }

    // MARK: Sending

    /// What to write for one send: the datagram and where each copy goes.
    struct Outgoing {
        var channel: any Channel
        var datagram: ByteBuffer
        var targets: Targets
    }

    /// Where the copies of one datagram go, without building an array per send: a token
    /// visit sends one unicast per hop, thousands a second on an idle ring, and an array of
    /// one address was an allocation each time (Bench/results/cpg-2026-11-26g.md).
    enum Targets {
        /// One address: a unicast, or udp mode's multicast group.
        case one(SocketAddress)
        /// udpu broadcast: every listed peer but `except` (the ring's array, shared, not
        /// copied).
        case peers([Peer], except: NodeID)

        /// Calls `body` with each address, in the peers' order (by node id).
        func forEach(_ body: (SocketAddress) -> Void) {
            switch self {
            case .one(let address):
                body(address)
            case .peers(let peers, let except):
                for peer in peers where peer.nodeID != except { body(peer.address) }
            }
        }

        /// Every address, for tests.
        var addresses: [SocketAddress] {
            var all: [SocketAddress] = []
            forEach { all.append($0) }
            return all
        }
    }

    /// Encodes and seals `packet` for ring `ringIndex` and picks the destinations, or counts
    /// why nothing is sent. A unicast to the local node is returned as `.loopback`.
    mutating func prepare(_ packet: TotemPacket, to destination: UDPTransport.Destination,
                          ringIndex: Int) -> Prepared {
        if rings[ringIndex].isBlocked {
            rings[ringIndex].counters.record(.sendBlocked)
            return .nothing
        }
        let ringNumber = rings[ringIndex].ringNumber
        let targets: Targets
        let copies: Int
        switch destination {
        case .broadcast:
            switch mode {
            case .udpu:
                var others = 0
                for peer in rings[ringIndex].peers where peer.nodeID != localNodeID { others &+= 1 }
                if others == 0 { return .nothing }
                targets = .peers(rings[ringIndex].peers, except: localNodeID)
                copies = others
            case .udp:
                guard let group = rings[ringIndex].multicastGroup else {
                    preconditionFailure("UDPTransport: udp ring \(ringNumber) without a group")
                }
                targets = .one(group)
                copies = 1
            }
        case .node(let node):
            if node == localNodeID {
                rings[ringIndex].counters.loopbackDeliveries &+= 1
                return .loopback(UDPTransport.Received(packet: packet, ringNumber: ringNumber,
                                                       source: rings[ringIndex].localAddress))
            }
            guard let peer = rings[ringIndex].peers.first(where: { $0.nodeID == node }) else {
                rings[ringIndex].counters.record(.sendToUnknownNode)
                return .nothing
            }
            targets = .one(peer.address)
            copies = 1
        }
        let channel = rings[ringIndex].channels?.unicast
        guard let channel else {
            rings[ringIndex].counters.record(.socketDown)
            return .nothing
        }
        let datagram: ByteBuffer
        if protection.suite.isEnabled {
            let sealed = protection.seal(WireCodec.encode(packet, ringNumber: ringNumber))
            guard sealed.count <= UDPTransport.datagramBytesMax else {
                rings[ringIndex].counters.record(.sendTooLarge)
                return .nothing
            }
            datagram = channel.allocator.buffer(bytes: sealed)
        } else {
            // Without protection the packet is the datagram: encoded straight into the send
            // buffer, not into an array that is then copied.
            let count = WireCodec.encodedByteCount(packet)
            guard count <= UDPTransport.datagramBytesMax else {
                rings[ringIndex].counters.record(.sendTooLarge)
                return .nothing
            }
            var buffer = channel.allocator.buffer(capacity: count)
            buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { raw in
                WireCodec.encode(packet, ringNumber: ringNumber, into: raw)
                return count
            }
            datagram = buffer
        }
        rings[ringIndex].counters.datagramsSent &+= UInt64(copies)
        rings[ringIndex].counters.bytesSent &+= UInt64(datagram.readableBytes &* copies)
        return .send(Outgoing(channel: channel, datagram: datagram, targets: targets))
    }

    enum Prepared {
        case nothing
        case loopback(UDPTransport.Received)
        case send(Outgoing)
    }
}
