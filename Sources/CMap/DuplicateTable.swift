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
    private(set) var byClient = PersistentSortedMap<ClientID, DuplicateRecord>()
    /// Index of each client's last record → client, to find the oldest in O(log n).
    private var byAge = PersistentSortedMap<LogIndex, ClientID>()
    /// Wrapping sum of `StateHash.ofDuplicate` over the records.
    private(set) var hash: UInt64 = 0

    init(maxClients: Int) {
        precondition(maxClients >= 1, "DuplicateTable needs room for a client, got \(maxClients)")
        self.maxClients = maxClients
    }

    var count: Int { byClient.count }

    subscript(client: ClientID) -> DuplicateRecord? { byClient[client] }

    mutating func record(_ record: DuplicateRecord, for client: ClientID) {
        if let old = byClient.updateValue(record, forKey: client) {
            byAge.removeValue(forKey: old.index)
            hash &-= StateHash.ofDuplicate(client: client, old)
        }
        byAge.updateValue(client, forKey: record.index)
        hash &+= StateHash.ofDuplicate(client: client, record)
        while byClient.count > maxClients, let (index, oldest) = byAge.first {
            byAge.removeValue(forKey: index)
            if let gone = byClient.removeValue(forKey: oldest) {
                hash &-= StateHash.ofDuplicate(client: oldest, gone)
            }
        }
    }

    /// Every record in client order.
    func forEach(_ body: (ClientID, DuplicateRecord) -> Void) {
        byClient.forEach { body($0, $1); return true }
    }
}

