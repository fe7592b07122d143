import Basics
import Replication
import Testing
@testable import Node

/// ProcessGroupQuietPush: deliveries go to their members at once only when the last
/// hand-over was at least `quietNanoseconds` ago.
@Suite struct ProcessGroupQuietPushTests {
    @Test func atOnceUntilAHandOverThenAgainAfterTheQuietTime() {
        var gate = ProcessGroupQuietPush(isEnabled: true)
        #expect(gate.handsOverAtOnce(at: Instant(nanoseconds: 5)), "nothing handed over yet")
        let last = Instant(nanoseconds: 10_000_000)
        gate.handedOver(at: last)
        #expect(!gate.handsOverAtOnce(at: last))
        #expect(!gate.handsOverAtOnce(at: Instant(nanoseconds: last.nanoseconds + ProcessGroupQuietPush.quietNanoseconds - 1)))
        #expect(gate.handsOverAtOnce(at: Instant(nanoseconds: last.nanoseconds + ProcessGroupQuietPush.quietNanoseconds)))
    }

    @Test func aClockBehindTheLastHandOverCountsAsBusy() {
        var gate = ProcessGroupQuietPush(isEnabled: true)
        gate.handedOver(at: Instant(nanoseconds: 10_000_000))
        #expect(!gate.handsOverAtOnce(at: Instant(nanoseconds: 1)))
    }

    @Test func offMeansAlwaysAtTheEndOfTheTurn() {
        var gate = ProcessGroupQuietPush(isEnabled: false)
        #expect(!gate.handsOverAtOnce(at: Instant(nanoseconds: 5)))
        gate.handedOver(at: Instant(nanoseconds: 10))
        #expect(!gate.handsOverAtOnce(at: Instant(nanoseconds: 10 + 10 * ProcessGroupQuietPush.quietNanoseconds)))
    }
}

/// The runtime's side: when deliveries are rare a push is written by the step's own
/// `flushProcessGroupDeliveries`; right after a hand-over it waits for the end of the turn.
@Suite(.serialized) struct RuntimeCPGQuietPushTests {
    @Test(.timeLimit(.minutes(2))) func aRareDeliveryIsPushedAtOnceAFrequentOneAtTheEndOfTheTurn() async throws {
        let cluster = try RuntimeTestCluster(nodeCount: 1)
        defer { Task { await cluster.shutdown() } }
        let group = try ProcessGroupName("quiet")
        let connection = ConnectionID(11)
        let (runtime, sink) = try await RuntimeCPGDirectPushTests.joinedWithSink(cluster, group: group, connection: connection)
        let from = ProcessGroupMember(node: NodeID(2), connection: ConnectionID(1))
        @Sendable func delivery(_ byte: UInt8) -> ProcessGroupDelivery {
            ProcessGroupDelivery(connection: connection, group: group,
                                 notification: .message(from: from, payload: [byte]), isFinal: false)
        }

        // Nothing handed over for longer than the quiet time: written before the step
        // returns, both deliveries in one batch.
        let writtenAtOnce = try await runtime.eventLoop.submit { () -> [[UInt8]] in
            runtime.processGroupLinks.quietPush = ProcessGroupQuietPush(isEnabled: true)
            runtime.processGroupDelivered(delivery(1))
            runtime.processGroupDelivered(delivery(2))
            runtime.flushProcessGroupDeliveries()
            return sink.messages
        }.get()
        #expect(writtenAtOnce == [[1], [2]])
        #expect(try await runtime.eventLoop.submit { runtime.processGroupLinks.gathered.isEmpty }.get())

        // A hand-over just made: the push waits for the end of the loop turn. (Dated an hour
        // ahead, which counts as just made however long this machine takes between the two
        // submits: a clock behind the last hand-over means busy.)
        let writtenInTurn = try await runtime.eventLoop.submit { () -> Int in
            runtime.processGroupLinks.quietPush.handedOver(at: runtime.now() + Milliseconds(3_600_000))
            runtime.processGroupDelivered(delivery(3))
            runtime.flushProcessGroupDeliveries()
            return sink.messages.count
        }.get()
        #expect(writtenInTurn == 2)
        #expect(await cluster.waitUntil { sink.messages == [[1], [2], [3]] })
    }
}
