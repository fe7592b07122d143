import Basics
import NIOCore
import NIOPosix
import Totem
import TotemConfig

/// Totem's network: one UDP socket per redundant ring (`interface { ringnumber }`), on one
/// event loop, with packet protection (docs/secauth.md) and the wire codec.
///
/// Threading: every socket of the transport is registered on `eventLoop`, and its mutable
/// state lives in a `NIOLoopBoundBox` on that loop. Received packets reach the `receiver`
/// on `eventLoop`, one at a time, in the order the loop read them. `send`, `setRingBlocked`
/// and `updateMembers` may be called from any thread: on the loop they act at once,
/// elsewhere they are queued to the loop in call order.
///
/// Broadcasts: in `udpu` mode one datagram goes to every other member's address on the
/// ring; in `udp` mode one multicast datagram goes to the ring's group (and comes back to
/// us through the loopback, where it is dropped as `.ownPacket`). A node never receives its
/// own broadcast: the protocol core keeps its own messages (corosync's totemsrp does the
/// same). A unicast to the local node is handed to the receiver on the next loop turn,
/// without a socket, so a one-node ring can pass itself the token.
///
/// Failures: a bad datagram is dropped and counted (`UDPTransportDrop`, per ring); a socket
/// that NIO closes after a fatal error is bound again every `rebindIntervalMilliseconds`
/// (UDPTransport+Recovery.swift), and sends meanwhile count as `.socketDown`.
public final class UDPTransport: Sendable {
    /// The largest UDP payload over IPv4; the packing layer keeps packets far below it.
    public static let datagramBytesMax = 65_507
    /// Requested socket receive buffer; the kernel caps it at `net.core.rmem_max`.
    static let socketReceiveBufferBytes = 4 << 20
    static let messagesPerReadMax = 16

    /// A packet that passed every check.
    public struct Received: Hashable, Sendable {
        public var packet: TotemPacket
        /// The ring whose socket it arrived on (and which its header names).
        public var ringNumber: UInt8
        public var source: SocketAddress
    }

    /// Called on `eventLoop` for every packet that passes the checks, in arrival order.
    public typealias Receiver = @Sendable (Received) -> Void

    public enum Destination: Hashable, Sendable {
        /// Every other member of the ring.
        case broadcast
        case node(NodeID)
    }

    public let eventLoop: any EventLoop
    public let localNodeID: NodeID
    public let mode: Mode
    /// The configured rings, ascending.
    public let ringNumbers: [UInt8]
    /// The interfaces, sorted by ring number (aligned with `ringNumbers`).
    let interfaces: [TotemOptions.Interface]
    /// The unicast socket of each ring as bound (with the real port when 0 was asked for),
    /// aligned with `ringNumbers`.
    public var localAddresses: [SocketAddress] { plans.map(\.unicastAddress) }
    /// How to bind each ring's sockets again after a failure.
    let plans: [RingSocketPlan]
    let rebindInterval: TimeAmount
    let state: NIOLoopBoundBox<UDPTransportState>
    let receiver: Receiver

    /// One ring's sockets.
    struct RingChannels: Sendable {
        /// Bound to the member's own address: receives unicasts (and udpu broadcasts), sends
        /// everything.
        var unicast: any Channel
        /// udp mode: bound to the group address, receives the ring's multicasts.
        var multicast: (any Channel)?

        func closeAll() {
            unicast.close(promise: nil)
            multicast?.close(promise: nil)
        }
    }

    init(eventLoop: any EventLoop, configuration: Configuration, interfaces: [TotemOptions.Interface],
         plans: [RingSocketPlan], state: NIOLoopBoundBox<UDPTransportState>, receiver: @escaping Receiver) {
        self.eventLoop = eventLoop
        self.localNodeID = configuration.localNodeID
        self.mode = configuration.mode
        self.ringNumbers = interfaces.map(\.ringNumber)
        self.interfaces = interfaces
        self.plans = plans
        self.rebindInterval = .milliseconds(Int64(configuration.rebindIntervalMilliseconds))
        self.state = state
        self.receiver = receiver
    }

    /// The bound unicast address on `ringNumber`.
    public func localAddress(onRing ringNumber: UInt8) -> SocketAddress? {
        ringNumbers.firstIndex(of: ringNumber).map { localAddresses[$0] }
    }

    // MARK: Sending

    /// Encodes `packet` for `ringNumber`, seals it and sends it. Never blocks and never
    /// fails: a datagram that cannot go is counted (`UDPTransportDrop`). `ringNumber` must
    /// be one of `ringNumbers` (a programmer error otherwise).
    public func send(_ packet: TotemPacket, to destination: Destination, onRing ringNumber: UInt8) {
        guard let index = ringNumbers.firstIndex(of: ringNumber) else {
            preconditionFailure("UDPTransport.send: ring \(ringNumber) is not configured (\(ringNumbers))")
        }
        if eventLoop.inEventLoop {
            sendOnLoop(packet, to: destination, ringIndex: index)
        } else {
            eventLoop.execute { self.sendOnLoop(packet, to: destination, ringIndex: index) }
        }
    }

    private func sendOnLoop(_ packet: TotemPacket, to destination: Destination, ringIndex index: Int) {
        switch state.value.prepare(packet, to: destination, ringIndex: index) {
        case .nothing:
            return
        case .loopback(let received):
            // Not inline: the caller is in the middle of handling an event, and the core
            // must see this one after it, like any other arrival.
            eventLoop.execute { self.receiver(received) }
        case .send(let outgoing):
            let channel = outgoing.channel
            let buffer = outgoing.datagram
            outgoing.targets.forEach { address in
                let promise = eventLoop.makePromise(of: Void.self)
                promise.futureResult.whenFailure { [state] _ in
                    state.value.rings[index].counters.record(.sendError)
                }
                channel.write(AddressedEnvelope(remoteAddress: address, data: buffer), promise: promise)
            }
            flush(channel, now: destination != .broadcast || !Self.waitsForToken(packet))
        }
    }

    /// Only a token visit's broadcasts (messages) wait for the token that follows them. A
    /// token hold cancel, a join or a merge detect is not followed by a token: waiting for
    /// the end of the loop turn only delays it behind whatever else the turn does (a hold
    /// cancel waited for the client's `OK` to be written). corosync sends those with
    /// `totemnet_mcast_flush_send`, at once.
    static func waitsForToken(_ packet: TotemPacket) -> Bool {
        if case .mcast = packet.message { return true }
        return false
    }

    /// A unicast (the token, which Totem sends after the broadcasts of its visit) goes out at
    /// once, with every write pending before it: one `sendmmsg` for a whole token visit
    /// rather than one per datagram. Messages alone go out at the end of the loop turn; other
    /// broadcasts (`waitsForToken`) at once, with what is pending.
    /// Every ring's pending broadcasts go out before the unicast, not only its own ring's: in
    /// passive mode the token may leave on another ring than the broadcasts its seq covers,
    /// and a receiver that sees the token first would ask for them again.
    private func flush(_ channel: any Channel, now: Bool) {
        if now {
            CPGTrace.shared?.record(.unicastFlushing)
            let pending = state.value.channelsToFlush
            state.value.channelsToFlush = []
            for other in pending where other !== channel { other.flush() }
            channel.flush()
            CPGTrace.shared?.record(.unicastFlushed)
            return
        }
        guard !state.value.channelsToFlush.contains(where: { $0 === channel }) else { return }
        if state.value.channelsToFlush.isEmpty {
            eventLoop.execute { [state] in
                let channels = state.value.channelsToFlush
                state.value.channelsToFlush = []
                for channel in channels { channel.flush() }
                CPGTrace.shared?.record(.broadcastsFlushed)
            }
        }
        state.value.channelsToFlush.append(channel)
    }

    // MARK: Control

    /// Drops all traffic of `ringNumber`, in and out, while `isBlocked` (an injected fault
    /// for redundant-ring tests and the admin "inject loss" switch). Counted as
    /// `.ringBlocked` and `.sendBlocked`. The future completes once it is in effect.
    @discardableResult
    public func setRingBlocked(_ ringNumber: UInt8, _ isBlocked: Bool) -> EventLoopFuture<Void> {
        guard let index = ringNumbers.firstIndex(of: ringNumber) else {
            preconditionFailure("UDPTransport.setRingBlocked: ring \(ringNumber) is not configured")
        }
        return onLoop { state in state.rings[index].isBlocked = isBlocked }
    }

    /// Whether `ringNumber` is blocked. Call on `eventLoop`.
    public func isRingBlocked(_ ringNumber: UInt8) -> Bool {
        guard let index = ringNumbers.firstIndex(of: ringNumber) else { return false }
        return state.value.rings[index].isBlocked
    }

    /// Replaces the nodelist (a configuration reload, or a test that learns its peers'
    /// ephemeral ports after binding). The local node keeps its sockets: its own address
    /// change needs a new transport. Addresses are resolved before this returns; the future
    /// completes once the new list is in effect.
    @discardableResult
    public func updateMembers(_ members: [Member]) throws(UDPTransportError) -> EventLoopFuture<Void> {
        let configuration = Configuration(localNodeID: localNodeID, mode: mode, interfaces: interfaces,
                                          members: members)
        var resolved: [[Peer]] = []
        for interface in interfaces {
            resolved.append(try configuration.peers(on: interface))
        }
        let peersPerRing = resolved
        return onLoop { state in
            for index in state.rings.indices { state.rings[index].peers = peersPerRing[index] }
        }
    }

    /// Every ring's counters, aligned with `ringNumbers`. Call on `eventLoop`.
    public func counters() -> [UDPTransportCounters] {
        state.value.rings.map(\.counters)
    }

    /// `counters()` from anywhere.
    public func countersSnapshot() async throws -> [UDPTransportCounters] {
        try await eventLoop.submit { [state] in state.value.rings.map(\.counters) }.get()
    }

    /// Closes every socket and stops rebinding. Packets in flight are lost; later sends are
    /// counted as `.socketDown`.
    public func close() async {
        let open = try? await eventLoop.submit { [state] () -> [RingChannels] in
            state.value.isClosed = true
            var open: [RingChannels] = []
            for index in state.value.rings.indices {
                if let channels = state.value.rings[index].channels { open.append(channels) }
                state.value.rings[index].channels = nil
            }
            return open
        }.get()
        // If the loop is already gone, its shutdown closed the sockets.
        for ring in open ?? [] {
            try? await ring.unicast.close().get()
            try? await ring.multicast?.close().get()
        }
    }

    private func onLoop(_ body: @escaping @Sendable (inout UDPTransportState) -> Void) -> EventLoopFuture<Void> {
        if eventLoop.inEventLoop {
            body(&state.value)
            return eventLoop.makeSucceededVoidFuture()
        }
        return eventLoop.submit { [state] in body(&state.value) }
    }
}
