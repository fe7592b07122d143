import Basics

/// Applying committed entries. Each operation is a deterministic function of the state and
/// the entry; a refused operation changes nothing but the applied index.
extension CMapState {
    /// Applies the operation of the entry at `index` (which must follow `appliedIndex`).
    /// With a client and request id, a write is recorded in the duplicate-request table; a
    /// retry of the client's last request returns the recorded result and changes nothing.
    public mutating func apply(
        _ op: CMapOperation, at index: LogIndex, client: ClientID? = nil, requestID: UInt64? = nil
    ) -> CMapApplied {
        precondition(index > appliedIndex, "CMapState.apply: index \(index) is not after the applied index \(appliedIndex)")
        appliedIndex = index
        guard op.isWrite, let client, let requestID else {
            return execute(op, at: index)
        }
        if let last = duplicates[client] {
            if requestID == last.requestID { return CMapApplied(result: last.result, change: nil) }
            if requestID < last.requestID {
                let stale = CMapError.staleRequest(client: client, requestID: requestID, lastRequestID: last.requestID)
                return CMapApplied(result: .error(stale), change: nil)
            }
        }
        let applied = execute(op, at: index)
        duplicates.record(DuplicateRecord(requestID: requestID, index: index, result: applied.result), for: client)
        return applied
    }

    /// Applies one write of a batch entry at `index` (CMapStateMachine.applyBatch): every
    /// operation of the batch runs as that one entry, so `index` may equal the applied index.
    /// The batch's duplicate-request record is kept by the caller, once for the whole batch.
    mutating func applyInBatch(_ op: CMapOperation, at index: LogIndex) -> CMapApplied {
        precondition(index >= appliedIndex, "CMapState.applyInBatch: index \(index) is before the applied index \(appliedIndex)")
        appliedIndex = index
        return execute(op, at: index)
    }

    /// Marks the log up to `index` applied without a CMap operation (entries of other kinds:
    /// configuration changes, read barriers), so a snapshot taken next carries the right index.
    public mutating func advance(to index: LogIndex) {
        precondition(index >= appliedIndex, "CMapState.advance: index \(index) is before the applied index \(appliedIndex)")
        appliedIndex = index
    }

    private mutating func execute(_ op: CMapOperation, at index: LogIndex) -> CMapApplied {
        switch op {
        case .get(let key):
            guard let e = entries[key] else { return CMapApplied(result: .notFound, change: nil) }
            return CMapApplied(result: .value(e.value, version: e.version), change: nil)
        case .getOrDefault(let key, let defaultValue):
            let e = entries[key] ?? CMapEntry(value: defaultValue, version: .zero)
            return CMapApplied(result: .value(e.value, version: e.version), change: nil)
        case .set(let key, let value):
            return set(key, value, at: index)
        case .delete(let key):
            guard let old = entries.removeValue(forKey: key) else {
                return CMapApplied(result: .notFound, change: nil)
            }
            entriesHash &-= StateHash.ofEntry(key: key, type: old.entry.value.type, version: old.entry.version, valueHash: old.valueHash)
            let change = CMapChange(kind: .deleted, key: key, oldValue: old.entry.value, newValue: nil, index: index)
            return CMapApplied(result: .ok, change: change)
        case .adjust(let key, let delta):
            guard let old = entries[key] else { return CMapApplied(result: .notFound, change: nil) }
            guard let new = Self.wrappingAdd(old.value, delta) else {
                return refuse(.wrongType(key: key, type: old.value.type, operation: "increment/decrement"))
            }
            return setReturningValue(key, new, at: index)
        case .incrementBy(let key, let delta):
            return incrementBy(key, delta, at: index)
        case .compareAndSet(let key, let expected, let value):
            let current = entries[key]?.version ?? .zero
            guard current == expected else {
                return CMapApplied(result: .versionMismatch(current: current), change: nil)
            }
            return set(key, value, at: index)
        case .count(let prefix):
            return CMapApplied(result: .count(UInt64(count(prefix: prefix))), change: nil)
        case .list(let prefix, let cursor, let limit):
            guard limit >= 1, limit <= limits.maxPageItems else {
                return refuse(.badPageSize(requested: limit, maximum: limits.maxPageItems))
            }
            let page = list(prefix: prefix, after: cursor, limit: Int(limit))
            return CMapApplied(result: .list(page.items, nextCursor: page.nextCursor), change: nil)
        }
    }

    private func refuse(_ error: CMapError) -> CMapApplied {
        CMapApplied(result: .error(error), change: nil)
    }

    /// Creates or replaces; an identical value (same type and bytes) is a no-op without an
    /// event and keeps the version, as corosync's icmap_set.
    private mutating func set(_ key: CMapKey, _ value: CMapValue, at index: LogIndex) -> CMapApplied {
        guard value.byteCount <= limits.maxValueBytes else {
            return refuse(.valueTooLarge(bytes: value.byteCount, limitBytes: limits.maxValueBytes))
        }
        guard let change = store(key, value, at: index) else { return CMapApplied(result: .ok, change: nil) }
        return CMapApplied(result: .ok, change: change)
    }

    /// As `set`, replying with the new value and version (inc/dec on typed keys).
    private mutating func setReturningValue(_ key: CMapKey, _ value: CMapValue, at index: LogIndex) -> CMapApplied {
        let change = store(key, value, at: index)
        let version = entries[key]?.version ?? index
        return CMapApplied(result: .value(value, version: version), change: change)
    }

    /// Writes the value unless identical; returns the change, or nil for a no-op. One
    /// descent of the tree, whether the value is new, changed or identical; the value is
    /// hashed only when stored.
    private mutating func store(_ key: CMapKey, _ value: CMapValue, at index: LogIndex) -> CMapChange? {
        let (outcome, valueHash) = entries.store(key, CMapEntry(value: value, version: index))
        switch outcome {
        case .identical:
            return nil
        case .added:
            entriesHash &+= StateHash.ofEntry(key: key, type: value.type, version: index, valueHash: valueHash)
            return CMapChange(kind: .added, key: key, oldValue: nil, newValue: value, index: index)
        case .replaced(let old, let oldHash):
            entriesHash &-= StateHash.ofEntry(key: key, type: old.value.type, version: old.version, valueHash: oldHash)
            entriesHash &+= StateHash.ofEntry(key: key, type: value.type, version: index, valueHash: valueHash)
            return CMapChange(kind: .modified, key: key, oldValue: old.value, newValue: value, index: index)
        }
    }

    /// Redis INCRBY on a missing key or a decimal string (overflow refused, the type stays
    /// string); CMAP wrapping on integer-typed keys; refused on other types.
    private mutating func incrementBy(_ key: CMapKey, _ delta: Int64, at index: LogIndex) -> CMapApplied {
        let old = entries[key]
        switch old?.value {
        case nil:
            let change = store(key, .string(Array(String(delta).utf8)), at: index)
            return CMapApplied(result: .integer(delta), change: change)
        case .string(let bytes):
            guard let n = Self.parseDecimal(bytes) else { return refuse(.notAnInteger(key: key)) }
            let (sum, overflow) = n.addingReportingOverflow(delta)
            guard !overflow else { return refuse(.incrementOverflow(key: key)) }
            let change = store(key, .string(Array(String(sum).utf8)), at: index)
            return CMapApplied(result: .integer(sum), change: change)
        case let value?:
            guard let new = Self.wrappingAdd(value, delta) else {
                return refuse(.wrongType(key: key, type: value.type, operation: "increment"))
            }
            return setReturningValue(key, new, at: index)
        }
    }

    /// `value + delta` modulo the width of its integer type (the delta is reduced modulo the
    /// width first, so `-1` decrements every type); nil for non-integer types.
    static func wrappingAdd(_ value: CMapValue, _ delta: Int64) -> CMapValue? {
        switch value {
        case .int8(let v): .int8(v &+ Int8(truncatingIfNeeded: delta))
        case .uint8(let v): .uint8(v &+ UInt8(truncatingIfNeeded: delta))
        case .int16(let v): .int16(v &+ Int16(truncatingIfNeeded: delta))
        case .uint16(let v): .uint16(v &+ UInt16(truncatingIfNeeded: delta))
        case .int32(let v): .int32(v &+ Int32(truncatingIfNeeded: delta))
        case .uint32(let v): .uint32(v &+ UInt32(truncatingIfNeeded: delta))
        case .int64(let v): .int64(v &+ delta)
        case .uint64(let v): .uint64(v &+ UInt64(bitPattern: delta))
        case .float, .double, .string, .binary: nil
        }
    }

    /// A decimal 64-bit integer as Redis accepts it: optional '-', digits, no leading zero
    /// (except "0" itself), no sign on zero, no spaces, at most 20 bytes.
    static func parseDecimal(_ bytes: [UInt8]) -> Int64? {
        guard !bytes.isEmpty, bytes.count <= 20 else { return nil }
        let negative = bytes[0] == UInt8(ascii: "-")
        let digits = negative ? bytes.dropFirst() : bytes[...]
        guard let first = digits.first, digits.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
        if first == 48 { return digits.count == 1 && !negative ? 0 : nil }
        // Accumulate negatively so Int64.min parses.
        var n: Int64 = 0
        for d in digits {
            let (m, o1) = n.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.subtractingReportingOverflow(Int64(d - 48))
            if o1 || o2 { return nil }
            n = s
        }
        if negative { return n }
        let (p, o) = Int64(0).subtractingReportingOverflow(n)
        return o ? nil : p
    }
}
