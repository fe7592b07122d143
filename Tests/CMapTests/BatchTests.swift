import Basics
import Testing
@testable import CMap

/// Write batches: several writes in one log entry (`CMapCodec.encodeBatch`,
/// `CMapStateMachine.applyBatch`), each with the result and change it has as an entry of
/// its own, in order.
@Suite struct BatchTests {
    let a = CMapKey("a"), b = CMapKey("b"), c = CMapKey("c")

    // MARK: Codec

    @Test func batchesRoundTripAndSingleOperationsKeepTheirEncoding() throws {
        let ops: [CMapOperation] = [
            .set(a, .string("1")), .incrementBy(a, by: 2), .delete(b), .adjust(c, by: -1),
            .compareAndSet(b, expectedVersion: LogIndex(7), value: .uint32(9)), .set(c, .binary([0, 255])),
        ]
        let bytes = CMapCodec.encodeBatch(ops)
        #expect(Array(bytes.prefix(4)) == [CMapCodec.operationVersion, 10, 6, 0])
        #expect(try CMapCodec.decodeEntryOperation(bytes) == .batch(ops))
        // A single operation decodes as one, with the bytes it always had.
        for op in ops + [.get(a), .count(CMapPrefix("a")), .list(.all, after: a, limit: 3)] {
            let single = CMapCodec.encode(op)
            #expect(try CMapCodec.decodeEntryOperation(single) == .single(op))
            #expect(try CMapCodec.decodeOperation(single) == op)
            #expect(single.count <= CMapCodec.encodedBytesEstimate(op) || CMapCodec.encodedBytesEstimate(op) == 64)
        }
        #expect(CMapCodec.encode(.set(a, .string("x"))) == [1, 3, 1, 0x61, 11, 1, 0, 0, 0, 0x78])
        // A batch is not a single operation.
        #expect(throws: CMapDecodingError.self) { try CMapCodec.decodeOperation(bytes) }
    }

    /// An entry's op is read in place from the delivered frame or log record: a slice that
    /// starts past 0 and ends before its buffer decodes as its copy does, and so does every
    /// truncation and defect of one (an error, never a read past the slice).
    @Test func slicesDecodeAsTheirCopies() throws {
        let ops: [CMapOperation] = [.set(a, .string("1")), .delete(b), .set(c, .binary([0, 255])), .incrementBy(a, by: 2)]
        let lead: [UInt8] = [10, 1, 0, 0, 0, 0, 0x61], trail: [UInt8] = [1, 3, 1, 0x62]
        for bytes in [CMapCodec.encodeBatch(ops), CMapCodec.encode(.set(CMapKey("key:000000012345"), .string("v")))] {
            let framed = lead + bytes + trail
            let slice = framed[lead.count..<(lead.count + bytes.count)]
            #expect(try CMapCodec.decodeEntryOperation(slice) == CMapCodec.decodeEntryOperation(bytes))
            for cut in 0..<bytes.count {
                #expect(throws: CMapDecodingError.self) {
                    try CMapCodec.decodeEntryOperation(framed[lead.count..<(lead.count + cut)])
                }
            }
            // The trailing bytes of the buffer are not part of the op.
            #expect(throws: CMapDecodingError.self) { try CMapCodec.decodeEntryOperation(framed[lead.count...]) }
        }
        // A bad key in a slice: the error, not a trap.
        let badKey: [UInt8] = [1, 3, 2, 0x61, 0x20, 11, 0, 0, 0, 0]
        #expect(throws: CMapDecodingError.self) { try CMapCodec.decodeEntryOperation((lead + badKey)[lead.count...]) }
    }

    @Test func whatCannotBeABatch() {
        #expect(CMapCodec.batchProblem([]) != nil)
        #expect(CMapCodec.batchProblem([.set(a, .uint8(1)), .get(a)]) != nil)
        #expect(CMapCodec.batchProblem(Array(repeating: .delete(a), count: CMapBatch.operationsMax + 1)) != nil)
        #expect(CMapCodec.batchProblem(Array(repeating: .delete(a), count: CMapBatch.operationsMax)) == nil)
    }

    @Test func malformedBatchesThrowAtEveryTruncationAndDefect() {
        let bytes = CMapCodec.encodeBatch([.set(a, .string("12")), .delete(b), .incrementBy(c, by: 3)])
        for cut in 0..<bytes.count {
            #expect(throws: CMapDecodingError.self) { try CMapCodec.decodeEntryOperation(Array(bytes.prefix(cut))) }
        }
        var defects: [[UInt8]] = []
        defects.append(bytes + [0])                                   // a byte left over
        defects.append([1, 10, 0, 0])                                 // no operation
        defects.append([1, 10, 0xFF, 0xFF] + Array(bytes.dropFirst(4)))  // count beyond the limit
        defects.append([1, 10, 200, 0] + Array(bytes.dropFirst(4)))  // count beyond the bytes
        defects.append([1, 10, 1, 0] + [1, 1, 0x61])                  // a read (get) in a batch
        defects.append([1, 10, 1, 0] + [10, 1, 0, 4, 1, 0x61])        // a batch in a batch
        defects.append([1, 10, 1, 0] + [3, 1, 0x20, 11, 0, 0, 0, 0])  // a bad key
        defects.append([2] + Array(bytes.dropFirst()))                // an unknown codec version
        for defect in defects {
            #expect(throws: CMapDecodingError.self) { try CMapCodec.decodeEntryOperation(defect) }
        }
    }

    @Test func randomlyMutatedBatchesNeverTrap() {
        var random = RandomOps(seed: 42)
        for _ in 0..<300 {
            let ops = (0..<random.int(1...8)).map { _ in CMapOperation.set(random.key(), random.value()) }
            var bytes = CMapCodec.encodeBatch(ops)
            for _ in 0..<random.int(1...4) {
                let at = random.int(0...(bytes.count - 1))
                bytes[at] = UInt8.random(in: 0...255, using: &random.rng)
            }
            // Either an error or a batch of at most the limit's writes: never a trap.
            if case .batch(let decoded)? = try? CMapCodec.decodeEntryOperation(bytes) {
                #expect(decoded.count <= CMapBatch.operationsMax && decoded.allSatisfy(\.isWrite))
            }
        }
    }

    @Test func batchResultsRoundTripAndDoNotNest() throws {
        let result = CMapResult.batch([.ok, .integer(3), .notFound, .error(.notAnInteger(key: a)),
                                       .value(.uint8(1), version: LogIndex(4))])
        #expect(try CMapCodec.decodeResult(CMapCodec.encode(result)) == result)
        #expect(throws: CMapDecodingError.self) {
            try CMapCodec.decodeResult(CMapCodec.encode(.batch([.ok, .batch([.ok])])))
        }
        #expect(throws: CMapDecodingError.self) { try CMapCodec.decodeResult([9, 0, 0, 0, 0]) }
        #expect(throws: CMapDecodingError.self) { try CMapCodec.decodeResult([9, 0xFF, 0xFF, 0xFF, 0xFF, 1]) }
    }

    // MARK: Applying

    @Test func eachOperationGetsItsOwnResultAndEventInOrderAtTheBatchIndex() {
        var m = CMapStateMachine()
        m.tracker.add(TrackID(1), filter: CMapTrackFilter(.prefix(CMapPrefix(""))))
        _ = m.apply(.set(b, .string("x")), at: LogIndex(1))
        #expect(m.tracker.take(TrackID(1)).count == 1)
        let result = m.applyBatch([
            .set(a, .string("1")),      // added
            .incrementBy(a, by: 2),     // sees the set before it: 3
            .incrementBy(b, by: 1),     // not an integer: refused, the next ones still run
            .set(a, .string("3")),      // identical: ok, no event
            .delete(c),                 // missing
            .delete(b),                 // deleted
            .adjust(a, by: 1),          // a string: wrong type
        ], at: LogIndex(2))
        #expect(result == .batch([
            .ok, .integer(3), .error(.notAnInteger(key: b)), .ok, .notFound, .ok,
            .error(.wrongType(key: a, type: .string, operation: "increment/decrement")),
        ]))
        #expect(m.state.appliedIndex == LogIndex(2))
        #expect(m.state.entry(for: a) == CMapEntry(value: .string("3"), version: LogIndex(2)))
        #expect(m.state.entry(for: b) == nil)
        #expect(m.state.stateHash == m.state.recomputedStateHash())
        #expect(m.tracker.take(TrackID(1)) == [
            .changed(CMapChange(kind: .added, key: a, oldValue: nil, newValue: .string("1"), index: LogIndex(2))),
            .changed(CMapChange(kind: .modified, key: a, oldValue: .string("1"), newValue: .string("3"), index: LogIndex(2))),
            .changed(CMapChange(kind: .deleted, key: b, oldValue: .string("x"), newValue: nil, index: LogIndex(2))),
        ])
        // The next entry follows the batch as usual.
        #expect(m.apply(.get(a), at: LogIndex(3)) == .value(.string("3"), version: LogIndex(2)))
    }

    @Test func aBatchGivesTheStateOfItsOperationsAsSeparateEntries() {
        // The same random writes, as batches and one by one: the same keys, values and
        // results (versions aside: a batch's writes share its index).
        var random = RandomOps(seed: 7, keySpace: 12)
        var batched = CMapState(), single = CMapState()
        var machine = CMapStateMachine(state: batched)
        var index: UInt64 = 0, batchIndex: UInt64 = 0
        for _ in 0..<200 {
            let ops = (0..<random.int(1...6)).map { _ in random.operation() }.filter(\.isWrite)
            guard !ops.isEmpty else { continue }
            batchIndex += 1
            let result = machine.applyBatch(ops, at: LogIndex(batchIndex))
            var results: [CMapResult] = []
            for op in ops {
                index += 1
                results.append(Self.withoutVersion(single.apply(op, at: LogIndex(index)).result))
            }
            guard case .batch(let got) = result else {
                Issue.record("not a batch: \(result)")
                return
            }
            #expect(got.map(Self.withoutVersion) == results)
        }
        batched = machine.state
        var left: [(CMapKey, CMapValue)] = [], right: [(CMapKey, CMapValue)] = []
        batched.forEach { left.append(($0, $1.value)); return true }
        single.forEach { right.append(($0, $1.value)); return true }
        #expect(left.map(\.0) == right.map(\.0) && left.map(\.1) == right.map(\.1))
        #expect(batched.stateHash == batched.recomputedStateHash())
    }

    static func withoutVersion(_ result: CMapResult) -> CMapResult {
        if case .value(let v, _) = result { return .value(v, version: .zero) }
        if case .versionMismatch = result { return .versionMismatch(current: .zero) }
        return result
    }

    @Test func aBatchIsOneRequestOfItsClient() {
        var m = CMapStateMachine(state: CMapState(limits: CMapLimits(maxClients: 4)))
        let client = ClientID(9)
        let ops: [CMapOperation] = [.incrementBy(a, by: 1), .incrementBy(a, by: 1)]
        let first = m.applyBatch(ops, at: LogIndex(1), client: client, requestID: 5)
        #expect(first == .batch([.integer(1), .integer(2)]))
        #expect(m.state.duplicateRecord(for: client) == DuplicateRecord(requestID: 5, index: LogIndex(1), result: first))
        // A retry returns the recorded results and changes nothing.
        #expect(m.applyBatch(ops, at: LogIndex(2), client: client, requestID: 5) == first)
        #expect(m.state.entry(for: a)?.value == .string("2") && m.state.appliedIndex == LogIndex(2))
        // An older request is stale, for every operation.
        let stale = CMapResult.error(.staleRequest(client: client, requestID: 4, lastRequestID: 5))
        #expect(m.applyBatch(ops, at: LogIndex(3), client: client, requestID: 4) == .batch([stale, stale]))
        // A later single write of the client goes on as usual.
        #expect(m.apply(.incrementBy(a, by: 1), at: LogIndex(4), client: client, requestID: 6) == .integer(3))
        #expect(m.state.stateHash == m.state.recomputedStateHash())
        // The record survives a snapshot.
        let state = m.state
        let bytes = try? CMapSnapshot.encode(state, epoch: Epoch(1), voters: [])
        let decoded = bytes.flatMap { try? CMapSnapshot.decode($0, limits: state.limits) }
        #expect(decoded?.state == state)
    }
}

/// The duplicate-table hash of an all-`.ok` batch result is built on the stack; snapshots
/// store the state hash, so it must equal the hash of the result's encoding, bit for bit.
@Suite struct OKBatchHashTests {
    @Test func equalsTheHashOfTheEncodingForEveryBatchSize() {
        for count in 0...(CMapBatch.operationsMax + 3) {
            let result = CMapResult.batch(Array(repeating: .ok, count: count))
            let expected = StateHash.bytes(CMapCodec.encode(result), seed: 0xA409_3822_299F_31D0)
            #expect(StateHash.ofOKBatch(count: count) == expected, "count \(count)")
            #expect(StateHash.ofResult(result) == expected, "count \(count)")
        }
    }

    @Test func aBatchWithAnotherResultTakesTheEncodedPath() {
        let result = CMapResult.batch([.ok, .notFound, .ok])
        #expect(StateHash.ofResult(result) == StateHash.bytes(CMapCodec.encode(result), seed: 0xA409_3822_299F_31D0))
        #expect(StateHash.ofResult(result) != StateHash.ofOKBatch(count: 3))
    }
}
