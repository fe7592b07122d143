import Replication

/// What the held requests need to know of an inbox item.
protocol ProcessGroupQueuedRequest {
    var connection: ConnectionID { get }
    /// The bytes of an answered multicast (it must wait for room in Totem's send queue);
    /// nil for a request whose caller waits for the core's reply.
    var admittedBytes: Int? { get }
}

/// Requests the loop took from the inbox but cannot step yet, in the order they were made:
/// an answered multicast that Totem's send queue cannot take yet, and every later request
/// of the same connection (a connection's requests are stepped in the order it made them).
/// Sans-IO; the loop routes every item it takes through `hold(_:canQueue:)` and retries the
/// held ones once Totem can take `smallestHeadBytes`.
///
/// Only the held connection waits: requests of other connections (joins, leaves, closes,
/// multicasts that fit) are stepped at once. A held multicast may so be overtaken by smaller
/// ones of other connections; what it waits for is room in Totem's queue, which the store's
/// writes share, so keeping the process groups' multicasts in one line would not promise it
/// progress either, and it would stall every connection behind one large message.
struct ProcessGroupHeldRequests<Item: ProcessGroupQueuedRequest> {
    private(set) var items: [Item] = []
    /// The connections with a held multicast (membership tests only, never iterated).
    private var connections: Set<ConnectionID> = []
    /// The smallest multicast at the head of a held connection: once Totem can take this
    /// many bytes, a retry steps at least one request.
    private(set) var smallestHeadBytes = Int.max

    var isEmpty: Bool { items.isEmpty }

    /// Holds `item` (true) behind its connection's held multicast, or as a multicast that
    /// Totem cannot take now; false: step it now.
    mutating func hold(_ item: Item, canQueue: (Int) -> Bool) -> Bool {
        if connections.contains(item.connection) {
            items.append(item)
            return true
        }
        guard let bytes = item.admittedBytes, !canQueue(bytes) else { return false }
        items.append(item)
        connections.insert(item.connection)
        smallestHeadBytes = min(smallestHeadBytes, bytes)
        return true
    }

    /// Everything held, in order, to be routed through `hold` again.
    mutating func takeAll() -> [Item] {
        defer {
            items = []
            connections = []
            smallestHeadBytes = Int.max
        }
        return items
    }
}
