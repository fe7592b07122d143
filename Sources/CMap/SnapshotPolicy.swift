/// When to take a snapshot: every `everyEntries` applied entries or `everyBytes` bytes of
/// applied operations since the last one, whichever comes first (`store { snapshot_entries,
/// snapshot_bytes }`), and on request. The node feeds it each applied entry's size.
///
/// With `growthPercent` (`store { snapshot_growth_percent }`), a snapshot is due by those
/// rules only once the bytes applied since the last snapshot reach that percent of the last
/// snapshot's uncompressed size (its header's `rawBodyBytes`: both sides counted
/// uncompressed, so well-compressing values do not make the rule moot). A snapshot costs work in proportion to the whole state, and frees
/// only the log written since the previous one; the rule keeps that cost proportional to
/// what is written (amortised O(1) per byte) when a large state changes slowly.
public struct SnapshotPolicy: Equatable, Sendable {
    /// 0 disables the entry rule.
    public var everyEntries: UInt64
    /// 0 disables the byte rule.
    public var everyBytes: UInt64
    /// 0 disables the growth rule.
    public var growthPercent: UInt64
    public private(set) var entriesSinceSnapshot: UInt64 = 0
    public private(set) var bytesSinceSnapshot: UInt64 = 0
    /// The uncompressed size of the last snapshot written (0 before the first).
    public private(set) var lastSnapshotBytes: UInt64 = 0

    public init(everyEntries: UInt64 = 100_000, everyBytes: UInt64 = 256 << 20, growthPercent: UInt64 = 0) {
        self.everyEntries = everyEntries
        self.everyBytes = everyBytes
        self.growthPercent = growthPercent
    }

    /// Counts one applied entry of `bytes` bytes; true when a snapshot is due.
    public mutating func recordApplied(bytes: Int) -> Bool {
        entriesSinceSnapshot &+= 1
        bytesSinceSnapshot &+= UInt64(max(0, bytes))
        return isDue
    }

    public var isDue: Bool {
        let byCount = (everyEntries > 0 && entriesSinceSnapshot >= everyEntries) || (everyBytes > 0 && bytesSinceSnapshot >= everyBytes)
        return byCount && hasGrownEnough
    }

    /// The growth rule, in full-width arithmetic: `since * 100 >= last * percent`.
    private var hasGrownEnough: Bool {
        guard growthPercent > 0 else { return true }
        let since = bytesSinceSnapshot.multipliedFullWidth(by: 100)
        let needed = lastSnapshotBytes.multipliedFullWidth(by: growthPercent)
        return (since.high, since.low) >= (needed.high, needed.low)
    }

    /// Call when a snapshot was started (entries applied after the captured state count
    /// towards the next one).
    public mutating func snapshotTaken() {
        entriesSinceSnapshot = 0
        bytesSinceSnapshot = 0
    }

    /// Call when a snapshot of `bytes` uncompressed bytes is durable: the growth rule
    /// measures against it.
    public mutating func snapshotWritten(bytes: Int) {
        lastSnapshotBytes = UInt64(max(0, bytes))
    }
}
