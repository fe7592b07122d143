/// When `GroupCommitLog` waits a little before an fdatasync so that one sync covers more
/// appends (a group-commit delay, as PostgreSQL's `commit_delay`).
///
/// Why: on a busy node every sync costs far more than the fdatasync itself: the sync
/// thread's wake-up, the durability report that wakes the event loop, and an
/// acknowledgement to every peer, each a TCP write and a wake-up on the other side
/// (measured: ~150 µs of CPU per sync cycle on the 3-node bench; Bench/results/
/// cluster-2026-11-26c.md). Appends arrive in bursts, one per Totem delivery, a few per token
/// rotation, so syncing once per burst repeats that cost several times per rotation.
///
/// The rule: a sync waits only while the log is busy, which is when the previous sync
/// covered at least `busyRecords` records (a single client never waits: its syncs cover
/// one record). It then waits until the oldest queued record has waited `window`
/// nanoseconds, or until `records` records are queued, whichever comes first. The wait
/// is measured from the record's arrival, so a sync that itself took longer than the window
/// is followed at once by the next one. A pure value: the caller supplies the clock.
public struct SyncGathering: Sendable, Equatable {
    /// How long the oldest queued record may wait for company; 0 turns gathering off.
    public var windowNanoseconds: UInt64
    /// A sync covering at least this many records marks the log busy.
    public var busyRecords: Int
    /// Enough queued records to sync at once.
    public var records: Int

    public init(windowNanoseconds: UInt64, busyRecords: Int = 8, records: Int = 256) {
        self.windowNanoseconds = windowNanoseconds
        self.busyRecords = max(1, busyRecords)
        self.records = max(1, records)
    }

    /// Never waits.
    public static let off = SyncGathering(windowNanoseconds: 0)

    /// How long to wait before syncing now, in nanoseconds (0: sync now). `oldestQueuedAt`
    /// is when the oldest queued record arrived, `lastSyncRecords` how many records the
    /// previous sync covered, `queuedRecords` how many are queued now.
    public func wait(now: UInt64, oldestQueuedAt: UInt64, lastSyncRecords: Int, queuedRecords: Int) -> UInt64 {
        guard windowNanoseconds > 0, lastSyncRecords >= busyRecords, queuedRecords > 0,
              queuedRecords < records else { return 0 }
        let waited = now >= oldestQueuedAt ? now - oldestQueuedAt : 0
        return waited >= windowNanoseconds ? 0 : windowNanoseconds - waited
    }
}
