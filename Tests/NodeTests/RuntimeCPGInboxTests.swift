import Basics
import Synchronization
import Replication
import Testing
@testable import Node

/// The process-group inbox (NodeRuntime+CPG.swift, ProcessGroupInbox.swift): multicasts of
/// a known member are answered at once and stepped later, in one order with the
/// connection's other requests; anything the inbox does not know goes to the core.
@Suite(.serialized) struct RuntimeCPGInboxTests {
    final class Received: Sendable {
        private let items = Mutex<[ProcessGroupNotification]>([])
        var messages: [[UInt8]] {
            items.withLock { $0.compactMap { if case .message(_, let payload) = $0 { payload } else { nil } } }
        }
        var all: [ProcessGroupNotification] { items.withLock { $0 } }
        func append(_ batch: [ProcessGroupDelivery]) { items.withLock { $0 += batch.map(\.notification) } }
    }

    static func payload(_ n: Int) -> [UInt8] { [UInt8(truncatingIfNeeded: n >> 8), UInt8(truncatingIfNeeded: n)] }

    @Test(.timeLimit(.minutes(2))) func aFloodOfAnsweredMulticastsArrivesInOrderEverywhere() async throws {
        let cluster = try RuntimeTestCluster(nodeCount: 3)
        defer { Task { await cluster.shutdown() } }
        try await cluster.start([0, 1, 2])
        #expect(await cluster.waitForRing(of: 3))
        let group = try ProcessGroupName("inbox")
        var received: [Received] = []
        var readers: [Task<Void, Never>] = []
        for position in 0..<3 {
            guard let runtime = cluster.runtimes[position] else { continue }
            let joined = await runtime.processGroupJoin(group, connection: ConnectionID(UInt64(20 + position)))
            guard case .success(let stream) = joined else { Issue.record("join at \(position): \(joined)"); continue }
            let inbox = Received()
            received.append(inbox)
            readers.append(Task { for await batch in stream { inbox.append(batch) } })
        }
        defer { for r in readers { r.cancel() } }
        #expect(received.count == 3)
        #expect(await cluster.waitUntil { await cluster.runtimes[0]?.processGroupMembers(group).count == 3 })

        // Two senders, interleaved: each one's messages keep its order at every member, and
        // every member sees one order.
        let count = 2_000
        for n in 0..<count {
            for position in 0..<2 {
                let reply = await cluster.runtimes[position]?.processGroupMcast(
                    group, connection: ConnectionID(UInt64(20 + position)), payload: [UInt8(position)] + Self.payload(n))
                #expect(reply == .accepted)
            }
        }
        #expect(await cluster.waitUntil(attempts: 2_000) { received.allSatisfy { $0.messages.count == 2 * count } })
        let orders = received.map(\.messages)
        #expect(orders[0] == orders[1])
        #expect(orders[1] == orders[2])
        for position in 0..<2 {
            let own = orders[0].filter { $0.first == UInt8(position) }
            #expect(own == (0..<count).map { [UInt8(position)] + Self.payload($0) })
        }
        let drains = await counter("cpg_inbox_drains", at: 0, cluster)
        let requests = await counter("cpg_inbox_requests", at: 0, cluster)
        #expect(drains > 0 && requests >= UInt64(count))
        #expect(await counter("cpg_admitted_mcasts_dropped", at: 0, cluster) == 0)
    }

    @Test(.timeLimit(.minutes(2))) func aLeftOrUnknownMemberIsAnsweredByTheCore() async throws {
        let cluster = try RuntimeTestCluster(nodeCount: 1)
        defer { Task { await cluster.shutdown() } }
        try await cluster.start([0])
        #expect(await cluster.waitForRing(of: 1))
        guard let runtime = cluster.runtimes[0] else { Issue.record("no runtime"); return }
        let group = try ProcessGroupName("inbox")
        let connection = ConnectionID(7)
        #expect(await runtime.processGroupMcast(group, connection: connection, payload: [1]) == .refused(.notJoined))

        let joined = await runtime.processGroupJoin(group, connection: connection)
        guard case .success(let stream) = joined else { Issue.record("join: \(joined)"); return }
        let inbox = Received()
        let reader = Task { for await batch in stream { inbox.append(batch) } }
        defer { reader.cancel() }
        // Answered at once, then a leave right behind them: the messages come before the
        // member's own leave, and a multicast after the leave is refused.
        for n in 0..<50 { #expect(await runtime.processGroupMcast(group, connection: connection, payload: Self.payload(n)) == .accepted) }
        #expect(await runtime.processGroupLeave(group, connection: connection) == .accepted)
        #expect(await runtime.processGroupMcast(group, connection: connection, payload: [2]) == .refused(.notJoined))
        #expect(await cluster.waitUntil { inbox.all.contains { if case .membership(let c) = $0 { !c.left.isEmpty } else { false } } })
        #expect(inbox.messages == (0..<50).map { Self.payload($0) })
        guard case .membership(let last)? = inbox.all.last else { Issue.record("last: \(String(describing: inbox.all.last))"); return }
        #expect(last.left.map(\.reason) == [.leave])
        #expect(await counter("cpg_admitted_mcasts_dropped", at: 0, cluster) == 0)
    }

    @Test(.timeLimit(.minutes(2))) func aMemberTakenOutForFallingBehindCanJoinAgainAtOnce() async throws {
        let cluster = try RuntimeTestCluster(nodeCount: 1)
        defer { Task { await cluster.shutdown() } }
        try await cluster.start([0])
        #expect(await cluster.waitForRing(of: 1))
        guard let runtime = cluster.runtimes[0] else { Issue.record("no runtime"); return }
        let group = try ProcessGroupName("rejoin")
        let connection = ConnectionID(9)
        guard case .success(let old) = await runtime.processGroupJoin(group, connection: connection) else {
            Issue.record("first join"); return
        }
        for n in 0..<20 { #expect(await runtime.processGroupMcast(group, connection: connection, payload: Self.payload(n)) == .accepted) }
        // Taken out as if its queue were full, then it joins again at once: the old
        // membership's messages and final leave, still on their way, must not reach (or end)
        // the new stream.
        // The ring is blocked meanwhile so that the old leave is still undelivered when the
        // new stream starts (on a one-node ring the token would otherwise deliver it first).
        let key = ProcessGroupLinks.Key(connection: connection, group: group)
        try await runtime.setRingBlocked(0, true)
        try await runtime.eventLoop.submit { runtime.memberFellBehind(key) }.get()
        let rejoined = await runtime.processGroupJoin(group, connection: connection)
        try await runtime.setRingBlocked(0, false)
        guard case .success(let stream) = rejoined else { Issue.record("rejoin: \(rejoined)"); return }
        var oldCount = 0
        for await _ in old { oldCount += 1 }
        #expect(oldCount <= 21)
        let inbox = Received()
        let reader = Task { for await batch in stream { inbox.append(batch) } }
        defer { reader.cancel() }
        #expect(await runtime.processGroupMcast(group, connection: connection, payload: [0xEE]) == .accepted)
        #expect(await cluster.waitUntil { inbox.messages.contains([0xEE]) })
        let me = ProcessGroupMember(node: NodeID(1), connection: connection)
        guard case .membership(let first)? = inbox.all.first else { Issue.record("first: \(inbox.all)"); return }
        #expect(first.joined.map(\.member) == [me])
        #expect(first.joined.map(\.reason) == [.join])
        #expect(inbox.messages == [[0xEE]])
        #expect(await counter("cpg_members_fell_behind", at: 0, cluster) == 1)
    }

    func counter(_ name: String, at position: Int, _ cluster: RuntimeTestCluster) async -> UInt64 {
        guard let runtime = cluster.runtimes[position] else { return 0 }
        let counters = (try? await runtime.eventLoop.submit { runtime.processGroupCounters() }.get()) ?? []
        return counters.first { $0.0 == name }?.1 ?? 0
    }
}
