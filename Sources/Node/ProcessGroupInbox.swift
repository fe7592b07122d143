import Replication
import Synchronization

/// The way in for process-group requests: connections append, the runtime's loop drains, in
/// one order (a connection's requests are stepped in the order it made them, whatever their
/// kind). Shared between the connections' tasks and the loop, so it is behind a lock.
///
/// Why: a `CPG.MCAST` used to be one hop to the loop and one back per message, so a
/// connection's pipeline crawled at the speed of two thread wake-ups per message. Now a
/// multicast of a member the node surely has is answered at once and queued here
/// (corosync's library does the same: it reserves room in the send queue,
/// `totempg_groups_joined_reserve`, and answers `CS_ERR_TRY_AGAIN` when there is none), and
/// the loop takes everything queued in one hop.
///
/// An answered multicast is never refused afterwards for lack of room: the loop submits it
/// only once Totem's send queue can take it (`TotemInstance.canQueue`), holding it and every
/// later request here until then. What bounds the queue is `admittedBytesMax`: past it a
/// multicast waits for its reply from the core, behind its connection's earlier requests
/// (`TRYAGAIN` if Totem's queue is still full then). The one case where an answered
/// multicast is dropped is
/// a member taken out of its group by the node (it fell behind) between the answer and the
/// step; it is counted (`cpg_admitted_mcasts_dropped`).
@available(macOS 15, *)
final class ProcessGroupInbox: Sendable {
    /// Bytes of answered multicasts waiting here; past this, `TRYAGAIN`.
    static let admittedBytesMax = 1 << 20
    /// Room for Totem's envelope around a multicast's payload and group name.
    static let envelopeBytes = 64

    enum Item: Sendable {
        /// A multicast already answered `OK`.
        case admitted(ProcessGroupRequest, bytes: Int)
        /// A request whose caller waits for the core's reply. `prepare` runs on the loop
        /// first, with the request's token; a non-nil result answers without stepping.
        case waiting(ProcessGroupRequest,
                     prepare: (@Sendable (NodeRuntime, ClientToken) -> ProcessGroupReply?)?,
                     CheckedContinuation<ProcessGroupReply, Never>)

        var connection: ConnectionID {
            switch self {
            case .admitted(let request, _), .waiting(let request, _, _): request.connection
            }
        }
    }

    enum Admission: Equatable {
        case admitted
        /// The inbox does not know the member, or holds `admittedBytesMax` already: the
        /// request must go the waiting way and the core decides (which paces a connection
        /// that sends faster than the ring orders: it waits for its turn instead of spinning
        /// on `TRYAGAIN`).
        case mustWait
    }

    private struct State {
        var items: [Item] = []
        var admittedBytes = 0
        /// A drain is scheduled on the loop or running; the next appender need not schedule.
        var isDrainScheduled = false
        /// Members the core surely has (joined and answered, not yet leaving): a subset of
        /// the core's memberships, kept by the loop.
        var members: Set<ProcessGroupLinks.Key> = []
        var isStopped = false
    }

    private let state = Mutex(State())

    /// Answers a multicast at once when its member is known and there is room; returns
    /// whether the caller must schedule a drain through `needsDrain`.
    func admit(_ key: ProcessGroupLinks.Key, payload: [UInt8]) -> (Admission, needsDrain: Bool) {
        let bytes = payload.count + key.group.bytes.count + Self.envelopeBytes
        guard payload.count <= ProcessGroupMessage.payloadBytesMax else { return (.mustWait, false) }
        return state.withLock { state in
            guard !state.isStopped, state.members.contains(key),
                  state.admittedBytes == 0 || state.admittedBytes + bytes <= Self.admittedBytesMax else {
                return (.mustWait, false)
            }
            state.items.append(.admitted(.mcast(key.group, key.connection, payload: payload), bytes: bytes))
            state.admittedBytes += bytes
            return (.admitted, Self.schedule(&state))
        }
    }

    /// Queues a request whose caller waits; false when the node has stopped (not queued).
    func append(_ item: Item) -> (queued: Bool, needsDrain: Bool) {
        state.withLock { state in
            guard !state.isStopped else { return (false, false) }
            state.items.append(item)
            return (true, Self.schedule(&state))
        }
    }

    private static func schedule(_ state: inout State) -> Bool {
        guard !state.isDrainScheduled else { return false }
        state.isDrainScheduled = true
        return true
    }

    // MARK: The loop's side

    /// Everything queued, in order; when there is nothing, the drain is over (the next
    /// appender schedules one).
    func take() -> [Item] {
        state.withLock { state in
            guard !state.items.isEmpty else {
                state.isDrainScheduled = false
                return []
            }
            let items = state.items
            state.items = []
            for case .admitted(_, let bytes) in items { state.admittedBytes -= bytes }
            return items
        }
    }

    /// Puts back, in front, what the loop could not step yet (Totem's queue is full). The
    /// drain stays scheduled: the loop resumes it when Totem has room.
    func putBack(_ items: ArraySlice<Item>) {
        state.withLock { state in
            for case .admitted(_, let bytes) in items { state.admittedBytes += bytes }
            state.items.insert(contentsOf: items, at: 0)
        }
    }

    func memberAdded(_ key: ProcessGroupLinks.Key) {
        state.withLock { state in if !state.isStopped { state.members.insert(key) } }
    }

    func memberRemoved(_ key: ProcessGroupLinks.Key) {
        _ = state.withLock { state in state.members.remove(key) }
    }

    func connectionRemoved(_ connection: ConnectionID) {
        state.withLock { state in state.members = state.members.filter { $0.connection != connection } }
    }

    /// The node stopped: nothing more is admitted; returns what was queued.
    func stop() -> [Item] {
        state.withLock { state in
            state.isStopped = true
            state.members = []
            state.admittedBytes = 0
            defer { state.items = [] }
            return state.items
        }
    }
}

extension ProcessGroupRequest {
    /// The connection whose request this is (the inbox keeps each connection's order).
    var connection: ConnectionID {
        switch self {
        case .join(_, let connection), .leave(_, let connection), .mcast(_, let connection, _),
             .connectionClosed(let connection), .fellBehind(_, let connection):
            connection
        }
    }
}
