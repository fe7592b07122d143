import Basics
import CMap
import NIOCore
import RESP
import Replication

/// TotemKV's tracking commands: CMAP.TRACK/UNTRACK and their pub/sub spelling
/// (CMAP.SET/GET/INC/DEC/CAS/ITER are in CommandPrepared.swift).
extension CommandDispatcher {
    /// Entries per CMAP.ITER page.
    static let iterPageSize: UInt32 = 100

    func cmapCommand(_ command: RESPCommand, session: inout Session) async -> CommandOutput? {
        if command.isNamed("CMAP.TRACK") { return await track(command, session: &session) }
        if command.isNamed("CMAP.UNTRACK") { return await untrack(command, session: &session) }
        if command.isNamed("SUBSCRIBE") { return await subscribe(command, session: &session) }
        if command.isNamed("UNSUBSCRIBE") { return await unsubscribe(command, session: &session) }
        return nil
    }

    /// CMAP.TRACK prefix [ADD] [DELETE] [MODIFY] → ["subscribe", "cmap:<prefix>", tracks].
    private func track(_ command: RESPCommand, session: inout Session) async -> CommandOutput {
        guard command.count >= 2 else { return CommandOutput(CommandReplies.wrongArity("cmap.track")) }
        var kinds: CMapTrackKinds = []
        for index in 2..<command.count {
            if command.argument(index, is: "ADD") {
                kinds.insert(.add)
            } else if command.argument(index, is: "DELETE") {
                kinds.insert(.delete)
            } else if command.argument(index, is: "MODIFY") {
                kinds.insert(.modify)
            } else {
                return CommandOutput(.error("ERR invalid track kind '\(CommandReplies.text(command[index]))': use ADD, DELETE, MODIFY"))
            }
        }
        var output = CommandOutput(replies: [])
        await startTrack(prefix: CommandReplies.bytes(command[1]), kinds: kinds, session: &session, output: &output)
        return output
    }

    /// Starts one track, appending its confirmation (or error) to `output`.
    private func startTrack(prefix bytes: [UInt8], kinds: CMapTrackKinds, session: inout Session,
                            output: inout CommandOutput) async {
        let prefix: CMapPrefix
        switch CommandReplies.prefix(bytes) {
        case .failure(let error):
            output.replies.append(error)
            return
        case .success(let p): prefix = p
        }
        guard session.tracks.count < Self.tracksPerConnectionMax else {
            output.replies.append(.error("ERR a connection may hold at most \(Self.tracksPerConnectionMax) tracks"))
            return
        }
        let (id, events) = await service.track(CMapTrackFilter(.prefix(prefix), kinds: kinds.isEmpty ? .all : kinds))
        let channel = "cmap:" + prefix.description
        session.tracks.append((id, channel))
        output.replies.append(.subscription(.subscribe, channel: ByteBuffer(string: channel), count: session.tracks.count))
        output.startedPushes.append(.init(channel: channel) { emit in
            for await event in events { try await emit(Self.pushPayload(event)) }
        })
    }

    /// SUBSCRIBE cmap:<prefix>...: the pub/sub spelling of CMAP.TRACK (every kind), so that
    /// `redis-cli SUBSCRIBE cmap:app.` prints changes. Only `cmap:` channels exist.
    private func subscribe(_ command: RESPCommand, session: inout Session) async -> CommandOutput {
        guard command.count >= 2 else { return CommandOutput(CommandReplies.wrongArity("subscribe")) }
        var output = CommandOutput(replies: [])
        for argument in command.arguments.dropFirst() {
            let channel = CommandReplies.bytes(argument)
            guard channel.starts(with: Self.channelPrefix) else {
                output.replies.append(.error("ERR channel '\(CommandReplies.text(argument))' does not exist: channels are cmap:<key prefix>"))
                continue
            }
            await startTrack(prefix: Array(channel.dropFirst(Self.channelPrefix.count)), kinds: .all,
                             session: &session, output: &output)
        }
        return output
    }

    /// UNSUBSCRIBE [cmap:<prefix>...]: as CMAP.UNTRACK, by channel name.
    private func unsubscribe(_ command: RESPCommand, session: inout Session) async -> CommandOutput {
        guard command.count > 1 else { return await removeTracks(channel: nil, session: &session) }
        var output = CommandOutput(replies: [])
        for argument in command.arguments.dropFirst() {
            output.replies += await removeTracks(channel: CommandReplies.text(argument, max: 300), session: &session).replies
        }
        return output
    }

    static let channelPrefix = Array("cmap:".utf8)

    static let tracksPerConnectionMax = 64

    /// CMAP.UNTRACK [prefix]: removes the connection's tracks of that prefix (all without
    /// one), answering ["unsubscribe", channel, remaining] for each.
    private func untrack(_ command: RESPCommand, session: inout Session) async -> CommandOutput {
        guard command.count <= 2 else { return CommandOutput(CommandReplies.wrongArity("cmap.untrack")) }
        let channel = command.count == 2 ? "cmap:" + CommandReplies.text(command[1], max: 300) : nil
        return await removeTracks(channel: channel, session: &session)
    }

    /// Removes the tracks of `channel` (all when nil), one unsubscribe reply each.
    private func removeTracks(channel: String?, session: inout Session) async -> CommandOutput {
        let removed = session.tracks.filter { channel == nil || $0.channel == channel }
        guard !removed.isEmpty else {
            return CommandOutput(.subscription(.unsubscribe, channel: nil, count: session.tracks.count))
        }
        var replies: [RESPValue] = []
        for track in removed {
            await service.untrack(track.id)
            session.tracks.removeAll { $0.id == track.id }
            replies.append(.subscription(.unsubscribe, channel: ByteBuffer(string: track.channel), count: session.tracks.count))
        }
        return CommandOutput(replies: replies)
    }

    /// The text of a track event push: `<event> <key> <type> <old> -> <new> @<index>`, with
    /// `-` for the missing side of an add or a delete; `dropped <reason>` for a track that
    /// fell behind (its last event).
    static func pushPayload(_ event: CMapTrackEvent) -> ByteBuffer {
        switch event {
        case .dropped(let reason):
            return ByteBuffer(string: "dropped " + reason)
        case .changed(let change):
            var buffer = ByteBuffer()
            let kind: StaticString = switch change.kind {
            case .added: "add "
            case .deleted: "delete "
            case .modified: "modify "
            }
            buffer.writeStaticString(kind)
            buffer.writeBytes(change.key.bytes)
            buffer.writeString(" " + ((change.newValue ?? change.oldValue)?.type.description ?? "-") + " ")
            if let old = change.oldValue { buffer.writeBytes(old.textBytes) } else { buffer.writeStaticString("-") }
            buffer.writeStaticString(" -> ")
            if let new = change.newValue { buffer.writeBytes(new.textBytes) } else { buffer.writeStaticString("-") }
            buffer.writeString(" @\(change.index)")
            return buffer
        }
    }
}
