import Basics
import Testing
import Zstd
@testable import CMap

/// The duplicate-request table against a plain model: a dictionary of each client's last
/// record, the client with the oldest record forgotten beyond the limit.
@Suite struct DuplicateTableTests {
    struct Model {
        var records: [ClientID: DuplicateRecord] = [:]
        let maxClients: Int

        mutating func record(_ record: DuplicateRecord, for client: ClientID) {
            records[client] = record
            while records.count > maxClients {
                guard let oldest = records.min(by: { $0.value.index < $1.value.index }) else { break }
                records[oldest.key] = nil
            }
        }
    }

    @Test(arguments: [1, 2, 3, 4])
    func matchesTheModel(seed: UInt64) {
        var rng = SeededGenerator(seed: seed)
        let maxClients = Int(seed) * 3
        var table = DuplicateTable(maxClients: maxClients)
        var model = Model(maxClients: maxClients)
        var index: UInt64 = 0
        var requestIDs: [UInt64] = Array(repeating: 0, count: 40)
        let results: [CMapResult] = [.ok, .notFound, .integer(-7), .value(.string(Array("v".utf8)), version: LogIndex(3)),
                                     .error(.notAnInteger(key: CMapKey("k")))]
        for step in 0..<3000 {
            index &+= UInt64.random(in: 1...3, using: &rng)
            // A few busy clients and a long tail, so both replacement and eviction happen.
            let c = rng.chance(0.7) ? Int.random(in: 0...3, using: &rng) : Int.random(in: 0...39, using: &rng)
            requestIDs[c] &+= 1
            let record = DuplicateRecord(requestID: requestIDs[c], index: LogIndex(index),
                                         result: results[Int.random(in: 0...(results.count - 1), using: &rng)])
            let client = ClientID(UInt64(c + 1))
            table.record(record, for: client)
            model.record(record, for: client)
            #expect(table.count == model.records.count)
            if step % 50 == 0 || step == 2999 {
                var seen: [(ClientID, DuplicateRecord)] = []
                table.forEach { seen.append(($0, $1)) }
                let expected = model.records.sorted { $0.key < $1.key }
                #expect(seen.map(\.0) == expected.map(\.key))
                #expect(seen.map(\.1) == expected.map(\.value))
                var hash: UInt64 = 0
                for (client, record) in expected { hash &+= StateHash.ofDuplicate(client: client, record) }
                #expect(table.hash == hash)
                for c in 0..<40 {
                    let id = ClientID(UInt64(c + 1))
                    #expect(table[id] == model.records[id])
                }
            }
        }
    }

    /// A copy (a snapshot capture) keeps its records while the original goes on.
    @Test func copiesAreIndependent() {
        var table = DuplicateTable(maxClients: 3)
        for i in 1...3 {
            table.record(DuplicateRecord(requestID: 1, index: LogIndex(UInt64(i)), result: .ok), for: ClientID(UInt64(i)))
        }
        let copy = table
        table.record(DuplicateRecord(requestID: 2, index: LogIndex(4), result: .ok), for: ClientID(1))
        table.record(DuplicateRecord(requestID: 1, index: LogIndex(5), result: .ok), for: ClientID(9))
        #expect(copy.count == 3)
        #expect(copy[ClientID(1)]?.requestID == 1)
        #expect(copy[ClientID(2)] != nil && copy[ClientID(9)] == nil)
        // Client 2 had the oldest record when client 9 came.
        #expect(table.count == 3 && table[ClientID(2)] == nil && table[ClientID(1)]?.requestID == 2)
    }

    /// Two records at one index cannot come from applying entries; a snapshot body that has
    /// them is refused, not loaded into a table whose age index misses a record.
    @Test func aSnapshotWithTwoRecordsAtOneIndexIsRefused() throws {
        var w = ByteWriter()
        for client in [UInt64(1), 2] {
            w.u64(client); w.u64(1); w.u64(4); w.result(.ok)
        }
        let body = w.bytes
        let compressed = try Zstd.compress(body)
        var hash: UInt64 = 0
        for client in [UInt64(1), 2] {
            hash &+= StateHash.ofDuplicate(client: ClientID(client), DuplicateRecord(requestID: 1, index: LogIndex(4), result: .ok))
        }
        let header = CMapSnapshotHeader(
            index: LogIndex(5), epoch: Epoch(1), voters: [], entryCount: 0, duplicateCount: 2,
            stateHash: hash, rawBodyBytes: UInt64(body.count), compressedBodyBytes: UInt64(compressed.count),
            rawBodyCRC: CRC32C.checksum(body), compressedBodyCRC: CRC32C.checksum(compressed))
        #expect(throws: SnapshotError.self) { try CMapSnapshot.decode(CMapSnapshot.encodeHeader(header) + compressed) }
    }
}
