import Basics
import CMap
import Replication
import Testing
@testable import Node

/// The store's largest value (1 MiB, the default `max_value_bytes`) travels through Totem
/// (fragmented), the log and the peer channel like any other write.
@Suite(.serialized)
struct RuntimeLargeValueTests {
    @Test(.timeLimit(.minutes(1))) func aWriteOfTheLargestValueCommitsAndReadsBackElsewhere() async throws {
        let cluster = try RuntimeTestCluster()
        try await cluster.start([0, 1, 2])
        #expect(await cluster.waitForRing(of: 3))
        let value = [UInt8]((0..<(1 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        let written = await cluster.runtimes[0]!.execute(
            .write(.set(CMapKey("big"), .binary(value)), clientID: 0, clientSeq: 0))
        guard case .result(.ok, _) = written else {
            Issue.record("the largest value was refused: \(String(describing: written))")
            await cluster.shutdown()
            return
        }
        let read = await cluster.runtimes[2]!.execute(.read(.get(CMapKey("big")), .linearizable))
        if case .result(.value(let stored, _), _) = read { #expect(stored == .binary(value)) } else {
            Issue.record("read of the largest value failed: \(String(describing: read))")
        }
        await cluster.shutdown()
    }
}
