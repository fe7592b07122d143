import Basics
import Synchronization
import Replication
import Testing
@testable import Node

/// Process groups on three real runtimes (UDP on loopback): the same order at every member,
/// and a killed node's members leave as node down on the survivors.
@Suite(.serialized) struct RuntimeCPGTests {
    /// Collects a stream's notifications (bounded by the test's waits).
    final class Inbox: Sendable {
        private let items = Mutex<[ProcessGroupNotification]>([])
        var all: [ProcessGroupNotification] { items.withLock { $0 } }
        func append(_ n: ProcessGroupNotification) { items.withLock { $0.append(n) } }
    }

    @Test(.timeLimit(.minutes(2))) func membersOfThreeNodesSeeOneOrderAndANodeDown() async throws {
        let cluster = try RuntimeTestCluster(nodeCount: 3)
        defer { Task { await cluster.shutdown() } }
        try await cluster.start([0, 1, 2])
        #expect(await cluster.waitForRing(of: 3))
        let group = try ProcessGroupName("runtime")
        var inboxes: [Inbox] = []
        var readers: [Task<Void, Never>] = []
        for position in 0..<3 {
            guard let runtime = cluster.runtimes[position] else { continue }
            let joined = await runtime.processGroupJoin(group, connection: ConnectionID(UInt64(10 + position)))
            guard case .success(let stream) = joined else { Issue.record("join at \(position): \(joined)"); continue }
            let inbox = Inbox()
            inboxes.append(inbox)
            readers.append(Task { for await batch in stream { for d in batch { inbox.append(d.notification) } } })
        }
        defer { for r in readers { r.cancel() } }
        #expect(await cluster.waitUntil { await cluster.runtimes[0]?.processGroupMembers(group).count == 3 })
        for round in 0..<5 {
            for position in 0..<3 {
                let reply = await cluster.runtimes[position]?.processGroupMcast(
                    group, connection: ConnectionID(UInt64(10 + position)), payload: [UInt8(round), UInt8(position)])
                #expect(reply == .accepted)
            }
        }
        func messages(_ inbox: Inbox) -> [ProcessGroupNotification] {
            inbox.all.filter { if case .message = $0 { true } else { false } }
        }
        #expect(await cluster.waitUntil { inboxes.allSatisfy { messages($0).count == 15 } })
        #expect(messages(inboxes[0]) == messages(inboxes[1]))
        #expect(messages(inboxes[1]) == messages(inboxes[2]))

        await cluster.kill(2)
        let down = ProcessGroupMemberChange(ProcessGroupMember(node: NodeID(3), connection: ConnectionID(12)), .nodeDown)
        func sawDown(_ inbox: Inbox) -> Bool {
            inbox.all.contains { if case .membership(let c) = $0 { c.left.contains(down) } else { false } }
        }
        #expect(await cluster.waitUntil { sawDown(inboxes[0]) && sawDown(inboxes[1]) })
        #expect(await cluster.runtimes[0]?.processGroupMembers(group).count == 2)
    }
}
