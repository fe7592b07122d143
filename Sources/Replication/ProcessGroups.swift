import Basics
import Totem

/// Closed process groups (corosync's CPG, totem-notes section 9), sans-IO: one node's view of
/// every group, and the delivery of each group's messages and membership changes to this
/// node's members.
///
/// How the views stay equal on every node: every change of a view is a Totem message
/// (join, leave, process down, announce) applied in agreed order, or a configuration change,
/// which extended virtual synchrony delivers at the same point of that order to every node
/// that moves together. So nodes that share a history apply the same changes in the same
/// order. The rules:
/// - a message is applied only if its originator is in the last configuration delivered
///   (after a transitional configuration, a departed node's late messages are ignored by
///   everyone who delivered that transitional configuration);
/// - a transitional configuration removes the members of departed nodes (reason node down);
/// - after a regular configuration every node announces its local memberships through
///   Totem; an announcement is authoritative for its node: members it adds join (node up),
///   members of that node it omits leave (process down). This is what makes two partitions
///   agree after they merge (corosync's CPG sync joinlist/downlist).
/// An announcement lists what the node *intends* (joins and leaves it has submitted), not
/// what it has applied: Totem delivers one originator's messages in the order it submitted
/// them, so every earlier join or leave of that node is applied before its announcement.
///
/// CPG needs no quorum: it works in any ring, quorate or not.
public struct ProcessGroups: Sendable {
    public let nodeID: NodeID
    /// Members per group, sorted by (node, connection): the same list on every node.
    public internal(set) var views: [ProcessGroupName: [ProcessGroupMember]] = [:]
    /// This node's connections and the groups each asked to be in (joins and leaves
    /// submitted), in the order asked.
    public internal(set) var intents: [ConnectionID: [ProcessGroupName]] = [:]
    public internal(set) var intentCount = 0
    /// The members of the last configuration delivered (transitional or regular).
    public internal(set) var configurationMembers: [NodeID] = []
    /// The last regular configuration; announcements of another ring are stale.
    public internal(set) var ringID: RingID?
    /// Broadcasts Totem refused (its queue was full) that must still go out; retried at the
    /// next delivery, when the queue has moved.
    var retries: [ProcessGroupMessage] = []
    var isAnnounceDue = false
    var actions: [ProcessGroupAction] = []
    /// Messages ignored because their originator had left the configuration.
    public internal(set) var messagesFromDepartedNodes = 0
    /// Process-group payloads that did not decode (dropped by every node alike).
    public internal(set) var malformedMessages = 0

    public static let groupsPerConnectionMax = 64
    /// Local memberships (one connection in one group) per node; an announcement lists them all.
    public static let localMembershipsMax = ProcessGroupMessage.announcedMax
    static let retriesMax = 1024

    public init(nodeID: NodeID) { self.nodeID = nodeID }

    public enum Event: Hashable, Sendable {
        /// A local client asked; `token` is answered unless nil.
        case requested(ClientToken?, ProcessGroupRequest)
        case delivered(originator: NodeID, ProcessGroupMessage)
        case configurationChanged(ConfigurationChange)
        /// Totem did not queue a broadcast of this core.
        case broadcastRefused(ProcessGroupMessage, SubmitRefusal, ClientToken?)
    }

    public func members(of group: ProcessGroupName) -> [ProcessGroupMember] { views[group] ?? [] }

    public func isJoined(_ connection: ConnectionID, _ group: ProcessGroupName) -> Bool {
        intents[connection]?.contains(group) ?? false
    }

    /// Actions in the order to perform them. A `.broadcast` with a token is answered by the
    /// shell: `.accepted` once Totem queued it, else `broadcastRefused` comes back here.
    public mutating func step(_ event: Event) -> [ProcessGroupAction] {
        actions = []
        switch event {
        case .requested(let token, let request):
            requested(request, token: token)
        case .delivered(let originator, let message):
            flushRetries()
            delivered(message, from: originator)
        case .configurationChanged(let change):
            configurationChanged(change)
        case .broadcastRefused(let message, let refusal, let token):
            broadcastRefused(message, refusal, token: token)
        }
        let result = actions
        actions = []
        return result
    }

    // MARK: - Requests

    private mutating func requested(_ request: ProcessGroupRequest, token: ClientToken?) {
        func refuse(_ refusal: ProcessGroupRefusal) {
            if let token { actions.append(.reply(token, .refused(refusal))) }
        }
        switch request {
        case .join(let group, let connection):
            let groups = intents[connection] ?? []
            guard !groups.contains(group) else { return refuse(.alreadyJoined) }
            guard groups.count < Self.groupsPerConnectionMax else { return refuse(.tooManyGroups(max: Self.groupsPerConnectionMax)) }
            guard intentCount < Self.localMembershipsMax else { return refuse(.tooManyLocalMembers(max: Self.localMembershipsMax)) }
            intents[connection, default: []].append(group)
            intentCount += 1
            actions.append(.broadcast(.join(group, connection), token))
        case .leave(let group, let connection), .fellBehind(let group, let connection):
            guard removeIntent(group, connection) else { return refuse(.notJoined) }
            let reason: ProcessGroupReason = if case .leave = request { .leave } else { .processDown }
            actions.append(.broadcast(.leave(group, connection, reason: reason), token))
        case .mcast(let group, let connection, let payload):
            guard isJoined(connection, group) else { return refuse(.notJoined) }
            guard payload.count <= ProcessGroupMessage.payloadBytesMax else {
                return refuse(.payloadTooLarge(bytes: payload.count, max: ProcessGroupMessage.payloadBytesMax))
            }
            actions.append(.broadcast(.mcast(group, connection, payload: payload), token))
        case .connectionClosed(let connection):
            guard let groups = intents.removeValue(forKey: connection) else {
                if let token { actions.append(.reply(token, .accepted)) }
                return
            }
            intentCount -= groups.count
            actions.append(.broadcast(.processDown(connection), token))
        }
    }

    private mutating func removeIntent(_ group: ProcessGroupName, _ connection: ConnectionID) -> Bool {
        guard var groups = intents[connection], let at = groups.firstIndex(of: group) else { return false }
        groups.remove(at: at)
        intents[connection] = groups.isEmpty ? nil : groups
        intentCount -= 1
        return true
    }

    private mutating func broadcastRefused(_ message: ProcessGroupMessage, _ refusal: SubmitRefusal, token: ClientToken?) {
        // Undo the intent the request recorded: nothing was sent.
        switch message {
        case .join(let group, let connection):
            _ = removeIntent(group, connection)
        case .leave(let group, let connection, _):
            if token != nil {
                intents[connection, default: []].append(group)
                intentCount += 1
            } else {
                queueRetry(message)
            }
        case .processDown:
            // The connection is gone: its members must still leave everywhere.
            queueRetry(message)
        case .announce:
            isAnnounceDue = true
        case .mcast:
            break
        }
        if let token {
            actions.append(.reply(token, .refused(refusal == .notRunning ? .notRunning : .tryAgain)))
        }
    }

    private mutating func queueRetry(_ message: ProcessGroupMessage) {
        guard retries.count < Self.retriesMax else { return }
        retries.append(message)
    }

    private mutating func flushRetries() {
        if isAnnounceDue, let ring = ringID {
            isAnnounceDue = false
            actions.append(.broadcast(.announce(ring: ring, announcement()), nil))
        }
        guard !retries.isEmpty else { return }
        let pending = retries
        retries = []
        for message in pending { actions.append(.broadcast(message, nil)) }
    }

    /// This node's memberships as intended, by connection then in the order joined.
    func announcement() -> [ProcessGroupMessage.Announced] {
        intents.keys.sorted().flatMap { connection in
            (intents[connection] ?? []).map { ProcessGroupMessage.Announced(group: $0, connection: connection) }
        }
    }
}

public enum ProcessGroupAction: Hashable, Sendable {
    /// Submit to Totem (as `RingMessage.processGroup`); answer `token` with `.accepted` if
    /// Totem queues it, else feed `.broadcastRefused`.
    case broadcast(ProcessGroupMessage, ClientToken?)
    /// Hand a notification to a local member's connection.
    case deliver(ProcessGroupDelivery)
    case reply(ClientToken, ProcessGroupReply)
}
