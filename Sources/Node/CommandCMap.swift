import Basics
import CMap
import NIOCore
import RESP
import Replication

/// TotemKV's typed commands: CMAP.SET/GET/INC/DEC/CAS/ITER/TRACK/UNTRACK.
extension CommandDispatcher {
    /// Entries per CMAP.ITER page.
    static let iterPageSize: UInt32 = 100

    func cmapCommand(_ command: RESPCommand, session: inout Session) async -> CommandOutput? {
        let n = command.count
        if command.isNamed("CMAP.SET") {
            guard n == 4 else { return CommandOutput(CommandReplies.wrongArity("cmap.set")) }
            return CommandOutput(await cmapSet(key: command[1], type: command[2], value: command[3], session: &session))
        }
        if command.isNamed("CMAP.GET") {
            guard n == 2 else { return CommandOutput(CommandReplies.wrongArity("cmap.get")) }
            return CommandOutput(await cmapGet(command[1], session: session))
        }
        if command.isNamed("CMAP.INC") || command.isNamed("CMAP.DEC") {
            guard n == 2 else { return CommandOutput(CommandReplies.wrongArity(command.name)) }
            return CommandOutput(await cmapAdjust(command[1], by: command.isNamed("CMAP.INC") ? 1 : -1, session: &session))
        }
        if command.isNamed("CMAP.CAS") {
            guard n == 4 || n == 5 else { return CommandOutput(CommandReplies.wrongArity("cmap.cas")) }
            return CommandOutput(await cmapCAS(command, session: &session))
        }
        if command.isNamed("CMAP.ITER") {
            guard n == 2 || n == 3 else { return CommandOutput(CommandReplies.wrongArity("cmap.iter")) }
            return CommandOutput(await cmapIter(command, session: session))
        }
        if command.isNamed("CMAP.TRACK") { return await track(command, session: &session) }
        if command.isNamed("CMAP.UNTRACK") { return await untrack(command, session: &session) }
        if command.isNamed("SUBSCRIBE") { return await subscribe(command, session: &session) }
        if command.isNamed("UNSUBSCRIBE") { return await unsubscribe(command, session: &session) }
        return nil
    }

    private func type(_ argument: ByteBuffer) -> Result<CMapValueType, RESPValue> {
        let name = CommandReplies.text(argument, max: 16)
        guard let type = CMapValueType(name: name) else {
            return .failure(.error("ERR invalid type '\(name)': use i8 u8 i16 u16 i32 u32 i64 u64 flt dbl str bin"))
        }
        return .success(type)
    }

    private func value(_ argument: ByteBuffer, as type: CMapValueType) -> Result<CMapValue, RESPValue> {
        do {
            return .success(try CMapValue(parsing: CommandReplies.bytes(argument), as: type))
        } catch {
            return .failure(.error("ERR invalid value: \(error.description)"))
        }
    }

    private func cmapSet(key keyArgument: ByteBuffer, type typeArgument: ByteBuffer, value valueArgument: ByteBuffer,
                         session: inout Session) async -> RESPValue {
        let key: CMapKey, value: CMapValue
        switch CommandReplies.key(keyArgument) {
        case .failure(let error): return error
        case .success(let k): key = k
        }
        switch type(typeArgument).flatMap({ self.value(valueArgument, as: $0) }) {
        case .failure(let error): return error
        case .success(let v): value = v
        }
        switch await write(.set(key, value), session: &session) {
        case .failure(let error): return error
        case .success: return .ok
        }
    }

    private func cmapGet(_ argument: ByteBuffer, session: Session) async -> RESPValue {
        switch CommandReplies.key(argument) {
        case .failure(let error): return error
        case .success(let key):
            switch await read(.get(key), session: session) {
            case .failure(let error): return error
            case .success(.value(let value, let version)):
                return .array([.bulk(value.type.description), CommandReplies.bulk(value),
                               .integer(Int64(clamping: version.rawValue))])
            case .success(.notFound): return .nullArray
            case .success(let other): return unexpected(other, "CMAP.GET")
            }
        }
    }

    private func cmapAdjust(_ argument: ByteBuffer, by delta: Int64, session: inout Session) async -> RESPValue {
        switch CommandReplies.key(argument) {
        case .failure(let error): return error
        case .success(let key):
            switch await write(.adjust(key, by: delta), session: &session) {
            case .failure(let error): return error
            case .success(.value(let value, _)): return CommandReplies.number(value)
            case .success(.notFound): return .error("ERR no such key '\(key)'")
            case .success(let other): return unexpected(other, "CMAP.INC")
            }
        }
    }

    /// CMAP.CAS key version value [type]: the type defaults to str; version 0 = create.
    private func cmapCAS(_ command: RESPCommand, session: inout Session) async -> RESPValue {
        let key: CMapKey, value: CMapValue
        switch CommandReplies.key(command[1]) {
        case .failure(let error): return error
        case .success(let k): key = k
        }
        guard let version = CommandReplies.unsigned(command[2]) else {
            return .error("ERR invalid version '\(CommandReplies.text(command[2]))': expected an unsigned integer (0 = the key must not exist)")
        }
        let valueType: Result<CMapValueType, RESPValue> = command.count == 5 ? type(command[4]) : .success(.string)
        switch valueType.flatMap({ self.value(command[3], as: $0) }) {
        case .failure(let error): return error
        case .success(let v): value = v
        }
        switch await write(.compareAndSet(key, expectedVersion: LogIndex(version), value: value), session: &session) {
        case .failure(let error): return error
        case .success(.versionMismatch(let current)):
            return .error("VERSIONMISMATCH key '\(key)' is at version \(current) (0 = missing): nothing was written")
        case .success: return .ok
        }
    }

    /// CMAP.ITER prefix [cursor] → [next cursor or "", [[key, type, value], ...]].
    private func cmapIter(_ command: RESPCommand, session: Session) async -> RESPValue {
        let prefix: CMapPrefix
        switch CommandReplies.prefix(CommandReplies.bytes(command[1])) {
        case .failure(let error): return error
        case .success(let p): prefix = p
        }
        var after: CMapKey?
        if command.count == 3, command[2].readableBytes > 0 {
            switch CommandReplies.key(command[2]) {
            case .failure(let error): return error
            case .success(let k): after = k
            }
        }
        switch await read(.list(prefix, after: after, limit: Self.iterPageSize), session: session) {
        case .failure(let error): return error
        case .success(.list(let items, let next)):
            let entries: [RESPValue] = items.map {
                .array([.bulk(bytes: $0.key.bytes), .bulk($0.entry.value.type.description), CommandReplies.bulk($0.entry.value)])
            }
            return .array([.bulk(bytes: next?.bytes ?? []), .array(entries)])
        case .success(let other): return unexpected(other, "CMAP.ITER")
        }
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
