import Basics

/// Limits of the store, from the configuration (`store { max_value_size ... }`). They are not
/// part of a snapshot: every node of a cluster must run with the same limits, or their states
/// could diverge.
public struct CMapLimits: Equatable, Sendable {
    /// The largest value, in bytes (corosync allows 16 KiB; we default to 1 MiB).
    public var maxValueBytes: Int
    /// Clients remembered by the duplicate-request table.
    public var maxClients: Int
    /// The largest listing page.
    public var maxPageItems: UInt32

    public init(maxValueBytes: Int = 1 << 20, maxClients: Int = 100_000, maxPageItems: UInt32 = 10_000) {
        precondition(maxValueBytes >= 0 && maxValueBytes <= CMapCodec.absoluteMaxValueBytes,
                     "maxValueBytes \(maxValueBytes) outside 0...\(CMapCodec.absoluteMaxValueBytes)")
        precondition(maxClients >= 1, "maxClients must be at least 1, got \(maxClients)")
        precondition(maxPageItems >= 1, "maxPageItems must be at least 1")
        self.maxValueBytes = maxValueBytes
        self.maxClients = maxClients
        self.maxPageItems = maxPageItems
    }
}

/// What happened to a key, for tracking (corosync's CMAP_TRACK_ADD / DELETE / MODIFY).
public enum CMapChangeKind: UInt8, Sendable {
    case added = 4
    case deleted = 1
    case modified = 2
}

/// One committed change of one key. `oldValue` is nil for an add, `newValue` nil for a delete.
public struct CMapChange: Equatable, Sendable {
    public var kind: CMapChangeKind
    public var key: CMapKey
    public var oldValue: CMapValue?
    public var newValue: CMapValue?
    /// The log index whose entry made the change (the key's new version).
    public var index: LogIndex

    public init(kind: CMapChangeKind, key: CMapKey, oldValue: CMapValue?, newValue: CMapValue?, index: LogIndex) {
        self.kind = kind
        self.key = key
        self.oldValue = oldValue
        self.newValue = newValue
        self.index = index
    }
}

/// The outcome of applying one entry: the reply and the change it made, if any (an operation
/// changes at most one key).
public struct CMapApplied: Equatable, Sendable {
    public var result: CMapResult
    public var change: CMapChange?
}

/// The replicated state: the entries, the duplicate-request table, the index of the last
/// applied entry and the incremental state hash. A value type whose copy is O(1) (persistent
/// B-trees), so `let image = state` is a snapshot capture; the copy never changes when the
/// original goes on applying, and may be encoded on another thread.
public struct CMapState: Sendable {
    public let limits: CMapLimits
    var entries = KeyTree()
    var duplicates: DuplicateTable
    /// The index of the last applied entry; entries are applied in strictly increasing order.
    public internal(set) var appliedIndex: LogIndex = .zero
    /// Wrapping sum of `StateHash.ofEntry` over the entries.
    var entriesHash: UInt64 = 0

    public init(limits: CMapLimits = CMapLimits()) {
        self.limits = limits
        self.duplicates = DuplicateTable(maxClients: limits.maxClients)
    }

    /// Equal on every node that applied the same entries (the simulator's check). O(1).
    public var stateHash: UInt64 { entriesHash &+ duplicates.hash }

    /// Number of keys.
    public var count: Int { entries.count }

    /// Clients in the duplicate-request table.
    public var duplicateClientCount: Int { duplicates.count }

    // MARK: Local reads (stale reads and reads after a barrier go here, not through the log)

    public func entry(for key: CMapKey) -> CMapEntry? { entries[key] }

    public func duplicateRecord(for client: ClientID) -> DuplicateRecord? { duplicates[client] }

    /// Keys with the prefix, in O(log n) (subtree counts).
    public func count(prefix: CMapPrefix) -> Int {
        entries.rank(of: CMapKey(unchecked: prefix.upperBound)) - entries.rank(of: CMapKey(unchecked: prefix.lowerBound))
    }

    /// Up to `limit` entries with the prefix after `cursor`, in key order, and the cursor of
    /// the next page (nil when there is no more). O(log n + limit).
    public func list(prefix: CMapPrefix, after cursor: CMapKey?, limit: Int) -> (items: [CMapListItem], nextCursor: CMapKey?) {
        precondition(limit >= 1, "list: limit \(limit) must be at least 1")
        var items: [CMapListItem] = []
        var hasMore = false
        let start: CMapKey
        let inclusive: Bool
        if let cursor, !(cursor < CMapKey(unchecked: prefix.lowerBound)) {
            start = cursor
            inclusive = false
        } else {
            start = CMapKey(unchecked: prefix.lowerBound)
            inclusive = true
        }
        // Every key from the start up to this bound has the prefix: one comparison per key.
        let end = CMapKey(unchecked: prefix.upperBound)
        entries.forEach(from: start, inclusive: inclusive) { key, entry in
            guard key < end else { return false }
            if items.count == limit {
                hasMore = true
                return false
            }
            items.append(CMapListItem(key: key, entry: entry))
            return true
        }
        return (items, hasMore ? items.last?.key : nil)
    }

    /// Every entry in key order, until `body` returns false.
    public func forEach(_ body: (CMapKey, CMapEntry) -> Bool) {
        entries.forEach(body)
    }

    /// The state hash computed from scratch (tests compare it with the incremental one).
    public func recomputedStateHash() -> UInt64 {
        var h: UInt64 = 0
        entries.forEach { key, entry in
            h &+= StateHash.ofEntry(key: key, entry)
            return true
        }
        duplicates.forEach { client, record in h &+= StateHash.ofDuplicate(client: client, record) }
        return h
    }
}

extension CMapState: Equatable {
    /// Same limits, applied index, entries (with versions) and duplicate table.
    public static func == (a: CMapState, b: CMapState) -> Bool {
        guard a.limits == b.limits, a.appliedIndex == b.appliedIndex, a.count == b.count,
            a.duplicates.count == b.duplicates.count, a.stateHash == b.stateHash
        else { return false }
        var left: [(CMapKey, CMapEntry)] = []
        a.entries.forEach { left.append(($0, $1)); return true }
        var i = 0
        var equal = true
        b.entries.forEach { key, entry in
            equal = i < left.count && left[i].0 == key && left[i].1 == entry
            i += 1
            return equal
        }
        guard equal else { return false }
        var records: [(ClientID, DuplicateRecord)] = []
        a.duplicates.forEach { records.append(($0, $1)) }
        i = 0
        b.duplicates.forEach { client, record in
            if i >= records.count || records[i].0 != client || records[i].1 != record { equal = false }
            i += 1
        }
        return equal
    }
}
