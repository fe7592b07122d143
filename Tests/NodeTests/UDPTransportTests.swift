import Basics
import NIOCore
import NIOPosix
import Synchronization
import Testing
import Totem
import TotemConfig
@testable import Node

// Real sockets on 127.0.0.x with ephemeral ports. Every wait is bounded by `Inbox.timeout`;
// ordering-sensitive tests put all transports on one event loop, where a send's `sendto`
// happens inside the loop task, so datagrams sent in program order reach a socket in order.

struct InboxTimeout: Error, CustomStringConvertible {
    var wanted: Int
    var got: Int
    var description: String { "timed out waiting for \(wanted) packets, got \(got)" }
}

/// What one transport delivered, with bounded waits.
final class Inbox: Sendable {
    static let timeout: Duration = .seconds(10)

    private struct Waiter {
        var id: Int
        var count: Int
        var continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var received: [UDPTransport.Received] = []
        var waiters: [Waiter] = []
        var cancelled: Set<Int> = []
        var nextID = 0
    }

    private let state = Mutex(State())

    var receiver: UDPTransport.Receiver {
        { [self] received in self.append(received) }
    }

    var received: [UDPTransport.Received] {
        state.withLock { $0.received }
    }

    private func append(_ received: UDPTransport.Received) {
        let ready = state.withLock { state -> [CheckedContinuation<Void, any Error>] in
            state.received.append(received)
            let count = state.received.count
            let done = state.waiters.filter { $0.count <= count }
            state.waiters.removeAll { $0.count <= count }
            return done.map(\.continuation)
        }
        for continuation in ready { continuation.resume() }
    }

    /// Waits until at least `count` packets have arrived, at most `timeout`.
    @discardableResult
    func wait(forCount count: Int, timeout: Duration = Inbox.timeout) async throws -> [UDPTransport.Received] {
        let id = state.withLock { state in
            state.nextID += 1
            return state.nextID
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await withTaskCancellationHandler {
                    try await withCheckedThrowingContinuation { continuation in
                        self.register(Waiter(id: id, count: count, continuation: continuation))
                    }
                } onCancel: {
                    self.cancel(id)
                }
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                throw InboxTimeout(wanted: count, got: self.received.count)
            }
            defer { group.cancelAll() }
            try await group.next()
        }
        return received
    }

    private func register(_ waiter: Waiter) {
        let resume: Result<Void, any Error>? = state.withLock { state in
            if state.cancelled.remove(waiter.id) != nil { return .failure(CancellationError()) }
            if state.received.count >= waiter.count { return .success(()) }
            state.waiters.append(waiter)
            return nil
        }
        if let resume { waiter.continuation.resume(with: resume) }
    }

    private func cancel(_ id: Int) {
        let waiter = state.withLock { state -> Waiter? in
            guard let index = state.waiters.firstIndex(where: { $0.id == id }) else {
                state.cancelled.insert(id)
                return nil
            }
            return state.waiters.remove(at: index)
        }
        waiter?.continuation.resume(throwing: CancellationError())
    }
}

struct TestNode {
    var id: NodeID
    var transport: UDPTransport
    var inbox: Inbox
}

/// Runs `body` with an event loop group that is shut down afterwards, whatever happens.
func withLoops<T>(_ threads: Int, _ body: (MultiThreadedEventLoopGroup) async throws -> T) async throws -> T {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
    do {
        let result = try await body(group)
        try await group.shutdownGracefully()
        return result
    } catch {
        try? await group.shutdownGracefully()
        throw error
    }
}

/// Binds one transport per id, each on `host` with ephemeral ports, then gives every one the
/// full member list with the ports the others got. Node i runs on `loops[i % loops.count]`.
func bindCluster(_ ids: [UInt32], host: String = "127.0.0.1", rings: [UInt8] = [0],
                 loops: [any EventLoop], suite: PacketProtectionSuite = .none,
                 keys: [ClusterKey?]? = nil, rebindIntervalMilliseconds: UInt32 = 1000) async throws -> [TestNode] {
    let interfaces = rings.map { TotemOptions.Interface(ringNumber: $0, mcastPort: 0) }
    func member(_ id: UInt32, ports: [UInt16]) -> UDPTransport.Member {
        UDPTransport.Member(nodeID: NodeID(id), ring0: .init(host: host, port: ports[0]),
                            ring1: rings.count > 1 ? .init(host: host, port: ports[1]) : nil)
    }
    var nodes: [TestNode] = []
    for (position, id) in ids.enumerated() {
        let inbox = Inbox()
        let configuration = UDPTransport.Configuration(
            localNodeID: NodeID(id), interfaces: interfaces,
            members: [member(id, ports: rings.map { _ in 0 })],
            protectionSuite: suite, key: keys?[position], rebindIntervalMilliseconds: rebindIntervalMilliseconds)
        let transport = try await UDPTransport.bind(configuration, on: loops[position % loops.count],
                                                    receiver: inbox.receiver)
        nodes.append(TestNode(id: NodeID(id), transport: transport, inbox: inbox))
    }
    let members = nodes.map { node in
        member(node.id.rawValue, ports: node.transport.localAddresses.map { UInt16($0.port ?? 0) })
    }
    for node in nodes { try await node.transport.updateMembers(members).get() }
    return nodes
}

func ipv6LoopbackWorks() -> Bool {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    defer { try? group.syncShutdownGracefully() }
    guard let channel = try? DatagramBootstrap(group: group).bind(host: "::1", port: 0).wait() else { return false }
    try? channel.close().wait()
    return true
}

func closeAll(_ nodes: [TestNode]) async {
    for node in nodes { await node.transport.close() }
}

func mcast(from sender: UInt32, seq: UInt64, payload: [UInt8] = [1, 2, 3]) -> TotemPacket {
    let node = NodeID(sender)
    return TotemPacket(sender: node, message: .mcast(Mcast(
        ringID: RingID(representative: NodeID(1), seq: 4), originator: node, seq: seq,
        body: .application(payload))))
}

func counters(_ node: TestNode, ring: Int = 0) async throws -> UDPTransportCounters {
    try await node.transport.countersSnapshot()[ring]
}

@Suite("UDP transport: udpu")
struct UDPTransportTests {
    @Test("three nodes on one address with port overrides: broadcast and unicast")
    func broadcastAndUnicastSharedHost() async throws {
        try await withLoops(3) { group in
            let loops = (0..<3).map { _ in group.next() }
            let nodes = try await bindCluster([1, 2, 3], loops: loops)
            let (a, b, c) = (nodes[0], nodes[1], nodes[2])

            a.transport.send(mcast(from: 1, seq: 1), to: .broadcast, onRing: 0)
            let atB = try await b.inbox.wait(forCount: 1)
            let atC = try await c.inbox.wait(forCount: 1)
            #expect(atB.map(\.packet) == [mcast(from: 1, seq: 1)])
            #expect(atC.map(\.packet) == [mcast(from: 1, seq: 1)])
            #expect(atB[0].ringNumber == 0)
            #expect(atB[0].source == a.transport.localAddresses[0])

            b.transport.send(mcast(from: 2, seq: 2), to: .node(NodeID(3)), onRing: 0)
            let atC2 = try await c.inbox.wait(forCount: 2)
            #expect(atC2[1].packet == mcast(from: 2, seq: 2))
            #expect(atC2[1].source == b.transport.localAddresses[0])

            // A sent one broadcast (two datagrams) and never received anything: a node does
            // not hear its own broadcast, and B's unicast went to C only.
            let countersA = try await counters(a)
            #expect(countersA.datagramsSent == 2)
            #expect(countersA.datagramsReceived == 0)
            #expect(a.inbox.received.isEmpty)
            #expect(try await counters(c).packetsDelivered == 2)
            await closeAll(nodes)
        }
    }

    @Test("nodes on 127.0.0.2-4 share one mcastport")
    func distinctLoopbackAddressesOnePort() async throws {
        try await withLoops(1) { group in
            let loop = group.next()
            // Let the kernel pick a port free on 127.0.0.2, then use it for every node.
            let probe = try await DatagramBootstrap(group: loop).bind(host: "127.0.0.2", port: 0).get()
            let port = UInt16(probe.localAddress?.port ?? 0)
            try await probe.close().get()
            let members = (2...4).map { UDPTransport.Member(nodeID: NodeID(UInt32($0)), ring0Address: "127.0.0.\($0)") }
            var nodes: [TestNode] = []
            for id in 2...4 {
                let inbox = Inbox()
                let configuration = UDPTransport.Configuration(
                    localNodeID: NodeID(UInt32(id)),
                    interfaces: [TotemOptions.Interface(ringNumber: 0, mcastPort: port)], members: members)
                let transport = try await UDPTransport.bind(configuration, on: loop, receiver: inbox.receiver)
                #expect(transport.localAddresses[0] == (try SocketAddress(ipAddress: "127.0.0.\(id)", port: Int(port))))
                nodes.append(TestNode(id: NodeID(UInt32(id)), transport: transport, inbox: inbox))
            }
            nodes[2].transport.send(mcast(from: 4, seq: 9), to: .broadcast, onRing: 0)
            #expect(try await nodes[0].inbox.wait(forCount: 1)[0].packet == mcast(from: 4, seq: 9))
            #expect(try await nodes[1].inbox.wait(forCount: 1)[0].packet == mcast(from: 4, seq: 9))
            await closeAll(nodes)
        }
    }

    @Test("udpu over IPv6 loopback", .enabled(if: ipv6LoopbackWorks(), "no IPv6 on lo here"))
    func ipv6() async throws {
        try await withLoops(1) { group in
            let nodes = try await bindCluster([1, 2], host: "::1", loops: [group.next()])
            nodes[1].transport.send(mcast(from: 2, seq: 3), to: .broadcast, onRing: 0)
            let received = try await nodes[0].inbox.wait(forCount: 1)
            #expect(received.map(\.packet) == [mcast(from: 2, seq: 3)])
            #expect(received[0].source == nodes[1].transport.localAddresses[0])
            await closeAll(nodes)
        }
    }

    @Test("a unicast to the local node is delivered without a socket")
    func unicastToSelf() async throws {
        try await withLoops(1) { group in
            let nodes = try await bindCluster([1], loops: [group.next()])
            nodes[0].transport.send(mcast(from: 1, seq: 5), to: .node(NodeID(1)), onRing: 0)
            #expect(try await nodes[0].inbox.wait(forCount: 1)[0].packet == mcast(from: 1, seq: 5))
            let counts = try await counters(nodes[0])
            #expect(counts.loopbackDeliveries == 1)
            #expect(counts.datagramsSent == 0)
            await closeAll(nodes)
        }
    }

    @Test("received packets arrive on the transport's event loop, in order")
    func deliveryOnLoopInOrder() async throws {
        try await withLoops(2) { group in
            let loops = [group.next(), group.next()]
            let nodes = try await bindCluster([1], loops: [loops[0]])
            let onLoop = Mutex<[Bool]>([])
            let inbox = Inbox()
            // A second receiver path: check the loop from inside the callback.
            let checking = try await UDPTransport.bind(
                UDPTransport.Configuration(localNodeID: NodeID(3),
                                           interfaces: [TotemOptions.Interface(ringNumber: 0, mcastPort: 0)],
                                           members: [.init(nodeID: NodeID(3), ring0Address: "127.0.0.1", port: 0)]),
                on: loops[1]) { [loop = loops[1]] received in
                    onLoop.withLock { $0.append(loop.inEventLoop) }
                    inbox.receiver(received)
                }
            let port = UInt16(checking.localAddresses[0].port ?? 0)
            let members = [
                UDPTransport.Member(nodeID: NodeID(1), ring0Address: "127.0.0.1",
                                    port: UInt16(nodes[0].transport.localAddresses[0].port ?? 0)),
                UDPTransport.Member(nodeID: NodeID(3), ring0Address: "127.0.0.1", port: port),
            ]
            try await nodes[0].transport.updateMembers(members).get()
            try await checking.updateMembers(members).get()
            let count = 50
            for seq in 1...count {
                nodes[0].transport.send(mcast(from: 1, seq: UInt64(seq)), to: .node(NodeID(3)), onRing: 0)
            }
            let received = try await inbox.wait(forCount: count)
            #expect(received.map(\.packet) == (1...count).map { mcast(from: 1, seq: UInt64($0)) })
            #expect(onLoop.withLock { $0 } == Array(repeating: true, count: count))
            await checking.close()
            await closeAll(nodes)
        }
    }

    @Test("configuration errors are reported, not trapped")
    func configurationErrors() async throws {
        try await withLoops(1) { group in
            let loop = group.next()
            let interface = TotemOptions.Interface(ringNumber: 0, mcastPort: 0)
            func bindError(_ configuration: UDPTransport.Configuration) async -> String? {
                do {
                    let transport = try await UDPTransport.bind(configuration, on: loop) { _ in }
                    await transport.close()
                    return nil
                } catch {
                    return error.description
                }
            }
            let me = UDPTransport.Member(nodeID: NodeID(1), ring0Address: "127.0.0.1", port: 0)
            #expect(await bindError(.init(localNodeID: NodeID(2), interfaces: [interface], members: [me]))
                == "the local node 2 is not in the nodelist")
            #expect(await bindError(.init(localNodeID: NodeID(1), interfaces: [], members: [me]))
                == "no interface configured")
            #expect(await bindError(.init(localNodeID: NodeID(1),
                                          interfaces: [interface, TotemOptions.Interface(ringNumber: 1)],
                                          members: [me]))
                == "node 1 has no ring1_addr but interface ringnumber 1 is configured")
            #expect(await bindError(.init(localNodeID: NodeID(1), interfaces: [interface], members: [me, me]))
                == "node 1 is listed twice in the nodelist")
            #expect(await bindError(.init(localNodeID: NodeID(1), interfaces: [interface], members: [me],
                                          protectionSuite: .init(cipher: .aes256, hash: .sha256)))?
                .contains("needs a key file") == true)
            #expect(await bindError(.init(localNodeID: NodeID(1), mode: .udp, interfaces: [interface],
                                          members: [me]))
                == "transport udp needs mcastaddr in interface ringnumber 0")
            let bad = UDPTransport.Member(nodeID: NodeID(1), ring0Address: "no-such-host.invalid", port: 0)
            #expect(await bindError(.init(localNodeID: NodeID(1), interfaces: [interface], members: [bad]))?
                .hasPrefix("ring 0: cannot use address no-such-host.invalid") == true)
            var options = TotemOptions(nodeCount: 3)
            options.transport = .knet
            #expect(throws: UDPTransportError.self) {
                try UDPTransport.Configuration(localNodeID: NodeID(1), options: options, members: [me], key: nil)
            }
        }
    }
}
