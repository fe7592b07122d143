import Basics
import CMap
import Dispatch
import Foundation
import Logging
import NIOCore
import NIOPosix
import Replication
import Synchronization
import Testing
@testable import Node

/// The runtime's operational side with real runtimes: the watchdog, metrics, the node's own
/// snapshots and compaction. Waits are bounded polls (RuntimeTestCluster.waitUntil).
@Suite(.serialized)
struct RuntimeOpsTests {
    @Test(.timeLimit(.minutes(1))) func aLoopStalledBeyondTheTokenTimeoutTripsTheWatchdog() async throws {
        let cluster = try RuntimeTestCluster(nodeCount: 1)
        let expiries = Expiries()
        try await cluster.openConfigured(0) {
            $0.watchdog = true
            $0.onWatchdogExpired = { message in expiries.record(message) }
        }
        try await cluster.start([0])
        #expect(await cluster.waitForRing(of: 1))
        let runtime = try #require(cluster.runtimes[0])

        // Block the loop until the watchdog thread gives up on it (bounded: 20 s).
        let released = Atomic<Bool>(false)
        runtime.eventLoop.execute {
            let fired = expiries.semaphore.wait(timeout: .now() + .seconds(20)) == .success
            released.store(fired, ordering: .relaxed)
        }
        // The loop runs again: it notices the gap itself, reports it and stops taking part.
        #expect(await cluster.waitUntil { await runtime.status().totemState == "stopped" })
        let watchdogFired = released.load(ordering: .relaxed)
        #expect(watchdogFired, "the watchdog thread never fired")
        let messages = expiries.messages
        #expect(messages.count == 2, "\(messages)")
        #expect(messages.allSatisfy { $0.contains("longer than the 300 ms token timeout") && $0.contains("exits") })
        let status = await runtime.status()
        let stall = try #require(status.lastStall)
        #expect(stall.stall.kind == .loop)
        #expect(stall.stall.duration > 300)
        #expect(status.counters.first { $0.0 == "stalls_loop" }?.1 == 1)
        await cluster.shutdown()
    }

    @Test(.timeLimit(.minutes(1))) func aCommitMovesTheLatencyHistogramAndARejectedPacketItsCounter() async throws {
        let cluster = try RuntimeTestCluster()
        try await cluster.start([0, 1, 2])
        #expect(await cluster.waitForRing(of: 3))
        let runtime = try #require(cluster.runtimes[0])
        let commitsBefore = MetricsScrape(await runtime.metricsText()).value("totemkv_commit_latency_seconds_count") ?? 0
        let written = await cluster.write("m", "1", at: 0)
        guard case .result(.ok, _) = written else {
            Issue.record("write failed: \(String(describing: written))")
            await cluster.shutdown()
            return
        }
        let after = MetricsScrape(await runtime.metricsText())
        #expect((after.value("totemkv_commit_latency_seconds_count") ?? 0) >= commitsBefore + 1)
        #expect((after.value("totemkv_fsync_latency_seconds_count") ?? 0) >= 1)
        #expect((after.value("totemkv_token_rotations_total") ?? 0) > 0)

        // Garbage from a member's address reaches the codec and is refused there.
        let malformed = #"totemkv_packets_rejected_total{layer="transport",ring="0",reason="malformed"}"#
        let rejectedBefore = after.value(malformed) ?? 0
        let target = try #require(runtime.totemAddresses.first)
        let sender = try await DatagramBootstrap(group: cluster.group).bind(host: "127.0.0.1", port: 0).get()
        var junk = ByteBuffer()
        junk.writeBytes((0..<64).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) })
        try await sender.writeAndFlush(AddressedEnvelope(remoteAddress: target, data: junk)).get()
        let counted = await cluster.waitUntil {
            (MetricsScrape(await runtime.metricsText()).value(malformed) ?? 0) >= rejectedBefore + 1
        }
        #expect(counted)
        let info = await runtime.status().counters.first { $0.0 == "packets_rejected" }?.1 ?? 0
        #expect(info >= 1)
        try await sender.close()
        // The families come out in name order, whatever the registry's dictionaries do.
        let families = after.text.split(separator: "\n").filter { $0.hasPrefix("# TYPE ") }
        #expect(families == families.sorted())
        await cluster.shutdown()
    }

    @Test(.timeLimit(.minutes(2))) func aNodeWritingPastTheThresholdCompactsAndRestartsWithEveryEntry() async throws {
        let cluster = try RuntimeTestCluster()
        let configure: @Sendable (inout NodeRuntimeConfiguration) -> Void = {
            $0.snapshotPolicy = SnapshotPolicy(everyEntries: 20, everyBytes: 0)
            $0.logSegmentBytesMax = 2048
        }
        try await cluster.openConfigured(0, configure)
        try await cluster.start([0, 1, 2])
        #expect(await cluster.waitForRing(of: 3))
        let count = 100
        var last = LogIndex.zero
        for n in 0..<count {
            let reply = await cluster.write("k.\(n)", "value-\(n)", at: 0)
            guard case .result(.ok, let index) = reply else {
                Issue.record("write \(n) failed: \(String(describing: reply))")
                await cluster.shutdown()
                return
            }
            last = index
        }
        let runtime = try #require(cluster.runtimes[0])
        let snapshotDirectory = cluster.directory + "/node-1/snapshots"
        let snapshotFiles = { @Sendable in
            ((try? FileManager.default.contentsOfDirectory(atPath: snapshotDirectory)) ?? []).filter { $0.hasSuffix(".tkvs") }
        }
        // The policy snapshots every 20 entries and the log drops the segments below. Old
        // snapshot files go last, after the newest is in place, so while a snapshot is being
        // written there may be three for a moment: wait for the pruning too.
        let compacted = await cluster.waitUntil {
            let s = await runtime.status()
            return s.snapshotIndex.rawValue >= 60 && s.firstIndex > LogIndex(1) && snapshotFiles().count <= 2
        }
        #expect(compacted, "\(snapshotFiles().sorted())")
        let logDirectory = cluster.directory + "/node-1/log/log"
        let segments = try FileManager.default.contentsOfDirectory(atPath: logDirectory).filter { $0.hasSuffix(".seg") }
        #expect(!segments.contains("00000000000000000001.seg"), "\(segments.sorted())")
        #expect(MetricsScrape(await runtime.metricsText()).value("totemkv_log_compactions_total") ?? 0 >= 1)
        // The growth rule measures against the uncompressed size of the snapshot last written
        // (the body's size in its header), not the compressed file's.
        let rawSizes = Set(snapshotFiles().compactMap { name -> UInt64? in
            guard let data = FileManager.default.contents(atPath: snapshotDirectory + "/" + name) else { return nil }
            return try? CMapSnapshot.decodeHeader(Array(data)).header.rawBodyBytes
        })
        let lastBytes = try await runtime.eventLoop.submit { runtime.ops.snapshotPolicy.lastSnapshotBytes }.get()
        #expect(lastBytes > 0 && rawSizes.contains(lastBytes), "\(lastBytes) not in \(rawSizes.sorted())")

        // A restart loads the newest snapshot, replays the log after it, and has every entry.
        await cluster.kill(0)
        try await cluster.openConfigured(0, configure)
        let recovered = try #require(await cluster.runtimes[0]?.status())
        #expect(recovered.lastIndex >= last)
        #expect(recovered.firstIndex > LogIndex(1))
        let restarted = try #require(cluster.runtimes[0])
        let restartedBytes = try await restarted.eventLoop.submit { restarted.ops.snapshotPolicy.lastSnapshotBytes }.get()
        #expect(restartedBytes > 0, "after a restart the growth rule measures against the newest snapshot file")
        try await cluster.start([0])
        #expect(await cluster.waitForRing(of: 3))
        #expect(await cluster.waitUntil { await cluster.runtimes[0]!.status().appliedIndex >= last })
        for n in 0..<count {
            let read = await cluster.runtimes[0]!.execute(.read(.get(CMapKey("k.\(n)")), .stale))
            guard case .result(.value(let value, _), _) = read, value == .string("value-\(n)") else {
                Issue.record("k.\(n) after the restart: \(String(describing: read))")
                break
            }
        }
        await cluster.shutdown()
    }
}

/// Watchdog expiries seen by a test handler; the first one signals `semaphore`.
final class Expiries: Sendable {
    let semaphore = DispatchSemaphore(value: 0)
    private let recorded = Mutex<[String]>([])

    func record(_ message: String) {
        let isFirst = recorded.withLock {
            $0.append(message)
            return $0.count == 1
        }
        if isFirst { semaphore.signal() }
    }

    var messages: [String] { recorded.withLock { $0 } }
}

/// One METRICS scrape: the value of a sample by its full name (with labels).
struct MetricsScrape {
    let text: String

    init(_ text: String) { self.text = text }

    func value(_ series: String) -> UInt64? {
        for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.dropFirst(series.count + 1)).map { UInt64(max(0, $0)) }
        }
        return nil
    }
}

extension RuntimeTestCluster {
    /// Opens the runtime at `position` with its usual configuration changed by `modify`.
    func openConfigured(_ position: Int, _ modify: (inout NodeRuntimeConfiguration) -> Void) async throws {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        var configuration = configuration(position)
        modify(&configuration)
        runtimes[position] = try await NodeRuntime.open(configuration, on: group.next(), logger: logger)
    }
}
