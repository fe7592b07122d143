import Basics
import CMap
import NIOCore
import RESP
import Replication

/// The Redis string commands: GET, SET, MGET, DEL, EXISTS, INCR/DECR(BY), KEYS, SCAN, DBSIZE.
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
        if command.isNamed("GET") {
            guard n == 2 else { return CommandReplies.wrongArity("get") }
            return await get(command[1], session: session)
        }
        if command.isNamed("SET") { return await set(command, session: &session) }
        if command.isNamed("MGET") {
            guard n >= 2 else { return CommandReplies.wrongArity("mget") }
            var values: [RESPValue] = []
            for index in 1..<n {
                let reply = await get(command[index], session: session)
                if reply.isError { return reply }
                values.append(reply)
            }
            return .array(values)
        }
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
        if command.isNamed("EXISTS") {
            guard n >= 2 else { return CommandReplies.wrongArity("exists") }
            var found: Int64 = 0
            for index in 1..<n {
                switch CommandReplies.key(command[index]) {
                case .failure(let error): return error
                case .success(let key):
                    switch await read(.get(key), session: session) {
                    case .failure(let error): return error
                    case .success(.value): found += 1
                    case .success: break
                    }
                }
            }
            return .integer(found)
        }
        if command.isNamed("INCR") || command.isNamed("DECR") {
            guard n == 2 else { return CommandReplies.wrongArity(command.name) }
            return await increment(command[1], by: command.isNamed("INCR") ? 1 : -1, session: &session)
        }
        if command.isNamed("INCRBY") || command.isNamed("DECRBY") {
            guard n == 3 else { return CommandReplies.wrongArity(command.name) }
            guard var delta = CommandReplies.integer(command[2]) else { return CommandReplies.notInteger }
            if command.isNamed("DECRBY") {
                guard delta != .min else { return .error("ERR decrement would overflow") }
                delta = -delta
            }
            return await increment(command[1], by: delta, session: &session)
        }
        if command.isNamed("DBSIZE") {
            guard n == 1 else { return CommandReplies.wrongArity("dbsize") }
            switch await read(.count(.all), session: session) {
            case .failure(let error): return error
            case .success(.count(let count)): return .integer(Int64(clamping: count))
            case .success(let other): return unexpected(other, "DBSIZE")
            }
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
        .error("ERR internal: unexpected result \(result) for \(command)")
    }

    private func get(_ argument: ByteBuffer, session: Session) async -> RESPValue {
        switch CommandReplies.key(argument) {
        case .failure(let error): return error
        case .success(let key):
            switch await read(.get(key), session: session) {
            case .failure(let error): return error
            case .success(.value(let value, _)): return CommandReplies.bulk(value)
            case .success(.notFound): return .nullBulkString
            case .success(let other): return unexpected(other, "GET")
            }
        }
    }

    private func increment(_ argument: ByteBuffer, by delta: Int64, session: inout Session) async -> RESPValue {
        switch CommandReplies.key(argument) {
        case .failure(let error): return error
        case .success(let key):
            switch await write(.incrementBy(key, by: delta), session: &session) {
            case .failure(let error): return error
            case .success(.integer(let value)): return .integer(value)
            case .success(.value(let value, _)): return CommandReplies.number(value)
            case .success(let other): return unexpected(other, "INCRBY")
            }
        }
    }

    /// SET key value [NX|XX] [GET]. Plain SET is one write. With a condition or GET, the
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
        guard onlyIfMissing || onlyIfPresent || returnOld else {
            switch await write(.set(key, value), session: &session) {
            case .failure(let error): return error
            case .success: return .ok
            }
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
