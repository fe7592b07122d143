import Basics
import Replication
import Testing
@testable import Node

/// A multicast answered `OK` that Totem's send queue cannot take yet is held with its
/// connection's later requests (NodeRuntime+CPG.swift, ProcessGroupHeldRequests.swift):
/// other connections go on, and a stop answers what is held.
@Suite(.serialized) struct RuntimeCPGHeldTests {
    @Test(.timeLimit(.minutes(1))) func aHeldMulticastHoldsOnlyItsConnectionAndAStopAnswersIt() async throws {
        let cluster = try RuntimeTestCluster(nodeCount: 1)
        defer { Task { await cluster.shutdown() } }
        try await cluster.start([0])
        #expect(await cluster.waitForRing(of: 1))
        guard let runtime = cluster.runtimes[0] else { Issue.record("no runtime"); return }
        let group = try ProcessGroupName("held")
        let (a, b) = (ConnectionID(1), ConnectionID(2))
        guard case .success(let stream) = await runtime.processGroupJoin(group, connection: a) else {
            Issue.record("join a"); return
        }
        let reader = Task { for await _ in stream {} }
        defer { reader.cancel() }
        #expect(await cluster.waitUntil { await runtime.processGroupMembers(group).count == 1 })

        // With the ring blocked nothing leaves Totem's send queue: fill it with answered
        // multicasts of the largest size until one is held (at most 16; the queue holds a
        // few MiB).
        try await runtime.setRingBlocked(0, true)
        let big = [UInt8](repeating: 0x42, count: ProcessGroupMessage.payloadBytesMax)
        var isHeld = false
        for _ in 0..<16 where !isHeld {
            #expect(await runtime.processGroupMcast(group, connection: a, payload: big) == .accepted)
            isHeld = try await runtime.eventLoop.submit { !runtime.processGroupLinks.held.isEmpty }.get()
        }
        #expect(isHeld)

        // Connection a's leave waits behind its held multicast; connection b's join does not.
        let leave = Task { await runtime.processGroupLeave(group, connection: a) }
        #expect(await cluster.waitUntil {
            (try? await runtime.eventLoop.submit { runtime.processGroupLinks.held.items.count }.get()) == 2
        })
        let joinB = await runtime.processGroupJoin(group, connection: b)
        guard case .success = joinB else { Issue.record("join b: \(joinB)"); return }

        // The node stops: the held leave is answered, the held multicast counted as dropped.
        await runtime.stop()
        #expect(await leave.value == .refused(.notRunning))
        let dropped = (try? await runtime.eventLoop.submit {
            runtime.processGroupCounters().first { $0.0 == "cpg_admitted_mcasts_dropped" }?.1
        }.get()) ?? nil
        #expect(dropped == 1)
    }
}
