import Basics
import Testing
@testable import CMap

/// Every operation and error of `CMapState.apply`.
@Suite struct ApplyTests {
    var s = CMapState(limits: CMapLimits(maxValueBytes: 16, maxClients: 3, maxPageItems: 5))
    var index: UInt64 = 0

    mutating func run(_ op: CMapOperation, client: UInt64? = nil, request: UInt64? = nil) -> CMapApplied {
        index += 1
        return s.apply(op, at: LogIndex(index), client: client.map(ClientID.init), requestID: request)
    }

    let k = CMapKey("totem.token")

    @Test mutating func setGetAndVersions() {
        #expect(run(.get(k)) == CMapApplied(result: .notFound, change: nil))
        let added = run(.set(k, .uint32(1000)))
        #expect(added == CMapApplied(result: .ok, change: CMapChange(kind: .added, key: k, oldValue: nil, newValue: .uint32(1000), index: LogIndex(2))))
        #expect(run(.get(k)).result == .value(.uint32(1000), version: LogIndex(2)))
        // Replacing may change the type; the version becomes the new index.
        let modified = run(.set(k, .string("3000")))
        #expect(modified.change == CMapChange(kind: .modified, key: k, oldValue: .uint32(1000), newValue: .string("3000"), index: LogIndex(4)))
        #expect(s.entry(for: k) == CMapEntry(value: .string("3000"), version: LogIndex(4)))
        // An identical value is a no-op: no event, version kept. Another type is not identical.
        #expect(run(.set(k, .string("3000"))) == CMapApplied(result: .ok, change: nil))
        #expect(s.entry(for: k)?.version == LogIndex(4))
        #expect(run(.set(k, .binary(Array("3000".utf8)))).change?.kind == .modified)
        #expect(s.appliedIndex == LogIndex(6))
    }

    @Test mutating func advancingOverOtherEntries() {
        _ = run(.set(k, .uint8(1)))
        s.advance(to: LogIndex(10))
        #expect(s.appliedIndex == LogIndex(10) && s.entry(for: k)?.version == LogIndex(1))
        #expect(s.apply(.delete(k), at: LogIndex(11)).result == .ok)
    }

    @Test mutating func floatsCompareBitwise() {
        _ = run(.set(k, .double(.nan)))
        #expect(run(.set(k, .double(.nan))).change == nil)
        _ = run(.set(k, .double(0.0)))
        #expect(run(.set(k, .double(-0.0))).change?.kind == .modified)
    }

    @Test mutating func valueSizeLimit() {
        let big = [UInt8](repeating: 7, count: 17)
        #expect(run(.set(k, .binary(big))).result == .error(.valueTooLarge(bytes: 17, limitBytes: 16)))
        #expect(run(.compareAndSet(k, expectedVersion: .zero, value: .string(big))).result == .error(.valueTooLarge(bytes: 17, limitBytes: 16)))
        #expect(s.count == 0)
        #expect(run(.set(k, .binary(Array(big.dropLast())))).result == .ok)
    }

    @Test mutating func deleteAndGetOrDefault() {
        #expect(run(.delete(k)) == CMapApplied(result: .notFound, change: nil))
        #expect(run(.getOrDefault(k, defaultValue: .int8(-1))).result == .value(.int8(-1), version: .zero))
        _ = run(.set(k, .int8(4)))
        #expect(run(.getOrDefault(k, defaultValue: .int8(-1))).result == .value(.int8(4), version: LogIndex(3)))
        let deleted = run(.delete(k))
        #expect(deleted == CMapApplied(result: .ok, change: CMapChange(kind: .deleted, key: k, oldValue: .int8(4), newValue: nil, index: LogIndex(5))))
        #expect(s.count == 0 && s.stateHash == 0)
    }

    @Test mutating func adjustWrapsEveryIntegerType() {
        let cases: [(CMapValue, Int64, CMapValue)] = [
            (.int8(127), 1, .int8(-128)), (.int8(-128), -1, .int8(127)),
            (.uint8(255), 1, .uint8(0)), (.uint8(0), -1, .uint8(255)),
            (.int16(.max), 1, .int16(.min)), (.uint16(0), -1, .uint16(.max)),
            (.int32(.max), 1, .int32(.min)), (.uint32(.max), 1, .uint32(0)),
            (.int64(.max), 1, .int64(.min)), (.uint64(0), -1, .uint64(.max)),
            (.uint8(10), 256 + 5, .uint8(15)), (.int16(0), -70_000, .int16(Int16(truncatingIfNeeded: -70_000))),
        ]
        for (old, delta, new) in cases {
            _ = run(.set(k, old))
            let applied = run(.adjust(k, by: delta))
            #expect(applied.result == .value(new, version: LogIndex(index)), "\(old) + \(delta)")
            #expect(applied.change == CMapChange(kind: .modified, key: k, oldValue: old, newValue: new, index: LogIndex(index)))
        }
    }

    @Test mutating func adjustIsRefusedOnOtherTypesAndMissingKeys() {
        #expect(run(.adjust(k, by: 1)).result == .notFound)
        for v: CMapValue in [.float(1), .double(1), .string("1"), .binary([1])] {
            _ = run(.set(k, v))
            let before = s.entry(for: k)
            #expect(run(.adjust(k, by: 1)).result == .error(.wrongType(key: k, type: v.type, operation: "increment/decrement")))
            #expect(s.entry(for: k) == before)
        }
        // A zero delta changes nothing and keeps the version.
        _ = run(.set(k, .uint16(3)))
        let version = s.entry(for: k)?.version
        #expect(run(.adjust(k, by: 0)) == CMapApplied(result: .value(.uint16(3), version: version!), change: nil))
    }

    @Test mutating func redisIncrementBy() {
        s = CMapState(limits: CMapLimits(maxValueBytes: 64))
        #expect(run(.incrementBy(k, by: 5)) == CMapApplied(result: .integer(5), change: CMapChange(kind: .added, key: k, oldValue: nil, newValue: .string("5"), index: LogIndex(1))))
        #expect(run(.incrementBy(k, by: -7)).result == .integer(-2))
        #expect(s.entry(for: k)?.value == .string("-2"))
        _ = run(.set(k, .string(String(Int64.max - 1))))
        #expect(run(.incrementBy(k, by: 1)).result == .integer(.max))
        #expect(run(.incrementBy(k, by: 1)).result == .error(.incrementOverflow(key: k)))
        #expect(s.entry(for: k)?.value == .string(String(Int64.max)))
        _ = run(.set(k, .string(String(Int64.min))))
        #expect(run(.incrementBy(k, by: -1)).result == .error(.incrementOverflow(key: k)))
        for bad in ["", "abc", " 1", "1 ", "01", "-0", "+1", "1.5", "99999999999999999999", "-"] {
            _ = run(.set(k, .string(bad)))
            #expect(run(.incrementBy(k, by: 1)).result == .error(.notAnInteger(key: k)), "\(bad)")
        }
        // Integer-typed keys wrap as CMAP does; other types are refused.
        _ = run(.set(k, .uint8(250)))
        #expect(run(.incrementBy(k, by: 10)).result == .value(.uint8(4), version: LogIndex(index)))
        _ = run(.set(k, .double(1)))
        #expect(run(.incrementBy(k, by: 1)).result == .error(.wrongType(key: k, type: .double, operation: "increment")))
    }

    @Test func parseDecimal() {
        #expect(CMapState.parseDecimal(Array("0".utf8)) == 0)
        #expect(CMapState.parseDecimal(Array("-9223372036854775808".utf8)) == .min)
        #expect(CMapState.parseDecimal(Array("9223372036854775807".utf8)) == .max)
        #expect(CMapState.parseDecimal(Array("9223372036854775808".utf8)) == nil)
        #expect(CMapState.parseDecimal(Array("-12".utf8)) == -12)
    }

    @Test mutating func compareAndSetOnVersions() {
        #expect(run(.compareAndSet(k, expectedVersion: LogIndex(1), value: .int32(1))).result == .versionMismatch(current: .zero))
        #expect(run(.compareAndSet(k, expectedVersion: .zero, value: .int32(1))).change?.kind == .added)
        #expect(run(.compareAndSet(k, expectedVersion: .zero, value: .int32(2))).result == .versionMismatch(current: LogIndex(2)))
        #expect(run(.compareAndSet(k, expectedVersion: LogIndex(2), value: .int32(2))).result == .ok)
        #expect(s.entry(for: k) == CMapEntry(value: .int32(2), version: LogIndex(4)))
    }

    @Test mutating func countAndListWithCursors() {
        for name in ["a", "a.1", "a.2", "a.3", "a.30", "a.4", "a.5", "a.6", "a.7", "ab", "b.1"] {
            _ = run(.set(CMapKey(name), .uint8(1)))
        }
        #expect(run(.count(CMapPrefix("a."))).result == .count(8))
        #expect(run(.count(CMapPrefix("a"))).result == .count(10))
        #expect(run(.count(.all)).result == .count(11))
        #expect(run(.count(CMapPrefix("c"))).result == .count(0))
        func keys(_ r: CMapResult) -> ([String], String?) {
            guard case .list(let items, let next) = r else { return ([], "not a list: \(r)") }
            return (items.map(\.key.description), next?.description)
        }
        #expect(keys(run(.list(CMapPrefix("a."), after: nil, limit: 5)).result) == (["a.1", "a.2", "a.3", "a.30", "a.4"], "a.4"))
        #expect(keys(run(.list(CMapPrefix("a."), after: CMapKey("a.4"), limit: 5)).result) == (["a.5", "a.6", "a.7"], nil))
        #expect(keys(run(.list(CMapPrefix("a."), after: CMapKey("a.6"), limit: 1)).result) == (["a.7"], nil))
        #expect(keys(run(.list(CMapPrefix("a."), after: CMapKey("a"), limit: 2)).result) == (["a.1", "a.2"], "a.2"))
        #expect(keys(run(.list(CMapPrefix("zz"), after: nil, limit: 5)).result) == ([], nil))
        #expect(run(.list(.all, after: nil, limit: 0)).result == .error(.badPageSize(requested: 0, maximum: 5)))
        #expect(run(.list(.all, after: nil, limit: 6)).result == .error(.badPageSize(requested: 6, maximum: 5)))
        guard case .list(let items, _) = run(.list(CMapPrefix("ab"), after: nil, limit: 5)).result else { Issue.record("no list"); return }
        #expect(items == [CMapListItem(key: CMapKey("ab"), entry: CMapEntry(value: .uint8(1), version: LogIndex(10)))])
    }

    @Test mutating func retriedRequestsReturnTheStoredResult() {
        #expect(run(.incrementBy(k, by: 1), client: 7, request: 1).result == .integer(1))
        // The retry is answered from the table and changes nothing.
        let hash = s.stateHash
        #expect(run(.incrementBy(k, by: 1), client: 7, request: 1) == CMapApplied(result: .integer(1), change: nil))
        #expect(s.stateHash == hash && s.entry(for: k)?.value == .string("1"))
        #expect(run(.incrementBy(k, by: 1), client: 7, request: 2).result == .integer(2))
        #expect(run(.incrementBy(k, by: 1), client: 7, request: 1).result == .error(.staleRequest(client: ClientID(7), requestID: 1, lastRequestID: 2)))
        // Another client is independent; reads are not recorded.
        #expect(run(.incrementBy(k, by: 1), client: 8, request: 1).result == .integer(3))
        #expect(run(.get(k), client: 9, request: 1).result == .value(.string("3"), version: LogIndex(5)))
        #expect(s.duplicateRecord(for: ClientID(9)) == nil)
        #expect(s.duplicateRecord(for: ClientID(7)) == DuplicateRecord(requestID: 2, index: LogIndex(3), result: .integer(2)))
    }

    @Test mutating func duplicateTableForgetsTheOldestClient() {
        for client in UInt64(1)...4 { _ = run(.set(k, .uint64(client)), client: client, request: 1) }
        #expect(s.duplicateClientCount == 3)
        #expect(s.duplicateRecord(for: ClientID(1)) == nil)
        // Client 2 writes again, so client 3 is now the oldest.
        _ = run(.set(k, .uint64(9)), client: 2, request: 2)
        _ = run(.set(k, .uint64(10)), client: 5, request: 1)
        #expect(s.duplicateRecord(for: ClientID(3)) == nil)
        #expect(s.duplicateRecord(for: ClientID(2)) != nil)
        #expect(s.stateHash == s.recomputedStateHash())
    }

    @Test(arguments: [11, 12, 13, 14, 15])
    func incrementalHashEqualsRecomputation(seed: UInt64) {
        var r = RandomOps(seed: seed, keySpace: 60)
        var s = CMapState(limits: CMapLimits(maxClients: 4))
        var twin = CMapState(limits: CMapLimits(maxClients: 4))
        for i in 1...3000 {
            let op = r.operation()
            let client: ClientID? = i % 3 == 0 ? ClientID(UInt64(r.int(1...6))) : nil
            let request: UInt64? = client == nil ? nil : UInt64(i / 2)
            let a = s.apply(op, at: LogIndex(UInt64(i)), client: client, requestID: request)
            // The same entries give the same results and the same state on another node.
            let b = twin.apply(op, at: LogIndex(UInt64(i)), client: client, requestID: request)
            #expect(a == b)
            if i % 100 == 0 { #expect(s.stateHash == s.recomputedStateHash()) }
        }
        #expect(s.stateHash == s.recomputedStateHash())
        #expect(s == twin)
        #expect(s.entries.invariantViolation() == nil)
    }

    /// Paging through any prefix with any page size yields exactly the keys with that prefix,
    /// in order, and count agrees (against a filter over all entries).
    @Test(arguments: [21, 22, 23])
    func listAndCountMatchAFilter(seed: UInt64) {
        var r = RandomOps(seed: seed, keySpace: 400)
        let s = r.state(steps: 1500)
        let all = allEntries(s)
        for _ in 0..<60 {
            let prefix = r.prefix()
            let expected = all.filter { $0.0.bytes.starts(with: prefix.bytes) }.map(\.0)
            #expect(s.count(prefix: prefix) == expected.count)
            let limit = r.int(1...40)
            var cursor: CMapKey? = nil
            var seen: [CMapKey] = []
            for _ in 0...(expected.count / limit + 1) {
                let page = s.list(prefix: prefix, after: cursor, limit: limit)
                seen += page.items.map(\.key)
                guard let next = page.nextCursor else { break }
                #expect(page.items.count == limit)
                cursor = next
            }
            #expect(seen == expected, "prefix \(prefix) limit \(limit)")
        }
    }
}
