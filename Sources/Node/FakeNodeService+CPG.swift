import Basics
import Replication
import Totem

/// The fake's process groups: the real `ProcessGroups` core on a one-node ring whose
/// "Totem" delivers every broadcast at once, in order. Tests of the client server see the
/// real semantics (own messages come back, leave events, process down) without a network.
struct FakeProcessGroupRing: Sendable {
    var core: ProcessGroups
    var streams: [ProcessGroupLinks.Key: AsyncStream<[ProcessGroupDelivery]>.Continuation] = [:]

    init() {
        core = ProcessGroups(nodeID: NodeID(1))
        _ = core.step(.configurationChanged(ConfigurationChange(
            kind: .regular, ringID: RingID(representative: NodeID(1), seq: 4), members: [NodeID(1)], left: [], joined: [])))
    }

    /// Steps the core and loops its broadcasts back as deliveries; returns the reply to `token`.
    mutating func run(_ request: ProcessGroupRequest) -> ProcessGroupReply {
        let token = ClientToken(1)
        var reply = ProcessGroupReply.accepted
        var pending = core.step(.requested(token, request))
        var head = 0
        // Bounded: a delivery produces no broadcast but an announcement's retry.
        while head < pending.count && head < 100_000 {
            let action = pending[head]
            head += 1
            switch action {
            case .reply(_, let r): reply = r
            case .broadcast(let message, _): pending += core.step(.delivered(originator: NodeID(1), message))
            case .deliver(let delivery):
                let key = ProcessGroupLinks.Key(connection: delivery.connection, group: delivery.group)
                guard let stream = streams[key] else { continue }
                stream.yield([delivery])
                if delivery.isFinal {
                    stream.finish()
                    streams[key] = nil
                }
            }
        }
        return reply
    }
}

extension FakeNodeService {
    public func processGroupJoin(_ group: ProcessGroupName, connection: ConnectionID) async
        -> Result<AsyncStream<[ProcessGroupDelivery]>, ProcessGroupRefusal> {
        let key = ProcessGroupLinks.Key(connection: connection, group: group)
        guard processGroupRing.streams[key] == nil else { return .failure(.alreadyJoined) }
        let (stream, continuation) = AsyncStream.makeStream(
            of: [ProcessGroupDelivery].self, bufferingPolicy: .bufferingOldest(ProcessGroupLinks.pushesQueuedMax))
        processGroupRing.streams[key] = continuation
        let reply = processGroupRing.run(.join(group, connection))
        guard reply == .accepted else {
            processGroupRing.streams[key] = nil
            continuation.finish()
            if case .refused(let refusal) = reply { return .failure(refusal) }
            return .failure(.notRunning)
        }
        return .success(stream)
    }

    public func processGroupLeave(_ group: ProcessGroupName, connection: ConnectionID) async -> ProcessGroupReply {
        processGroupRing.run(.leave(group, connection))
    }

    public func processGroupMcast(_ group: ProcessGroupName, connection: ConnectionID, payload: [UInt8]) async -> ProcessGroupReply {
        processGroupRing.run(.mcast(group, connection, payload: payload))
    }

    public func processGroupMembers(_ group: ProcessGroupName) async -> [ProcessGroupMember] {
        processGroupRing.core.members(of: group)
    }

    public func processGroupConnectionClosed(_ connection: ConnectionID) async {
        for key in processGroupRing.streams.keys.sorted() where key.connection == connection {
            processGroupRing.streams.removeValue(forKey: key)?.finish()
        }
        _ = processGroupRing.run(.connectionClosed(connection))
    }

    /// Members of every group (tests check that a closed connection left them).
    public var processGroupMemberCount: Int { processGroupRing.core.views.values.reduce(0) { $0 + $1.count } }
}
