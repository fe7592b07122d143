/// When to take a snapshot: every `everyEntries` applied entries or `everyBytes` bytes of
/// applied operations since the last one, whichever comes first (`store { snapshot_entries,
/// snapshot_bytes }`), and on request. The node feeds it each applied entry's size.
public struct SnapshotPolicy: Equatable, Sendable {
    /// 0 disables the entry rule.
    public var everyEntries: UInt64
    /// 0 disables the byte rule.
    public var everyBytes: UInt64
    public private(set) var entriesSinceSnapshot: UInt64 = 0
    public private(set) var bytesSinceSnapshot: UInt64 = 0

    public init(everyEntries: UInt64 = 100_000, everyBytes: UInt64 = 256 << 20) {
        self.everyEntries = everyEntries
        self.everyBytes = everyBytes
    }

    /// Counts one applied entry of `bytes` bytes; true when a snapshot is due.
    public mutating func recordApplied(bytes: Int) -> Bool {
        entriesSinceSnapshot &+= 1
        bytesSinceSnapshot &+= UInt64(max(0, bytes))
        return isDue
    }

    public var isDue: Bool {
        (everyEntries > 0 && entriesSinceSnapshot >= everyEntries) || (everyBytes > 0 && bytesSinceSnapshot >= everyBytes)
    }

    /// Call when a snapshot was started (entries applied after the captured state count
    /// towards the next one).
    public mutating func snapshotTaken() {
        entriesSinceSnapshot = 0
        bytesSinceSnapshot = 0
    }
}
