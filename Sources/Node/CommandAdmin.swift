import Basics
import CMap
import NIOCore
import RESP
import Replication

/// INFO, LOG.INFO, RING.STATUS, QUORUM.INFO, METRICS, SNAPSHOT, and the introspection that
/// redis-cli and redis-benchmark send at start (COMMAND, CONFIG GET).
extension CommandDispatcher {
    func adminCommand(_ command: RESPCommand, session: Session) async -> RESPValue? {
        let n = command.count
        if command.isNamed("INFO") {
            guard n <= 2 else { return CommandReplies.wrongArity("info") }
            let section = n == 2 ? CommandReplies.text(command[1], max: 32).lowercased() : "all"
            return info(section: section, status: await service.status(), session: session)
        }
        if command.isNamed("LOG.INFO") {
            guard n == 1 else { return CommandReplies.wrongArity("log.info") }
            let s = await service.status()
            return Self.pairs([
                ("first_index", .integer(Self.int(s.firstIndex.rawValue))),
                ("last_index", .integer(Self.int(s.lastIndex.rawValue))),
                ("durable_index", .integer(Self.int(s.durableIndex.rawValue))),
                ("commit_index", .integer(Self.int(s.commitIndex.rawValue))),
                ("applied_index", .integer(Self.int(s.appliedIndex.rawValue))),
                ("snapshot_index", .integer(Self.int(s.snapshotIndex.rawValue))),
                ("epoch", .integer(Self.int(s.epoch.rawValue))),
            ])
        }
        if command.isNamed("RING.STATUS") {
            guard n == 1 else { return CommandReplies.wrongArity("ring.status") }
            let s = await service.status()
            return Self.pairs([
                ("node_id", .integer(Int64(s.nodeID.rawValue))),
                ("ring_id", .bulk(Self.ringText(s.ringID))),
                ("totem_state", .bulk(s.totemState)),
                ("members", .array(s.members.map { .integer(Int64($0.rawValue)) })),
                ("rings", .array(s.rings.map {
                    .array([.integer(Int64($0.ringNumber)), .bulk($0.isFaulty ? "FAULTY" : "active"), .bulk($0.detail)])
                })),
            ])
        }
        if command.isNamed("METRICS") {
            guard n == 1 else { return CommandReplies.wrongArity("metrics") }
            return .bulk(await Self.metricsText(service))
        }
        if command.isNamed("SNAPSHOT") {
            guard n == 1 else { return CommandReplies.wrongArity("snapshot") }
            do {
                return .integer(Self.int(try await service.snapshot().rawValue))
            } catch {
                return .error("ERR snapshot failed: \(error)")
            }
        }
        if command.isNamed("COMMAND") { return commandInfo(command) }
        if command.isNamed("CONFIG") { return config(command) }
        return nil
    }

    static func int(_ value: UInt64) -> Int64 { Int64(clamping: value) }

    static func ringText(_ ring: RingID) -> String { "\(ring.representative).\(ring.seq)" }

    /// A flat [name, value, name, value, ...] array, the RESP2 shape of a map (as HELLO).
    static func pairs(_ items: [(String, RESPValue)]) -> RESPValue {
        .array(items.flatMap { [RESPValue.bulk($0.0), $0.1] })
    }

    private func info(section: String, status s: NodeStatus, session: Session) -> RESPValue {
        var sections: [(String, [(String, String)])] = []
        let counts = stats.snapshot
        let all = section == "all" || section == "everything" || section == "default"
        func want(_ name: String) -> Bool { all || section == name }
        if want("server") {
            sections.append(("Server", [
                ("totemkv_version", ClientServerInfo.version), ("redis_version", "7.0.0"), ("redis_mode", "cluster"),
                ("node_id", "\(s.nodeID)"),
            ]))
        }
        if want("clients") {
            sections.append(("Clients", [
                ("connected_clients", "\(counts.connectedClients)"), ("client_id", "\(session.connectionNumber)"), ("client_name", session.name),
                ("read_mode", session.readMode == .linearizable ? "linearizable" : "stale"),
                ("tracks", "\(session.tracks.count)"),
            ]))
        }
        if want("replication") {
            let phase = switch s.phase {
            case .inactive: "inactive"
            case .syncing: "syncing"
            case .active: "active"
            }
            sections.append(("Replication", [
                ("role", "master"), ("ring_id", Self.ringText(s.ringID)),
                ("members", s.members.map(\.description).joined(separator: ",")), ("totem_state", s.totemState),
                ("phase", phase), ("epoch", "\(s.epoch)"), ("normal_epoch", "\(s.normalEpoch)"),
                ("commit_index", "\(s.commitIndex)"), ("applied_index", "\(s.appliedIndex)"),
                ("durable_index", "\(s.durableIndex)"), ("last_index", "\(s.lastIndex)"),
            ]))
        }
        if want("quorum") {
            sections.append(("Quorum", [
                ("quorate", s.isQuorate ? "1" : "0"), ("total_votes", "\(s.totalVotes)"),
                ("majority_votes", "\(s.majorityVotes)"),
            ]))
        }
        if want("persistence") {
            sections.append(("Persistence", [
                ("fsync", s.isFsyncOn ? "on" : "off"), ("first_index", "\(s.firstIndex)"),
                ("snapshot_index", "\(s.snapshotIndex)"), ("durable_index", "\(s.durableIndex)"),
            ] + Self.persistenceFields(s)))
        }
        if want("stalls") { sections.append(("Stalls", Self.stallFields(s))) }
        if want("stats") {
            let server = [
                ("total_connections_received", "\(counts.connectionsReceived)"),
                ("total_commands_processed", "\(counts.commandsProcessed)"),
                ("total_protocol_errors", "\(counts.protocolErrors)"),
            ]
            sections.append(("Stats", server + s.counters.map { ($0.0, "\($0.1)") }))
        }
        if want("keyspace") || all {
            sections.append(("Keyspace", [("db0", "keys=\(s.keyCount),expires=0,avg_ttl=0")]))
        }
        var text = ""
        for (title, fields) in sections {
            if !text.isEmpty { text += "\r\n" }
            text += "# \(title)\r\n"
            for (name, value) in fields { text += "\(name):\(value)\r\n" }
        }
        return .bulk(text)
    }

    /// The commands listed by COMMAND, with Redis's arity (negative = at least) and the
    /// positions of the first key, last key and key step.
    static let commandTable: [(name: String, arity: Int64, flags: [String], firstKey: Int64, lastKey: Int64, step: Int64)] = [
        ("auth", -2, ["noscript", "loading", "stale", "fast"], 0, 0, 0),
        ("client", -2, ["admin", "noscript"], 0, 0, 0),
        ("cmap.cas", -4, ["write"], 1, 1, 1),
        ("cmap.dec", 2, ["write", "fast"], 1, 1, 1),
        ("cmap.get", 2, ["readonly", "fast"], 1, 1, 1),
        ("cmap.inc", 2, ["write", "fast"], 1, 1, 1),
        ("cmap.iter", -2, ["readonly"], 0, 0, 0),
        ("cmap.set", 4, ["write"], 1, 1, 1),
        ("cmap.track", -2, ["pubsub"], 0, 0, 0),
        ("cmap.untrack", -1, ["pubsub"], 0, 0, 0),
        ("command", -1, ["loading", "stale"], 0, 0, 0),
        ("config", -2, ["admin", "loading", "stale"], 0, 0, 0),
        ("dbsize", 1, ["readonly", "fast"], 0, 0, 0),
        ("decr", 2, ["write", "denyoom", "fast"], 1, 1, 1),
        ("decrby", 3, ["write", "denyoom", "fast"], 1, 1, 1),
        ("del", -2, ["write"], 1, -1, 1),
        ("echo", 2, ["fast"], 0, 0, 0),
        ("exists", -2, ["readonly", "fast"], 1, -1, 1),
        ("get", 2, ["readonly", "fast"], 1, 1, 1),
        ("hello", -1, ["noscript", "loading", "stale", "fast"], 0, 0, 0),
        ("incr", 2, ["write", "denyoom", "fast"], 1, 1, 1),
        ("incrby", 3, ["write", "denyoom", "fast"], 1, 1, 1),
        ("info", -1, ["loading", "stale"], 0, 0, 0),
        ("keys", 2, ["readonly"], 0, 0, 0),
        ("log.info", 1, ["loading", "stale"], 0, 0, 0),
        ("metrics", 1, ["loading", "stale"], 0, 0, 0),
        ("mget", -2, ["readonly", "fast"], 1, -1, 1),
        ("ping", -1, ["stale", "fast"], 0, 0, 0),
        ("quit", -1, ["loading", "stale", "fast"], 0, 0, 0),
        ("quorum.info", 1, ["loading", "stale"], 0, 0, 0),
        ("readmode", -1, ["fast"], 0, 0, 0),
        ("ring.status", 1, ["loading", "stale"], 0, 0, 0),
        ("scan", -2, ["readonly"], 0, 0, 0),
        ("select", 2, ["loading", "stale", "fast"], 0, 0, 0),
        ("set", -3, ["write", "denyoom"], 1, 1, 1),
        ("snapshot", 1, ["admin"], 0, 0, 0),
        ("subscribe", -2, ["pubsub", "noscript", "loading", "stale"], 0, 0, 0),
        ("unlink", -2, ["write", "fast"], 1, -1, 1),
        ("unsubscribe", -1, ["pubsub", "noscript", "loading", "stale"], 0, 0, 0),
    ]

    private func commandInfo(_ command: RESPCommand) -> RESPValue {
        if command.count == 1 {
            return .array(Self.commandTable.map {
                .array([.bulk($0.name), .integer($0.arity), .array($0.flags.map { .simpleString($0) }),
                        .integer($0.firstKey), .integer($0.lastKey), .integer($0.step)])
            })
        }
        if command.argument(1, is: "COUNT") { return .integer(Int64(Self.commandTable.count)) }
        // redis-cli asks for DOCS at start for its hints; an empty map is a valid answer.
        if command.argument(1, is: "DOCS") { return .array([]) }
        if command.argument(1, is: "INFO") {
            return .array(command.arguments.dropFirst(2).map { argument in
                let name = CommandReplies.text(argument, max: 64).lowercased()
                guard let entry = Self.commandTable.first(where: { $0.name == name }) else { return .nullArray }
                return .array([.bulk(entry.name), .integer(entry.arity), .array(entry.flags.map { .simpleString($0) }),
                               .integer(entry.firstKey), .integer(entry.lastKey), .integer(entry.step)])
            })
        }
        return .error("ERR unknown subcommand '\(CommandReplies.text(command[1]))'. Try COMMAND, COMMAND COUNT, COMMAND DOCS or COMMAND INFO.")
    }

    /// CONFIG GET answers the parameters tools ask about (redis-benchmark reads `save` and
    /// `appendonly`); others give an empty list, as Redis does for unknown names. CONFIG SET
    /// is refused: the configuration is the cluster's file.
    private func config(_ command: RESPCommand) -> RESPValue {
        guard command.count >= 2 else { return CommandReplies.wrongArity("config") }
        if command.argument(1, is: "GET") {
            guard command.count >= 3 else { return CommandReplies.wrongArity("config|get") }
            let known: [(String, String)] = [("save", ""), ("appendonly", "no"), ("databases", "1")]
            var reply: [RESPValue] = []
            for argument in command.arguments.dropFirst(2) {
                let name = CommandReplies.text(argument, max: 64).lowercased()
                for (key, value) in known where name == key || name == "*" {
                    reply.append(.bulk(key))
                    reply.append(.bulk(value))
                }
            }
            return .array(reply)
        }
        if command.argument(1, is: "SET") {
            return .error("ERR CONFIG SET is not supported: TotemKV is configured by its cluster file")
        }
        if command.argument(1, is: "RESETSTAT") { return .ok }
        return .error("ERR unknown subcommand '\(CommandReplies.text(command[1]))'. Try CONFIG GET.")
    }
}
