import Basics

/// One operation on the store. The replication layer stores `encoded()` in a log entry; every
/// node applies the decoded operation at the entry's index, so the result and the new state
/// are a deterministic function of (state, operation, index, client, request id).
public enum CMapOperation: Equatable, Sendable {
    /// The value and version, or `.notFound`.
    case get(CMapKey)
    /// The value and version, or `defaultValue` with version 0 when the key is missing.
    case getOrDefault(CMapKey, defaultValue: CMapValue)
    /// Creates or replaces (the type may change). An identical value is a no-op: no event,
    /// the version stays (as corosync's icmap_set).
    case set(CMapKey, CMapValue)
    /// `.ok`, or `.notFound` when missing.
    case delete(CMapKey)
    /// corosync's cmap_inc/cmap_dec generalised to a delta: integer types only, wrapping
    /// modulo the width; `.notFound` when missing. The result is the new value.
    case adjust(CMapKey, by: Int64)
    /// Redis INCRBY: a missing key counts as the string "0"; a string must hold a decimal
    /// 64-bit integer and overflow is refused (the type stays string); an integer-typed key
    /// wraps as `adjust`. The result is `.integer` for strings, `.value` for typed keys.
    case incrementBy(CMapKey, by: Int64)
    /// Sets only if the key's version equals `expectedVersion` (0 = the key must not exist);
    /// otherwise `.versionMismatch` with the current version and nothing changes.
    case compareAndSet(CMapKey, expectedVersion: LogIndex, value: CMapValue)
    /// Number of keys with the prefix.
    case count(CMapPrefix)
    /// Up to `limit` entries with the prefix, in key order, strictly after `cursor` (nil =
    /// from the start). The reply carries the cursor for the next page, nil when done.
    case list(CMapPrefix, after: CMapKey?, limit: UInt32)

    /// True when the operation can change the state (only those are kept in the
    /// duplicate-request table).
    public var isWrite: Bool {
        switch self {
        case .get, .getOrDefault, .count, .list: false
        case .set, .delete, .adjust, .incrementBy, .compareAndSet: true
        }
    }
}

/// One key of a listing page.
public struct CMapListItem: Equatable, Sendable {
    public var key: CMapKey
    public var entry: CMapEntry
    public init(key: CMapKey, entry: CMapEntry) {
        self.key = key
        self.entry = entry
    }
}

/// The reply to an operation.
public enum CMapResult: Equatable, Sendable {
    /// A write was done (or was a no-op).
    case ok
    case value(CMapValue, version: LogIndex)
    case notFound
    /// Redis-style increment of a string.
    case integer(Int64)
    case count(UInt64)
    /// A listing page; `nextCursor` is nil when there is nothing after it.
    case list([CMapListItem], nextCursor: CMapKey?)
    /// A compare-and-set found another version (0 = the key does not exist).
    case versionMismatch(current: LogIndex)
    case error(CMapError)
    /// The results of a write batch's operations, in order (`CMapStateMachine.applyBatch`):
    /// each is what the operation would give as a request of its own. Never nested.
    case batch([CMapResult])
}

/// Bounds of a write batch: several client writes carried by ONE log entry
/// (`CMapCodec.encodeBatch`), applied in order at that entry's index. A connection batches
/// the writes of a pipeline it parsed together (docs/protocol.md, Pipelining).
public enum CMapBatch {
    /// Most operations in one batch.
    public static let operationsMax = 256
    /// Most encoded bytes of one batch (all its operations; a node refuses a larger one),
    /// well under the largest op a log entry takes (`Entry.opBytesMax`, 1 MiB + 4 KiB): a
    /// larger write goes alone.
    public static let encodedBytesMax = 256 << 10
}
