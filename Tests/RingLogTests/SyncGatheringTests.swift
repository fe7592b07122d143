import Basics
import RingLog
import Simulation
import Testing

@Suite("SyncGathering")
struct SyncGatheringTests {
    let gathering = SyncGathering(windowNanoseconds: 500_000, busyRecords: 8, records: 256)

    @Test func aLogThatIsNotBusySyncsAtOnce() {
        // The previous sync covered fewer than `busyRecords` records (one client): no wait.
        #expect(gathering.wait(now: 1_000, oldestQueuedAt: 1_000, lastSyncRecords: 7, queuedRecords: 1) == 0)
        #expect(SyncGathering.off.wait(now: 0, oldestQueuedAt: 0, lastSyncRecords: 1_000, queuedRecords: 1) == 0)
    }

    @Test func aBusyLogWaitsUntilTheOldestRecordHasWaitedTheWindow() {
        #expect(gathering.wait(now: 1_000_000, oldestQueuedAt: 1_000_000, lastSyncRecords: 8, queuedRecords: 3) == 500_000)
        #expect(gathering.wait(now: 1_200_000, oldestQueuedAt: 1_000_000, lastSyncRecords: 8, queuedRecords: 3) == 300_000)
        // Waited the window already (the previous sync took that long): at once.
        #expect(gathering.wait(now: 1_500_000, oldestQueuedAt: 1_000_000, lastSyncRecords: 8, queuedRecords: 3) == 0)
        #expect(gathering.wait(now: 9_000_000, oldestQueuedAt: 1_000_000, lastSyncRecords: 8, queuedRecords: 3) == 0)
        // A clock that went backwards counts as no wait yet, never as an underflow.
        #expect(gathering.wait(now: 900_000, oldestQueuedAt: 1_000_000, lastSyncRecords: 8, queuedRecords: 3) == 500_000)
    }

    @Test func enoughQueuedRecordsOrNoneSyncAtOnce() {
        #expect(gathering.wait(now: 0, oldestQueuedAt: 0, lastSyncRecords: 100, queuedRecords: 256) == 0)
        #expect(gathering.wait(now: 0, oldestQueuedAt: 0, lastSyncRecords: 100, queuedRecords: 0) == 0)
    }

    /// With gathering on, busy appends still all become durable, in order, and a `perform`
    /// (which never waits for the window) sees them all.
    @Test func aGatheringLogMakesEveryAppendDurable() async throws {
        let log = GroupCommitLog(try RingLog(disk: SimulatedDisk(seed: 31), directory: "/n"),
                                 gathering: SyncGathering(windowNanoseconds: 200_000, busyRecords: 2))
        for batch in 0..<50 {
            let first = UInt64(batch * 4 + 1)
            try log.append(records(first...(first + 3)))
        }
        #expect(try await log.waitDurable(through: LogIndex(200)) == LogIndex(200))
        try log.append(records(201...201))
        let read = try await log.perform { try $0.read(from: LogIndex(1), through: LogIndex(201)) }
        #expect(read == records(1...201))
        #expect(log.durableIndex == LogIndex(201))
    }
}
