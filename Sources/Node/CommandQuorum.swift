import Basics
import NIOCore
import Quorum
import RESP
import Replication

/// The quorum and votequorum services (corosync's quorum and votequorum APIs):
/// QUORUM.INFO [nodeid], QUORUM.TRACK, QUORUM.UNTRACK, QUORUM.SETEXPECTED n,
/// QUORUM.SETVOTES nodeid n. See docs/quorum.md for what the answers mean.
extension CommandDispatcher {
    static let quorumChannel = "quorum"

    func quorumCommand(_ command: RESPCommand, session: inout Session) async -> CommandOutput? {
        let n = command.count
        if command.isNamed("QUORUM.INFO") {
            guard n <= 2 else { return CommandOutput(CommandReplies.wrongArity("quorum.info")) }
            var node = NodeID(0)
            if n == 2 {
                guard let id = CommandReplies.unsigned(command[1]), let id32 = UInt32(exactly: id) else {
                    return CommandOutput(.error("ERR node id must be an integer from 0 to \(UInt32.max)"))
                }
                node = NodeID(id32)
            }
            guard let info = await service.quorumInfo(node) else {
                return CommandOutput(.error("ERR NOT_EXIST node \(node) is not known to votequorum"))
            }
            return CommandOutput(Self.quorumInfoReply(info))
        }
        if command.isNamed("QUORUM.TRACK") {
            guard n <= 2 else { return CommandOutput(CommandReplies.wrongArity("quorum.track")) }
            // corosync's track flags: CHANGES (the default) sends the current state, then every
            // change; CHANGES_ONLY only the changes. CURRENT alone is what QUORUM.INFO answers.
            var current = true
            if n == 2 {
                if command.argument(1, is: "CHANGES_ONLY") {
                    current = false
                } else if !command.argument(1, is: "CHANGES") {
                    return CommandOutput(.error(
                        "ERR INVALID_PARAM QUORUM.TRACK takes CHANGES (the current state, then every change) or CHANGES_ONLY, not '\(String(buffer: command[1]))'"))
                }
            }
            guard session.quorumTrack == nil else {
                return CommandOutput(.error("ERR EXIST this connection already tracks quorum"))
            }
            let (id, notifications) = await service.quorumTrack(current: current)
            session.quorumTrack = id
            var output = CommandOutput(.subscription(
                .subscribe, channel: ByteBuffer(string: Self.quorumChannel), count: session.tracks.count + 1))
            output.startedPushes.append(.init(channel: Self.quorumChannel) { emit in
                for await notification in notifications {
                    try await emit(ByteBuffer(string: Self.quorumPushText(notification)))
                }
            })
            return output
        }
        if command.isNamed("QUORUM.UNTRACK") {
            guard n == 1 else { return CommandOutput(CommandReplies.wrongArity("quorum.untrack")) }
            guard let id = session.quorumTrack else {
                return CommandOutput(.subscription(.unsubscribe, channel: nil, count: session.tracks.count))
            }
            await service.quorumUntrack(id)
            session.quorumTrack = nil
            return CommandOutput(.subscription(
                .unsubscribe, channel: ByteBuffer(string: Self.quorumChannel), count: session.tracks.count))
        }
        if command.isNamed("QUORUM.SETEXPECTED") {
            guard n == 2 else { return CommandOutput(CommandReplies.wrongArity("quorum.setexpected")) }
            guard let value = CommandReplies.unsigned(command[1]), let votes = UInt32(exactly: value), votes >= 1 else {
                return CommandOutput(.error("ERR INVALID_PARAM expected votes must be an integer from 1 to \(UInt32.max)"))
            }
            return CommandOutput(Self.reconfigurationReply(await service.setExpectedVotes(Votes(votes))))
        }
        if command.isNamed("QUORUM.SETVOTES") {
            guard n == 3 else { return CommandOutput(CommandReplies.wrongArity("quorum.setvotes")) }
            guard let id = CommandReplies.unsigned(command[1]), let node = UInt32(exactly: id) else {
                return CommandOutput(.error("ERR node id must be an integer from 0 to \(UInt32.max)"))
            }
            guard let value = CommandReplies.unsigned(command[2]), let votes = UInt32(exactly: value) else {
                return CommandOutput(.error("ERR INVALID_PARAM votes must be an integer from 0 to \(UInt32.max)"))
            }
            return CommandOutput(Self.reconfigurationReply(await service.setVotes(Votes(votes), for: NodeID(node))))
        }
        return nil
    }

    static func reconfigurationReply(_ reply: ReplicatedNode.ClientReply) -> RESPValue {
        switch reply {
        case .result(.ok, _): .ok
        case .result(let other, _): .error("ERR unexpected result \(other)")
        case .failure(let failure): CommandReplies.failure(failure)
        case .rejected(let reason): .error("ERR " + reason)
        }
    }

    /// votequorum_getinfo's fields, then the quorum API's (ring, members) and the store's
    /// verdict, which flags never relax.
    static func quorumInfoReply(_ q: QuorumInfo) -> RESPValue {
        let i = q.info
        let note = q.disagreement
            ?? "writes commit only with a true majority of the configured votes (\(q.storeMajority)); "
            + "quorum flags change what votequorum reports, never that"
        return pairs([
            ("quorate", .integer(i.flags.contains(.quorate) ? 1 : 0)),
            ("store_quorate", .integer(q.isStoreQuorate ? 1 : 0)),
            ("node_id", .integer(Int64(i.nodeID.rawValue))),
            ("node_state", .bulk(i.state.description)),
            ("node_votes", .integer(Int64(i.votes.rawValue))),
            ("node_expected_votes", .integer(Int64(i.expectedVotes.rawValue))),
            ("highest_expected", .integer(Int64(i.highestExpected.rawValue))),
            ("total_votes", .integer(Int64(i.totalVotes.rawValue))),
            ("quorum", .integer(Int64(i.quorum.rawValue))),
            ("flags", .array(i.flags.names.map { .bulk($0) })),
            ("ring_id", .bulk(q.notification.ringID.map(ringText) ?? "-")),
            ("members", .array(q.notification.members.map { .integer(Int64($0.rawValue)) })),
            ("store_majority_votes", .integer(Int64(q.storeMajority.rawValue))),
            ("store_votes_present", .integer(Int64(q.storeVotesPresent.rawValue))),
            ("note", .bulk(note)),
        ])
    }

    /// One push per quorum notification: `quorate=1 store_quorate=1 ring=1.8 quorum=2
    /// members=1,2,3 nodes=1:member:1:3,2:member:1:3,...` (id:state:votes:expected).
    static func quorumPushText(_ n: QuorumNotification) -> String {
        let members = n.members.map(\.description).joined(separator: ",")
        let nodes = n.nodes.map { "\($0.nodeID):\($0.state):\($0.votes):\($0.expectedVotes)" }.joined(separator: ",")
        return "quorate=\(n.isQuorate ? 1 : 0) store_quorate=\(n.isStoreQuorate ? 1 : 0) "
            + "ring=\(n.ringID.map(ringText) ?? "-") quorum=\(n.quorum) members=\(members) nodes=\(nodes)"
    }
}
