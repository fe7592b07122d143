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
/// later request of its connection until then (`ProcessGroupHeldRequests`; other
/// connections go on). What bounds the memory is `admittedBytesMax`, which counts answered
/// multicasts until they are handed to Totem, here or held by the loop: past it a multicast
/// waits for its reply from the core, behind its connection's earlier requests (`TRYAGAIN`
/// if Totem's queue is still full then).
///
/// An answered multicast is not sent, and counted (`cpg_admitted_mcasts_dropped`), when the
/// core refuses it after the answer: its member was taken out of the group by the node (it
/// fell behind), or Totem refuses it as not running (the node is leaving the ring); and when
/// the node stops before stepping it. Past Totem's queue, a message fragmented across
/// packets that a configuration change cuts is dropped by Totem, like any other (counted in
/// Totem's `framesDroppedAtConfigurationChange`).
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

        var admittedBytes: Int? {
            if case .admitted(_, let bytes) = self { bytes } else { nil }
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
        /// Answered multicasts not yet handed to Totem, queued here or held by the loop.
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
    /// appender schedules one). Answered multicasts stay counted until `release`.
    func take() -> [Item] {
        state.withLock { state in
            guard !state.items.isEmpty else {
                state.isDrainScheduled = false
                return []
            }
            defer { state.items = [] }
            return state.items
        }
    }

    /// Answered multicasts of `bytes` in all were handed to Totem (or dropped).
    func release(_ bytes: Int) {
        guard bytes > 0 else { return }
        state.withLock { state in state.admittedBytes = max(0, state.admittedBytes - bytes) }
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

@available(macOS 15, *)
extension ProcessGroupInbox.Item: ProcessGroupQueuedRequest {}

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
