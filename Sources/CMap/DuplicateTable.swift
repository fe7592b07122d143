import Basics

/// The last request of a client and its result, kept so that a retried write (after an
/// unknown outcome) is answered, not applied twice (DESIGN.md section 4).
public struct DuplicateRecord: Equatable, Sendable {
    public var requestID: UInt64
    /// The index at which the request was applied.
    public var index: LogIndex
    public var result: CMapResult
    public init(requestID: UInt64, index: LogIndex, result: CMapResult) {
        self.requestID = requestID
        self.index = index
        self.result = result
    }
}

/// client → last request, part of the replicated state (so it is in every snapshot).
/// Bounded: beyond `maxClients` the client whose last request is oldest is forgotten (a retry
/// from it after that is applied again; that is the price of bounded memory). Eviction
/// depends only on indexes, so every node forgets the same client.
struct DuplicateTable: Sendable {
    let maxClients: Int
    /// Each client's record with its `StateHash.ofDuplicate`, kept so that replacing the
    /// record (every write of the client) does not hash the old one again.
    private var byClient = PersistentSortedMap<ClientID, HashedRecord>()
    /// Index of each client's last record → client, to find the oldest in O(log n).
    private var byAge = PersistentSortedMap<LogIndex, ClientID>()
    /// Wrapping sum of `StateHash.ofDuplicate` over the records.
    private(set) var hash: UInt64 = 0

    private struct HashedRecord: Sendable {
        var record: DuplicateRecord
        var hash: UInt64
    }

    init(maxClients: Int) {
        precondition(maxClients >= 1, "DuplicateTable needs room for a client, got \(maxClients)")
        self.maxClients = maxClients
    }

    var count: Int { byClient.count }

    subscript(client: ClientID) -> DuplicateRecord? { byClient[client]?.record }

    mutating func record(_ record: DuplicateRecord, for client: ClientID) {
        let recordHash = StateHash.ofDuplicate(client: client, record)
        let index = record.index
        if let old = byClient.updateValue(HashedRecord(record: record, hash: recordHash), forKey: client) {
            // Every record's index is in byAge (kept so below): no lookup before removing.
            byAge.removePresentValue(forKey: old.record.index)
            hash &-= old.hash
        }
        if let displaced = byAge.updateValue(client, forKey: index), displaced != client {
            // Two clients at one index: never from applying (an index applies one entry),
            // only from a corrupt snapshot. The other client is forgotten so that every
            // record keeps its index in byAge; the snapshot decoder then counts a record
            // missing and rejects the file.
            if let gone = byClient.removeValue(forKey: displaced) { hash &-= gone.hash }
        }
        hash &+= recordHash
        while byClient.count > maxClients, let (index, oldest) = byAge.first {
            byAge.removePresentValue(forKey: index)
            if let gone = byClient.removeValue(forKey: oldest) {
                hash &-= gone.hash
            }
        }
    }

    /// Every record in client order.
    func forEach(_ body: (ClientID, DuplicateRecord) -> Void) {
        byClient.forEach { body($0, $1.record); return true }
    }
}
