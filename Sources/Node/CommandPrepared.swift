import Basics
import CMap
import NIOCore
import RESP
import Replication

/// The commands that are plain node requests (`PreparedCommand`): PING, ECHO, GET, plain
/// SET, MGET, DEL of one key, EXISTS, INCR/DECR(BY), DBSIZE, CMAP.SET/GET/INC/DEC/CAS/ITER.
/// A connection pipelines these; every other command runs alone (`execute`).
extension CommandDispatcher {
    /// The command as requests and a reply function, or nil when it is not one of these
    /// (or the connection has not authenticated: `execute` answers that).
    func prepare(_ command: RESPCommand, session: inout Session) -> PreparedCommand? {
        guard session.isAuthenticated, command.count > 0 else { return nil }
        if let prepared = prepareKeyValue(command, session: &session) { return prepared }
        return prepareCMap(command, session: &session)
    }

    private func writeRequest(_ op: CMapOperation, session: inout Session) -> ReplicatedNode.ClientRequest {
        .write(op, clientID: session.clientID, clientSeq: session.nextClientSeq())
    }

    /// The keys of arguments `from...`, or the error naming the first bad one.
    private func keys(_ command: RESPCommand, from first: Int) -> Result<[CMapKey], RESPValue> {
        var keys: [CMapKey] = []
        keys.reserveCapacity(command.count - first)
        for index in first..<command.count {
            switch CommandReplies.key(command[index]) {
            case .failure(let error): return .failure(error)
            case .success(let key): keys.append(key)
            }
        }
        return .success(keys)
    }

    private func prepareKeyValue(_ command: RESPCommand, session: inout Session) -> PreparedCommand? {
        let n = command.count
        if command.isNamed("PING") {
            guard n <= 2 else { return .answered(CommandReplies.wrongArity("ping")) }
            return .answered(n == 2 ? .bulkString(command[1]) : .simpleString("PONG"))
        }
        if command.isNamed("ECHO") {
            guard n == 2 else { return .answered(CommandReplies.wrongArity("echo")) }
            return .answered(.bulkString(command[1]))
        }
        if command.isNamed("GET") {
            guard n == 2 else { return .answered(CommandReplies.wrongArity("get")) }
            switch keys(command, from: 1) {
            case .failure(let error): return .answered(error)
            case .success(let keys): return .one(.read(.get(keys[0]), session.readMode)) { Self.getReply($0, "GET") }
            }
        }
        if command.isNamed("SET"), n == 3 {
            switch CommandReplies.key(command[1]) {
            case .failure(let error): return .answered(error)
            case .success(let key):
                let value = CMapValue.string(CommandReplies.bytes(command[2]))
                if let refusal = refusal(of: value) { return .answered(refusal) }
                return .one(writeRequest(.set(key, value), session: &session)) { _ in .ok }
            }
        }
        if command.isNamed("MGET") {
            guard n >= 2 else { return .answered(CommandReplies.wrongArity("mget")) }
            switch keys(command, from: 1) {
            case .failure(let error): return .answered(error)
            case .success(let keys):
                return .many(keys.map { .read(.get($0), session.readMode) }) { results in
                    .array(results.map { Self.getReply($0, "MGET") })
                }
            }
        }
        if command.isNamed("DEL") || command.isNamed("UNLINK"), n == 2 {
            switch CommandReplies.key(command[1]) {
            case .failure(let error): return .answered(error)
            case .success(let key):
                return .one(writeRequest(.delete(key), session: &session)) { .integer($0 == .ok ? 1 : 0) }
            }
        }
        if command.isNamed("EXISTS") {
            guard n >= 2 else { return .answered(CommandReplies.wrongArity("exists")) }
            switch keys(command, from: 1) {
            case .failure(let error): return .answered(error)
            case .success(let keys):
                return .many(keys.map { .read(.get($0), session.readMode) }) { results in
                    .integer(Int64(results.filter { if case .value = $0 { true } else { false } }.count))
                }
            }
        }
        if command.isNamed("INCR") || command.isNamed("DECR") {
            guard n == 2 else { return .answered(CommandReplies.wrongArity(command.name)) }
            return increment(command[1], by: command.isNamed("INCR") ? 1 : -1, session: &session)
        }
        if command.isNamed("INCRBY") || command.isNamed("DECRBY") {
            guard n == 3 else { return .answered(CommandReplies.wrongArity(command.name)) }
            guard var delta = CommandReplies.integer(command[2]) else { return .answered(CommandReplies.notInteger) }
            if command.isNamed("DECRBY") {
                guard delta != .min else { return .answered(.error("ERR decrement would overflow")) }
                delta = -delta
            }
            return increment(command[1], by: delta, session: &session)
        }
        if command.isNamed("DBSIZE") {
            guard n == 1 else { return .answered(CommandReplies.wrongArity("dbsize")) }
            return .one(.read(.count(.all), session.readMode)) { result in
                guard case .count(let count) = result else { return PreparedCommand.unexpected(result, "DBSIZE") }
                return .integer(Int64(clamping: count))
            }
        }
        return nil
    }

    private static func getReply(_ result: CMapResult, _ command: String) -> RESPValue {
        switch result {
        case .value(let value, _): CommandReplies.bulk(value)
        case .notFound: .nullBulkString
        default: PreparedCommand.unexpected(result, command)
        }
    }

    private func increment(_ argument: ByteBuffer, by delta: Int64, session: inout Session) -> PreparedCommand {
        switch CommandReplies.key(argument) {
        case .failure(let error): return .answered(error)
        case .success(let key):
            return .one(writeRequest(.incrementBy(key, by: delta), session: &session)) { result in
                switch result {
                case .integer(let value): .integer(value)
                case .value(let value, _): CommandReplies.number(value)
                default: PreparedCommand.unexpected(result, "INCRBY")
                }
            }
        }
    }

    private func prepareCMap(_ command: RESPCommand, session: inout Session) -> PreparedCommand? {
        let n = command.count
        if command.isNamed("CMAP.SET") {
            guard n == 4 else { return .answered(CommandReplies.wrongArity("cmap.set")) }
            let parsed = CommandReplies.key(command[1]).flatMap { key in
                Self.type(command[2]).flatMap { Self.value(command[3], as: $0) }.map { (key, $0) }
            }
            switch parsed {
            case .failure(let error): return .answered(error)
            case .success(let (key, value)):
                if let refusal = refusal(of: value) { return .answered(refusal) }
                return .one(writeRequest(.set(key, value), session: &session)) { _ in .ok }
            }
        }
        if command.isNamed("CMAP.GET") {
            guard n == 2 else { return .answered(CommandReplies.wrongArity("cmap.get")) }
            switch CommandReplies.key(command[1]) {
            case .failure(let error): return .answered(error)
            case .success(let key):
                return .one(.read(.get(key), session.readMode)) { result in
                    switch result {
                    case .value(let value, let version):
                        .array([.bulk(value.type.description), CommandReplies.bulk(value),
                                .integer(Int64(clamping: version.rawValue))])
                    case .notFound: .nullArray
                    default: PreparedCommand.unexpected(result, "CMAP.GET")
                    }
                }
            }
        }
        if command.isNamed("CMAP.INC") || command.isNamed("CMAP.DEC") {
            guard n == 2 else { return .answered(CommandReplies.wrongArity(command.name)) }
            switch CommandReplies.key(command[1]) {
            case .failure(let error): return .answered(error)
            case .success(let key):
                let op = CMapOperation.adjust(key, by: command.isNamed("CMAP.INC") ? 1 : -1)
                return .one(writeRequest(op, session: &session)) { result in
                    switch result {
                    case .value(let value, _): CommandReplies.number(value)
                    case .notFound: .error("ERR no such key '\(key)'")
                    default: PreparedCommand.unexpected(result, "CMAP.INC")
                    }
                }
            }
        }
        if command.isNamed("CMAP.CAS") {
            guard n == 4 || n == 5 else { return .answered(CommandReplies.wrongArity("cmap.cas")) }
            return cmapCAS(command, session: &session)
        }
        if command.isNamed("CMAP.ITER") {
            guard n == 2 || n == 3 else { return .answered(CommandReplies.wrongArity("cmap.iter")) }
            return cmapIter(command, session: session)
        }
        return nil
    }

    /// CMAP.CAS key version value [type]: the type defaults to str; version 0 = create.
    private func cmapCAS(_ command: RESPCommand, session: inout Session) -> PreparedCommand {
        let key: CMapKey, value: CMapValue
        switch CommandReplies.key(command[1]) {
        case .failure(let error): return .answered(error)
        case .success(let k): key = k
        }
        guard let version = CommandReplies.unsigned(command[2]) else {
            return .answered(.error("ERR invalid version '\(CommandReplies.text(command[2]))': expected an unsigned integer (0 = the key must not exist)"))
        }
        let valueType: Result<CMapValueType, RESPValue> = command.count == 5 ? Self.type(command[4]) : .success(.string)
        switch valueType.flatMap({ Self.value(command[3], as: $0) }) {
        case .failure(let error): return .answered(error)
        case .success(let v): value = v
        }
        if let refusal = refusal(of: value) { return .answered(refusal) }
        let op = CMapOperation.compareAndSet(key, expectedVersion: LogIndex(version), value: value)
        return .one(writeRequest(op, session: &session)) { result in
            guard case .versionMismatch(let current) = result else { return .ok }
            return .error("VERSIONMISMATCH key '\(key)' is at version \(current) (0 = missing): nothing was written")
        }
    }

    /// CMAP.ITER prefix [cursor] → [next cursor or "", [[key, type, value], ...]].
    private func cmapIter(_ command: RESPCommand, session: Session) -> PreparedCommand {
        let prefix: CMapPrefix
        switch CommandReplies.prefix(CommandReplies.bytes(command[1])) {
        case .failure(let error): return .answered(error)
        case .success(let p): prefix = p
        }
        var after: CMapKey?
        if command.count == 3, command[2].readableBytes > 0 {
            switch CommandReplies.key(command[2]) {
            case .failure(let error): return .answered(error)
            case .success(let k): after = k
            }
        }
        return .one(.read(.list(prefix, after: after, limit: Self.iterPageSize), session.readMode)) { result in
            guard case .list(let items, let next) = result else { return PreparedCommand.unexpected(result, "CMAP.ITER") }
            let entries: [RESPValue] = items.map {
                .array([.bulk(bytes: $0.key.bytes), .bulk($0.entry.value.type.description), CommandReplies.bulk($0.entry.value)])
            }
            return .array([.bulk(bytes: next?.bytes ?? []), .array(entries)])
        }
    }

    /// The error for a value longer than the store takes, checked before anything is sent
    /// so that nothing is written.
    func refusal(of value: CMapValue) -> RESPValue? {
        guard value.byteCount > valueBytesMax else { return nil }
        return .error("ERR value too large: \(value.byteCount) bytes, the maximum is \(valueBytesMax) (store max_value_bytes): nothing was written")
    }

    static func type(_ argument: ByteBuffer) -> Result<CMapValueType, RESPValue> {
        let name = CommandReplies.text(argument, max: 16)
        guard let type = CMapValueType(name: name) else {
            return .failure(.error("ERR invalid type '\(name)': use i8 u8 i16 u16 i32 u32 i64 u64 flt dbl str bin"))
        }
        return .success(type)
    }

    static func value(_ argument: ByteBuffer, as type: CMapValueType) -> Result<CMapValue, RESPValue> {
        do {
            return .success(try CMapValue(parsing: CommandReplies.bytes(argument), as: type))
        } catch {
            return .failure(.error("ERR invalid value: \(error.description)"))
        }
    }
}
