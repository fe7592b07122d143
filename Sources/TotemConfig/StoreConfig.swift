/// `store { ... }`: TotemKV's own section for the durable log and the snapshots
/// (DESIGN.md sections 5 and 6).
public struct StoreConfig: Hashable, Sendable {
    /// `data_directory`. Each node keeps its files in its own subdirectory,
    /// `ClusterConfig.dataDirectory(for:)`, so that nodes on one host never share one.
    public var dataDirectory: String
    /// `fsync: on | off`. Off is for experiments only: an acknowledged write may be lost.
    public var fsync: Bool
    /// `snapshot_entries`: take a snapshot after this many log entries.
    public var snapshotEntries: UInt64
    /// `snapshot_bytes`: ...or after this many bytes of log.
    public var snapshotBytes: UInt64
    /// `snapshot_growth_percent`: a snapshot is due by the two rules above only once the
    /// operations applied since the last snapshot add up to at least this percent of that
    /// snapshot's uncompressed size; 0 turns the rule off. Without it a large state that changes
    /// slowly is re-encoded and compressed in full every `snapshot_entries` entries, to free a
    /// log far smaller than the snapshot (Redis bounds its AOF rewrites the same way, with
    /// `auto-aof-rewrite-percentage`).
    public var snapshotGrowthPercent: UInt64
    /// `max_value_bytes`: the largest value a client may store.
    public var maxValueBytes: UInt64

    public init(dataDirectory: String = ".totemkv/data", fsync: Bool = true, snapshotEntries: UInt64 = 10_000,
                snapshotBytes: UInt64 = 64 << 20, snapshotGrowthPercent: UInt64 = 100,
                maxValueBytes: UInt64 = 1 << 20) {
        self.dataDirectory = dataDirectory
        self.fsync = fsync
        self.snapshotEntries = snapshotEntries
        self.snapshotBytes = snapshotBytes
        self.snapshotGrowthPercent = snapshotGrowthPercent
        self.maxValueBytes = maxValueBytes
    }

    static let maxSnapshotEntries: UInt64 = 1_000_000_000
    static let maxSnapshotBytes: UInt64 = 1 << 40
    static let maxSnapshotGrowthPercent: UInt64 = 10_000
    /// Values are replicated through Totem in fragments and kept in memory; 64 MiB bounds both.
    static let maxValueBytesLimit: UInt64 = 64 << 20

    static func read(_ section: ConfigSection, warnings: inout [ConfigWarning]) throws(ConfigError) -> StoreConfig {
        if let sub = section.sections.first {
            throw ConfigError("unknown section \"\(sub.name)\" in store; expected keys only", at: sub.location)
        }
        let items = try SectionItems(
            section, path: "store",
            implemented: ["data_directory", "fsync", "snapshot_entries", "snapshot_bytes", "snapshot_growth_percent",
                          "max_value_bytes"],
            corosyncOnly: [:], warnings: &warnings)
        var store = StoreConfig()
        if let item = items["data_directory"] {
            store.dataDirectory = try ConfigValues.nonEmpty(item, what: "a directory path")
        }
        if let item = items["fsync"] {
            store.fsync = try ConfigValues.boolean(item, style: .onOff)
            if !store.fsync {
                warnings.append(ConfigWarning(
                    "fsync is off: an acknowledged write can be lost if a majority of nodes crash at once",
                    at: item.valueLocation))
            }
        }
        if let item = items["snapshot_entries"] {
            store.snapshotEntries = try ConfigValues.integer(item, in: 1...maxSnapshotEntries)
        }
        if let item = items["snapshot_bytes"] {
            store.snapshotBytes = try ConfigValues.integer(item, in: 4096...maxSnapshotBytes)
        }
        if let item = items["snapshot_growth_percent"] {
            store.snapshotGrowthPercent = try ConfigValues.integer(item, in: 0...maxSnapshotGrowthPercent)
        }
        if let item = items["max_value_bytes"] {
            store.maxValueBytes = try ConfigValues.integer(item, in: 1...maxValueBytesLimit)
        }
        return store
    }
}
