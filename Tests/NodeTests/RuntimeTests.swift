import Basics
import CMap
import Foundation
import Replication
import Testing
import TotemConfig
@testable import Node

/// Three real runtimes in one process: UDP on 127.0.0.1, the peer channel over TCP, the log
/// on real files. Waits are bounded polls of `status()` (RuntimeTestCluster.waitUntil).
@Suite(.serialized)
struct RuntimeTests {
    @Test(.timeLimit(.minutes(1))) func writeAtOneNodeIsReadLinearizablyAtAnother() async throws {
        let cluster = try RuntimeTestCluster()
        try await cluster.start([0, 1, 2])
        #expect(await cluster.waitForRing(of: 3))
        let written = await cluster.write("greeting", "hello", at: 0)
        guard case .result(.ok, let index) = written else {
            Issue.record("write failed: \(String(describing: written))")
            await cluster.shutdown()
            return
        }
        let read = await cluster.read("greeting", at: 1)
        guard case .result(.value(let value, let version), _) = read else {
            Issue.record("read failed: \(String(describing: read))")
            await cluster.shutdown()
            return
        }
        #expect(value == .string("hello"))
        #expect(version == index)
        // The third node applies it too.
        let third = await cluster.read("greeting", at: 2)
        if case .result(.value(let v, _), _) = third { #expect(v == .string("hello")) } else {
            Issue.record("read at node 3 failed: \(String(describing: third))")
        }
        let status = await cluster.runtimes[1]!.status()
        #expect(status.commitIndex >= index)
        #expect(status.durableIndex >= index)
        // A snapshot covers the applied state and lands in the node's snapshots directory.
        let covered = try await cluster.runtimes[1]!.snapshot()
        #expect(covered >= index)
        let files = try FileManager.default.contentsOfDirectory(atPath: cluster.directory + "/node-2/snapshots")
        #expect(!files.isEmpty)
        #expect(await cluster.runtimes[1]!.status().snapshotIndex == covered)
        await cluster.shutdown()
    }

    @Test(.timeLimit(.minutes(1))) func trackDeliversCommittedChangesInOrder() async throws {
        let cluster = try RuntimeTestCluster()
        try await cluster.start([0, 1, 2])
        #expect(await cluster.waitForRing(of: 3))
        let (id, stream) = await cluster.runtimes[2]!.track(CMapTrackFilter(.prefix(CMapPrefix("t."))))
        var last = LogIndex.zero
        for n in 1...3 {
            let reply = await cluster.write("t.\(n)", "v\(n)", at: 0)
            if case .result(.ok, let index) = reply { last = index } else { Issue.record("write \(n): \(String(describing: reply))") }
        }
        // Once node 3 applied the last write, ending the track ends the stream: the loop below
        // reads what was delivered and cannot wait for ever.
        #expect(await cluster.waitUntil { await cluster.runtimes[2]!.status().appliedIndex >= last })
        await cluster.runtimes[2]!.untrack(id)
        var keys: [CMapKey] = []
        for await event in stream {
            if case .changed(let change) = event { keys.append(change.key) }
        }
        #expect(keys == [CMapKey("t.1"), CMapKey("t.2"), CMapKey("t.3")])
        await cluster.shutdown()
    }

    @Test(.timeLimit(.minutes(1))) func killedRuntimeRestartsFromItsDataAndCatchesUp() async throws {
        let cluster = try RuntimeTestCluster()
        try await cluster.start([0, 1, 2])
        #expect(await cluster.waitForRing(of: 3))
        let first = await cluster.write("a", "1", at: 0)
        guard case .result(.ok, let firstIndex) = first else {
            Issue.record("first write failed: \(String(describing: first))")
            await cluster.shutdown()
            return
        }
        // Node 3 must hold the first write durably before it dies.
        #expect(await cluster.waitUntil { await cluster.runtimes[2]!.status().durableIndex >= firstIndex })
        await cluster.kill(2)
        #expect(await cluster.waitForRing(of: 2))
        let second = await cluster.write("b", "2", at: 1)
        guard case .result(.ok, let secondIndex) = second else {
            Issue.record("write with node 3 down failed: \(String(describing: second))")
            await cluster.shutdown()
            return
        }
        // Recovery from its own files, before it hears from anybody.
        try await cluster.open([2])
        let recovered = await cluster.runtimes[2]!.status()
        #expect(recovered.lastIndex >= firstIndex)
        try await cluster.start([2])
        #expect(await cluster.waitForRing(of: 3))
        #expect(await cluster.waitUntil { await cluster.runtimes[2]!.status().appliedIndex >= secondIndex })
        for (key, value) in [("a", "1"), ("b", "2")] {
            let read = await cluster.read(key, at: 2)
            if case .result(.value(let v, _), _) = read { #expect(v == .string(value)) } else {
                Issue.record("read \(key) at the restarted node failed: \(String(describing: read))")
            }
        }
        await cluster.shutdown()
    }

    @Test(.timeLimit(.minutes(1))) func minorityRefusesWritesAndNothingAcknowledgedIsLost() async throws {
        let cluster = try RuntimeTestCluster()
        try await cluster.start([0, 1, 2])
        #expect(await cluster.waitForRing(of: 3))
        var acknowledged: [String] = []
        for n in 0..<5 {
            if case .result(.ok, _) = await cluster.write("ack.\(n)", "v\(n)", at: n % 3) { acknowledged.append("ack.\(n)") }
        }
        #expect(acknowledged.count == 5)

        // Two of three down: the survivor refuses writes (nothing written).
        await cluster.kill(1)
        await cluster.kill(2)
        let refused = await cluster.waitUntil {
            await cluster.runtimes[0]!.execute(.write(.set(CMapKey("lost"), .string("x")), clientID: 0, clientSeq: 0))
                == .failure(.noQuorum)
        }
        #expect(refused)

        // They come back from their files: every acknowledged write is there.
        try await cluster.start([1, 2])
        #expect(await cluster.waitForRing(of: 3))
        for key in acknowledged {
            let read = await cluster.read(key, at: 2)
            if case .result(.value, _) = read {} else { Issue.record("\(key) after the minority: \(String(describing: read))") }
        }

        // All three down and back: still there.
        for position in 0..<3 { await cluster.kill(position) }
        try await cluster.start([0, 1, 2])
        #expect(await cluster.waitForRing(of: 3))
        for key in acknowledged {
            let read = await cluster.read(key, at: 1)
            if case .result(.value, _) = read {} else { Issue.record("\(key) after a full restart: \(String(describing: read))") }
        }
        await cluster.shutdown()
    }

    @Test(.timeLimit(.minutes(1))) func stoppedRuntimeLeavesAndRefusesRequests() async throws {
        let cluster = try RuntimeTestCluster()
        try await cluster.start([0, 1, 2])
        #expect(await cluster.waitForRing(of: 3))
        let stopped = cluster.runtimes[2]!
        await stopped.stop()
        cluster.runtimes[2] = nil
        #expect(await cluster.waitForRing(of: 2))
        #expect(await stopped.execute(.read(.get(CMapKey("x")), .stale)) == .failure(.noQuorum))
        let written = await cluster.write("after-leave", "1", at: 0)
        if case .result(.ok, _) = written {} else { Issue.record("write after a leave: \(String(describing: written))") }
        await cluster.shutdown()
    }

    // Both modes. Active mode once never formed a ring (the commit token's second rotation
    // was dropped as a duplicate of the first); this test keeps that fixed.
    @Test(.timeLimit(.minutes(1)), arguments: [TotemOptions.RRPMode.passive, .active])
    func redundantRingsSurviveABlockedRingAndRecover(mode: TotemOptions.RRPMode) async throws {
        let cluster = try RuntimeTestCluster(rings: [0, 1], rrpMode: mode)
        try await cluster.start([0, 1, 2])
        #expect(await cluster.waitForRing(of: 3))
        for runtime in cluster.runtimes.compactMap({ $0 }) { try await runtime.setRingBlocked(1, true) }
        // Keep writing until every node marks ring 1 faulty (passive mode counts the tokens
        // and messages each ring receives).
        var attempt = 0
        let allFaulty = await cluster.waitUntil(attempts: 200) {
            attempt += 1
            _ = await cluster.runtimes[0]!.execute(.write(.set(CMapKey("k\(attempt % 10)"), .string("v\(attempt)")),
                                                          clientID: 0, clientSeq: 0))
            for runtime in cluster.runtimes.compactMap({ $0 }) {
                let rings = await runtime.status().rings
                guard rings.count == 2, rings[1].isFaulty, !rings[0].isFaulty else { return false }
            }
            return true
        }
        #expect(allFaulty)
        let written = await cluster.write("after", "fault", at: 1)
        if case .result(.ok, _) = written {} else { Issue.record("write after the fault: \(String(describing: written))") }
        let read = await cluster.read("after", at: 2)
        if case .result(.value(let v, _), _) = read { #expect(v == .string("fault")) } else {
            Issue.record("read after the fault: \(String(describing: read))")
        }
        // Traffic returns: the autorecovery ring test re-enables ring 1 everywhere.
        for runtime in cluster.runtimes.compactMap({ $0 }) { try await runtime.setRingBlocked(1, false) }
        let recovered = await cluster.waitUntil {
            for runtime in cluster.runtimes.compactMap({ $0 }) {
                if await runtime.status().rings.contains(where: \.isFaulty) { return false }
            }
            return true
        }
        #expect(recovered)
        await cluster.shutdown()
    }
}
