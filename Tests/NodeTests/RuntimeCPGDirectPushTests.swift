import Basics
import NIOCore
import Synchronization
import Replication
import Testing
@testable import Node

/// Direct pushes (ProcessGroupDirectPush.swift, NodeRuntime+CPGDirectPush.swift): once a
/// member's stream reader reaches the marker, the node writes its pushes to the sink, in
/// order with what the stream carried before; a refused batch goes back to the stream; the
/// member's final leave ends the stream with a second marker.
@Suite(.serialized) struct RuntimeCPGDirectPushTests {
    final class Sink: ProcessGroupPushSink {
        let eventLoop: any EventLoop
        private let state = Mutex<(batches: [[ProcessGroupDelivery]], refuses: Bool, unflushed: Int, flushes: Int)>(
            ([], false, 0, 0))
        init(eventLoop: any EventLoop) { self.eventLoop = eventLoop }

        var notifications: [ProcessGroupNotification] { state.withLock { $0.batches.flatMap { $0.map(\.notification) } } }
        var messages: [[UInt8]] { notifications.compactMap(Self.payload) }
        func refuse(_ refuses: Bool) { state.withLock { $0.refuses = refuses } }

        /// Batches written without a flush, and flushes.
        var unflushed: Int { state.withLock { $0.unflushed } }
        var flushes: Int { state.withLock { $0.flushes } }
        func flush() {
            #expect(eventLoop.inEventLoop)
            state.withLock { $0.flushes += 1 }
        }

        func write(_ batch: [ProcessGroupDelivery], flush: Bool) -> Bool {
            #expect(eventLoop.inEventLoop)
            return state.withLock {
                if $0.refuses { return false }
                $0.batches.append(batch)
                if !flush { $0.unflushed += 1 }
                return true
            }
        }

        static func payload(_ notification: ProcessGroupNotification) -> [UInt8]? {
            if case .message(_, let payload) = notification { payload } else { nil }
        }
    }

    /// Reads one batch (the test's time limit bounds the wait).
    static func next(_ iterator: inout AsyncStream<[ProcessGroupDelivery]>.Iterator) async -> [ProcessGroupDelivery]? {
        await iterator.next()
    }

    struct JoinRefused: Error {}

    /// Starts the one-node `cluster`, waits for its ring, and joins `group` as `connection`:
    /// the runtime and the member's stream.
    static func joined(_ cluster: RuntimeTestCluster, group: ProcessGroupName, connection: ConnectionID) async throws
        -> (NodeRuntime, AsyncStream<[ProcessGroupDelivery]>) {
        try await cluster.start([0])
        #expect(await cluster.waitForRing(of: 1))
        let runtime = try #require(cluster.runtimes[0])
        guard case .success(let stream) = await runtime.processGroupJoin(group, connection: connection) else {
            Issue.record("join refused")
            throw JoinRefused()
        }
        return (runtime, stream)
    }

    /// `joined`, then a sink attached that has taken over the member's pushes: the stream
    /// read up to the marker, and the sink said ready.
    static func joinedWithSink(_ cluster: RuntimeTestCluster, group: ProcessGroupName, connection: ConnectionID) async throws
        -> (NodeRuntime, Sink) {
        let (runtime, stream) = try await joined(cluster, group: group, connection: connection)
        let sink = Sink(eventLoop: runtime.eventLoop)
        #expect(try await runtime.eventLoop.submit {
            runtime.processGroupAttachSink(sink, group: group, connection: connection)
        }.get())
        var iterator = stream.makeAsyncIterator()
        while let batch = await next(&iterator), !batch.isEmpty {}
        try await runtime.eventLoop.submit { runtime.processGroupSinkReady(group: group, connection: connection) }.get()
        return (runtime, sink)
    }

    @Test(.timeLimit(.minutes(2))) func theSinkTakesOverInOrderAndGivesBackWhatItRefuses() async throws {
        let cluster = try RuntimeTestCluster(nodeCount: 1)
        defer { Task { await cluster.shutdown() } }
        let group = try ProcessGroupName("direct")
        let connection = ConnectionID(7)
        let (runtime, stream) = try await Self.joined(cluster, group: group, connection: connection)
        var iterator = stream.makeAsyncIterator()
        let sink = Sink(eventLoop: runtime.eventLoop)
        func mcast(_ n: UInt8) async {
            #expect(await runtime.processGroupMcast(group, connection: connection, payload: [n]) == .accepted)
        }
        func attach() async throws -> Bool {
            try await runtime.eventLoop.submit {
                runtime.processGroupAttachSink(sink, group: group, connection: connection)
            }.get()
        }
        func ready() async throws {
            try await runtime.eventLoop.submit { runtime.processGroupSinkReady(group: group, connection: connection) }.get()
        }

        // Messages 1-2 come through the stream; 3-4, handed over after the marker, are kept
        // until the reader reaches it.
        await mcast(1)
        await mcast(2)
        var beforeMarker: [[UInt8]] = []
        while beforeMarker.count < 2, let batch = await Self.next(&iterator) {
            beforeMarker += batch.compactMap { Sink.payload($0.notification) }
        }
        #expect(beforeMarker == [[1], [2]])
        #expect(try await attach())
        let second = try await attach()
        #expect(!second, "one sink at a time")
        await mcast(3)
        await mcast(4)
        #expect(await cluster.waitUntil {
            (try? await runtime.eventLoop.submit { () -> Int in
                if case .awaitingReader(_, let kept)? = runtime.processGroupLinks.directPushes[.init(connection: connection, group: group)] {
                    return kept.reduce(0) { $0 + $1.count }
                }
                return -1
            }.get()) == 2
        })
        #expect(await Self.next(&iterator) == [])
        #expect(sink.messages.isEmpty, "nothing written before the reader reached the marker")
        try await ready()
        #expect(sink.messages == [[3], [4]])
        await mcast(5)
        #expect(await cluster.waitUntil { sink.messages.count == 3 })
        #expect(sink.messages == [[3], [4], [5]])
        let direct = try await runtime.eventLoop.submit { runtime.processGroupLinks.directPushBatches }.get()
        #expect(direct >= 2)

        // Refused: the batch, and what follows, go through the stream again.
        sink.refuse(true)
        await mcast(6)
        let refused = await Self.next(&iterator)
        #expect(refused?.compactMap { Sink.payload($0.notification) } == [[6]])
        sink.refuse(false)
        await mcast(7)
        let after = await Self.next(&iterator)
        #expect(after?.compactMap { Sink.payload($0.notification) } == [[7]])

        // Attached again, then the member leaves: its leave goes to the sink, then the stream
        // ends after a second marker.
        #expect(try await attach())
        #expect(await Self.next(&iterator) == [])
        try await ready()
        #expect(await runtime.processGroupLeave(group, connection: connection) == .accepted)
        #expect(await Self.next(&iterator) == [])
        #expect(await Self.next(&iterator) == nil)
        #expect(sink.messages == [[3], [4], [5]])
        let last = sink.notifications.last
        guard case .membership(let change)? = last else {
            Issue.record("the last push is not the leave: \(String(describing: last))")
            return
        }
        #expect(change.left.map(\.member) == [ProcessGroupMember(node: NodeID(1), connection: connection)])
        #expect(try await runtime.eventLoop.submit { runtime.processGroupLinks.directPushes.isEmpty }.get())
    }

    /// A multicast admitted on the loop while the token is held is delivered before the
    /// admission returns, its push written unflushed, and flushed at the end of the turn.
    @Test(.timeLimit(.minutes(2))) func anOwnMulticastOnTheHeldTokenIsPushedBeforeTheAdmissionReturns() async throws {
        let cluster = try RuntimeTestCluster(nodeCount: 1)
        defer { Task { await cluster.shutdown() } }
        let group = try ProcessGroupName("own")
        let connection = ConnectionID(9)
        let (runtime, sink) = try await Self.joinedWithSink(cluster, group: group, connection: connection)
        // Admit until one lands on a held token (the ring holds it once idle).
        var sent: UInt8 = 0
        #expect(await cluster.waitUntil {
            sent &+= 1
            let payload = [sent]
            return (try? await runtime.eventLoop.submit { () -> Bool in
                let before = sink.unflushed
                let reply = runtime.admitProcessGroupMcast(group, connection: connection, payload: payload)
                return reply == .accepted && sink.unflushed == before + 1 && sink.messages.last == payload
            }.get()) == true
        })
        #expect(await cluster.waitUntil { sink.flushes >= 1 })
        #expect(sink.messages == (1...sent).map { [$0] }, "every message once, in order")
    }

    @Test(.timeLimit(.minutes(2))) func aClosedConnectionForgetsItsSink() async throws {
        let cluster = try RuntimeTestCluster(nodeCount: 1)
        defer { Task { await cluster.shutdown() } }
        let group = try ProcessGroupName("closed")
        let connection = ConnectionID(8)
        let (runtime, stream) = try await Self.joined(cluster, group: group, connection: connection)
        let sink = Sink(eventLoop: runtime.eventLoop)
        #expect(try await runtime.eventLoop.submit {
            runtime.processGroupAttachSink(sink, group: group, connection: connection)
        }.get())
        await runtime.processGroupConnectionClosed(connection)
        var count = 0
        for await _ in stream { count += 1 }
        #expect(count >= 1, "the marker, at least")
        #expect(try await runtime.eventLoop.submit { runtime.processGroupLinks.directPushes.isEmpty }.get())
        // Not on the loop: refused, no marker.
        #expect(!runtime.processGroupAttachSink(sink, group: group, connection: connection))
    }
}
