import Basics
import CMap
import NIOCore
import RESP
import Replication

/// The Redis string commands that take more than one request: SET with NX/XX/GET, DEL of
/// several keys, KEYS, SCAN (the one-request ones are in CommandPrepared.swift).
extension CommandDispatcher {
    /// How many times SET NX/XX/GET re-reads and retries its compare-and-set when another
    /// client changed the key in between.
    static let setRetriesMax = 16
    /// The page size KEYS and SCAN (without COUNT) ask the store for.
    static let pageSize: UInt32 = 1000
    /// KEYS stops after this many keys (say so rather than exhaust memory).
    static let keysMax = 1_000_000

    func keyValueCommand(_ command: RESPCommand, session: inout Session) async -> RESPValue? {
        let n = command.count
        if command.isNamed("SET") { return await set(command, session: &session) }
        if command.isNamed("DEL") || command.isNamed("UNLINK") {
            guard n >= 2 else { return CommandReplies.wrongArity(command.name) }
            var removed: Int64 = 0
            for index in 1..<n {
                switch CommandReplies.key(command[index]) {
                case .failure(let error): return error
                case .success(let key):
                    switch await write(.delete(key), session: &session) {
                    case .failure(let error): return error
                    case .success(.ok): removed += 1
                    case .success: break
                    }
                }
            }
            return .integer(removed)
        }
        if command.isNamed("KEYS") {
            guard n == 2 else { return CommandReplies.wrongArity("keys") }
            switch CommandReplies.pattern(command[1]) {
            case .failure(let error): return error
            case .success(let prefix): return await keys(prefix, session: session)
            }
        }
        if command.isNamed("SCAN") { return await scan(command, session: &session) }
        return nil
    }

    func unexpected(_ result: CMapResult, _ command: String) -> RESPValue {
        PreparedCommand.unexpected(result, command)
    }

    /// SET key value [NX|XX] [GET]. Plain SET is prepared. With a condition or GET, the
    /// current version is read (linearizably, whatever the read mode) and the value written
    /// with compare-and-set on it; another client's write in between makes the CAS fail and
    /// the whole step is retried, at most `setRetriesMax` times.
    private func set(_ command: RESPCommand, session: inout Session) async -> RESPValue {
        guard command.count >= 3 else { return CommandReplies.wrongArity("set") }
        var onlyIfMissing = false, onlyIfPresent = false, returnOld = false
        for index in 3..<command.count {
            if command.argument(index, is: "NX") {
                onlyIfMissing = true
            } else if command.argument(index, is: "XX") {
                onlyIfPresent = true
            } else if command.argument(index, is: "GET") {
                returnOld = true
            } else {
                return .error("ERR syntax error: SET option '\(CommandReplies.text(command[index]))' is not supported (NX, XX, GET are)")
            }
        }
        guard !(onlyIfMissing && onlyIfPresent) else { return CommandReplies.syntax }
        let key: CMapKey
        switch CommandReplies.key(command[1]) {
        case .failure(let error): return error
        case .success(let k): key = k
        }
        let value = CMapValue.string(CommandReplies.bytes(command[2]))
        if let refusal = refusal(of: value) { return refusal }
        guard onlyIfMissing || onlyIfPresent || returnOld else {
            // Plain SET key value is prepared (CommandPrepared.swift); only SET with options
            // that repeat none of NX, XX, GET could come here, and they fail to parse above.
            return CommandReplies.syntax
        }
        for _ in 0..<Self.setRetriesMax {
            let old: (value: CMapValue, version: LogIndex)?
            switch await run(.read(.get(key), .linearizable)) {
            case .failure(let error): return error
            case .success(.value(let v, let version)): old = (v, version)
            case .success(.notFound): old = nil
            case .success(let other): return unexpected(other, "SET")
            }
            let oldReply = old.map { CommandReplies.bulk($0.value) } ?? .nullBulkString
            if (onlyIfMissing && old != nil) || (onlyIfPresent && old == nil) {
                return returnOld ? oldReply : .nullBulkString
            }
            switch await write(.compareAndSet(key, expectedVersion: old?.version ?? .zero, value: value), session: &session) {
            case .failure(let error): return error
            case .success(.versionMismatch): continue
            case .success: return returnOld ? oldReply : .ok
            }
        }
        return .error("ERR SET: key '\(key)' changed \(Self.setRetriesMax) times while it was being set; nothing was written, retry")
    }

    private func keys(_ prefix: CMapPrefix, session: Session) async -> RESPValue {
        var keys: [RESPValue] = []
        var cursor: CMapKey?
        while keys.count < Self.keysMax {
            switch await read(.list(prefix, after: cursor, limit: Self.pageSize), session: session) {
            case .failure(let error): return error
            case .success(.list(let items, let next)):
                keys.append(contentsOf: items.map { .bulk(bytes: $0.key.bytes) })
                guard let next else { return .array(keys) }
                cursor = next
            case .success(let other): return unexpected(other, "KEYS")
            }
        }
        return .error("ERR KEYS: more than \(Self.keysMax) keys match; use SCAN")
    }

    /// SCAN cursor [MATCH prefix*] [COUNT n]: numeric cursors (see `ScanCursors`).
    private func scan(_ command: RESPCommand, session: inout Session) async -> RESPValue {
        guard command.count >= 2, command.count % 2 == 0 else { return CommandReplies.wrongArity("scan") }
        guard let cursor = CommandReplies.unsigned(command[1]) else { return .error("ERR invalid cursor") }
        var prefix = CMapPrefix.all
        var count = Self.pageSize
        var index = 2
        while index + 1 < command.count {
            if command.argument(index, is: "MATCH") {
                switch CommandReplies.pattern(command[index + 1]) {
                case .failure(let error): return error
                case .success(let p): prefix = p
                }
            } else if command.argument(index, is: "COUNT") {
                guard let c = CommandReplies.integer(command[index + 1]), c >= 1 else { return CommandReplies.syntax }
                count = UInt32(clamping: min(c, Int64(Self.pageSize) * 10))
            } else if command.argument(index, is: "TYPE") {
                guard command.argument(index + 1, is: "string") else { return .array([.bulk("0"), .array([])]) }
            } else {
                return CommandReplies.syntax
            }
            index += 2
        }
        var after: CMapKey?
        if cursor != 0 {
            guard let position = session.scanCursors.take(cursor) else {
                return .error("ERR invalid cursor \(cursor): unknown on this connection or expired (a connection keeps its last \(ScanCursors.limit))")
            }
            guard position.prefix == prefix else { return .error("ERR invalid cursor \(cursor): it was made with another MATCH pattern") }
            after = position.after
        }
        switch await read(.list(prefix, after: after, limit: count), session: session) {
        case .failure(let error): return error
        case .success(.list(let items, let next)):
            let nextCursor = next.map { session.scanCursors.remember(prefix: prefix, after: $0) } ?? 0
            return .array([.bulk(String(nextCursor)), .array(items.map { .bulk(bytes: $0.key.bytes) })])
        case .success(let other): return unexpected(other, "SCAN")
        }
    }
}
