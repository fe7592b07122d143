import NIOCore
import Node
import RESP
import Testing

@Suite("Commands: CMAP, tracking, status and introspection over TCP")
struct CommandCMapTests {
    @Test func typedSetGetIncDecCas() async throws {
        try await ClientServerFixture.run { fixture throws in
            try await fixture.client { client throws in
                #expect(try await client.call(["CMAP.SET", "totem.token", "u32", "3000"]) == .ok)
                #expect(try await client.call(["CMAP.GET", "totem.token"]) == .array([.bulk("u32"), .bulk("3000"), .integer(1)]))
                #expect(try await client.call(["CMAP.INC", "totem.token"]) == .integer(3001))
                #expect(try await client.call(["CMAP.DEC", "totem.token"]) == .integer(3000))
                #expect(try await client.call(["CMAP.GET", "missing"]) == .nullArray)
                #expect(try await client.call(["CMAP.INC", "missing"]) == .error("ERR no such key 'missing'"))
                #expect(try await client.call(["CMAP.SET", "k", "u8", "300"]).errorText?.hasPrefix("ERR invalid value: bad value for type u8") == true)
                #expect(try await client.call(["CMAP.SET", "k", "int", "3"]).errorText?.hasPrefix("ERR invalid type 'int'") == true)
                #expect(try await client.call(["CMAP.SET", "name", "str", "a"]) == .ok)
                #expect(try await client.call(["CMAP.INC", "name"]).errorText?.hasPrefix("WRONGTYPE") == true)
                // CAS: version 0 creates; the current version replaces; another is refused.
                #expect(try await client.call(["CMAP.CAS", "lock", "0", "me"]) == .ok)
                guard case .array(let got) = try await client.call(["CMAP.GET", "lock"]), case .integer(let version) = got[2] else {
                    Issue.record("CMAP.GET lock")
                    return
                }
                #expect(try await client.call(["CMAP.CAS", "lock", "0", "you"]).errorText
                    == "VERSIONMISMATCH key 'lock' is at version \(version) (0 = missing): nothing was written")
                #expect(try await client.call(["CMAP.CAS", "lock", "\(version)", "7", "i64"]) == .ok)
                #expect(try await client.call(["CMAP.GET", "lock"]).arrayFirst == .bulk("i64"))
                #expect(try await client.call(["CMAP.CAS", "lock", "x", "7"]).errorText?.hasPrefix("ERR invalid version 'x'") == true)
            }
        }
    }

    @Test func iterPagesWithKeyCursors() async throws {
        try await ClientServerFixture.run { fixture throws in
            try await fixture.client { client throws in
                for i in 0..<150 { _ = try await client.call(["CMAP.SET", "n.\(1000 + i)", "i32", "\(i)"]) }
                let first = try await client.call(["CMAP.ITER", "n."])
                guard case .array(let parts) = first, case .array(let entries) = parts[0...].last else {
                    Issue.record("CMAP.ITER shape \(first)")
                    return
                }
                #expect(parts[0] == .bulk("n.1099"))
                #expect(entries.count == 100)
                #expect(entries.first == .bulks("n.1000", "i32", "0"))
                let second = try await client.call(["CMAP.ITER", "n.", "n.1099"])
                guard case .array(let parts2) = second, case .array(let rest) = parts2[1] else {
                    Issue.record("CMAP.ITER shape \(second)")
                    return
                }
                #expect(parts2[0] == .bulk(""))
                #expect(rest.count == 50)
                #expect(rest.last == .bulks("n.1149", "i32", "149"))
            }
        }
    }

    @Test func trackingPushesEventsInCommitOrder() async throws {
        try await ClientServerFixture.run { fixture throws in
            try await fixture.client { watcher throws in
                #expect(try await watcher.call(["CMAP.TRACK", "app."]) == .array([.bulk("subscribe"), .bulk("cmap:app."), .integer(1)]))
                #expect(try await watcher.call(["CMAP.TRACK", "cfg.", "DELETE"]) == .array([.bulk("subscribe"), .bulk("cmap:cfg."), .integer(2)]))
                try await fixture.client { writer throws in
                    #expect(try await writer.call(["SET", "app.x", "1"]) == .ok)
                    #expect(try await writer.call(["SET", "other", "1"]) == .ok)
                    #expect(try await writer.call(["CMAP.SET", "app.x", "u8", "2"]) == .ok)
                    #expect(try await writer.call(["SET", "cfg.a", "1"]) == .ok)
                    #expect(try await writer.call(["DEL", "app.x", "cfg.a"]) == .integer(2))
                }
                #expect(try await watcher.read() == .bulks("message", "cmap:app.", "add app.x str - -> 1 @1"))
                #expect(try await watcher.read() == .bulks("message", "cmap:app.", "modify app.x u8 1 -> 2 @3"))
                // The two tracks' pushes are not ordered with each other.
                let last = [try await watcher.read(), try await watcher.read()]
                #expect(last.contains(.bulks("message", "cmap:app.", "delete app.x u8 2 -> - @5")))
                #expect(last.contains(.bulks("message", "cmap:cfg.", "delete cfg.a str 1 -> - @6")))
                #expect(try await watcher.call(["CMAP.UNTRACK", "app."]) == .array([.bulk("unsubscribe"), .bulk("cmap:app."), .integer(1)]))
                #expect(try await watcher.call(["CMAP.UNTRACK"]) == .array([.bulk("unsubscribe"), .bulk("cmap:cfg."), .integer(0)]))
                #expect(try await watcher.call(["CMAP.UNTRACK"]) == .array([.bulk("unsubscribe"), .nullBulkString, .integer(0)]))
                #expect(await fixture.service.trackCount == 0)
                #expect(try await watcher.call(["CMAP.TRACK", "x", "SOMETIMES"]).errorText?.hasPrefix("ERR invalid track kind 'SOMETIMES'") == true)
            }
        }
    }

    @Test func subscribeIsThePubSubSpellingOfTrack() async throws {
        try await ClientServerFixture.run { fixture throws in
            try await fixture.client { watcher throws in
                try await watcher.send(["SUBSCRIBE", "cmap:t.", "news", "cmap:"])
                #expect(try await watcher.read() == .array([.bulk("subscribe"), .bulk("cmap:t."), .integer(1)]))
                #expect(try await watcher.read()?.errorText == "ERR channel 'news' does not exist: channels are cmap:<key prefix>")
                #expect(try await watcher.read() == .array([.bulk("subscribe"), .bulk("cmap:"), .integer(2)]))
                try await fixture.client { writer throws in
                    #expect(try await writer.call(["SET", "t.a", "1"]) == .ok)
                }
                // Both tracks match; each push names its own channel. Pushes of different tracks
                // are not ordered with each other (each track's own events are).
                let pushes = [try await watcher.read(), try await watcher.read()]
                #expect(pushes.contains(.bulks("message", "cmap:t.", "add t.a str - -> 1 @1")))
                #expect(pushes.contains(.bulks("message", "cmap:", "add t.a str - -> 1 @1")))
                try await watcher.send(["UNSUBSCRIBE"])
                #expect(try await watcher.read() == .array([.bulk("unsubscribe"), .bulk("cmap:t."), .integer(1)]))
                #expect(try await watcher.read() == .array([.bulk("unsubscribe"), .bulk("cmap:"), .integer(0)]))
                #expect(await fixture.service.trackCount == 0)
            }
        }
    }

    @Test func statusCommands() async throws {
        try await ClientServerFixture.run { fixture throws in
            try await fixture.client { client throws in
                _ = try await client.call(["SET", "a", "1"])
                let info = try await client.call(["INFO"]).string ?? ""
                for section in ["# Server", "# Clients", "# Replication", "# Quorum", "# Persistence", "# Stats"] {
                    #expect(info.contains(section + "\r\n"), "INFO lacks \(section)")
                }
                #expect(info.contains("ring_id:1.4\r\n"))
                #expect(info.contains("commit_index:1\r\n"))
                let replication = try await client.call(["INFO", "replication"]).string ?? ""
                #expect(replication.hasPrefix("# Replication\r\n") && !replication.contains("# Server"))
                #expect(try await client.call(["LOG.INFO"]) == .array([
                    .bulk("first_index"), .integer(1), .bulk("last_index"), .integer(1), .bulk("durable_index"), .integer(1),
                    .bulk("commit_index"), .integer(1), .bulk("applied_index"), .integer(1),
                    .bulk("snapshot_index"), .integer(0), .bulk("epoch"), .integer(4),
                ]))
                #expect(try await client.call(["RING.STATUS"]) == .array([
                    .bulk("node_id"), .integer(1), .bulk("ring_id"), .bulk("1.4"), .bulk("totem_state"), .bulk("operational"),
                    .bulk("members"), .array([.integer(1)]),
                    .bulk("rings"), .array([.array([.integer(0), .bulk("active"), .bulk("in-memory")])]),
                ]))
                let quorum = try await client.call(["QUORUM.INFO"])
                #expect(quorum.arrayFirst == .bulk("quorate"))
                #expect(try await client.call(["METRICS"]) == .bulk(
                    "# TYPE totemkv_fake_requests untyped\ntotemkv_fake_requests 1\n# TYPE totemkv_fake_writes untyped\ntotemkv_fake_writes 1\n"))
                #expect(try await client.call(["SNAPSHOT"]) == .integer(1))
                #expect(try await client.call(["CLIENT", "GETNAME"]) == .nullBulkString)
                #expect(try await client.call(["CLIENT", "SETNAME", "tester"]) == .ok)
                #expect(try await client.call(["CLIENT", "GETNAME"]) == .bulk("tester"))
                #expect(try await client.call(["CLIENT", "SETNAME", "a b"]).isError)
            }
        }
    }

    @Test func infoCountsClientsAndCommands() async throws {
        try await ClientServerFixture.run { fixture throws in
            try await fixture.client { first throws in
                #expect(try await first.call(["PING"]) == .simpleString("PONG"))
                try await fixture.client { second throws in
                    try await second.sendRaw("*1\r\n$4\r\nPING\r\n*x\r\n")
                    #expect(try await second.read() == .simpleString("PONG"))
                    #expect(try await second.read() == .error("ERR Protocol error: invalid multibulk length"))
                }
                let clients = try await first.call(["INFO", "clients"]).string ?? ""
                let stats = try await first.call(["INFO", "stats"]).string ?? ""
                #expect(clients.contains("connected_clients:1\r\n") || clients.contains("connected_clients:2\r\n"))
                #expect(stats.contains("total_connections_received:2\r\n"))
                #expect(stats.contains("total_protocol_errors:1\r\n"))
                #expect(stats.contains("total_commands_processed:3\r\n"))
            }
        }
    }

    @Test func toolStartupCommands() async throws {
        try await ClientServerFixture.run { fixture throws in
            try await fixture.client { client throws in
                #expect(try await client.call(["CONFIG", "GET", "save"]) == .bulks("save", ""))
                #expect(try await client.call(["CONFIG", "GET", "appendonly"]) == .bulks("appendonly", "no"))
                #expect(try await client.call(["CONFIG", "GET", "maxmemory"]) == .array([]))
                #expect(try await client.call(["COMMAND", "DOCS"]) == .array([]))
                guard case .integer(let count) = try await client.call(["COMMAND", "COUNT"]) else {
                    Issue.record("COMMAND COUNT")
                    return
                }
                #expect(try await client.call(["COMMAND"]).arrayCount == Int(count))
                #expect(try await client.call(["COMMAND", "INFO", "get"]) == .array([.array([
                    .bulk("get"), .integer(2), .array([.simpleString("readonly"), .simpleString("fast")]),
                    .integer(1), .integer(1), .integer(1),
                ])]))
                #expect(try await client.call(["HELLO", "3"]) == .error("NOPROTO unsupported protocol version"))
                guard case .array(let hello) = try await client.call(["HELLO", "2"]) else {
                    Issue.record("HELLO 2")
                    return
                }
                #expect(Array(hello.prefix(2)) == [.bulk("server"), .bulk("totemkv")])
                #expect(hello.count % 2 == 0)
                #expect(try await client.call(["CONFIG", "SET", "save", ""]).errorText?.hasPrefix("ERR CONFIG SET is not supported") == true)
                #expect(try await client.call(["CLIENT", "SETINFO", "lib-name", "x"]) == .ok)
                guard case .array(let quorum) = try await client.call(["QUORUM.INFO"]) else {
                    Issue.record("QUORUM.INFO")
                    return
                }
                #expect(Array(quorum.prefix(4)) == [.bulk("quorate"), .integer(1), .bulk("store_quorate"), .integer(1)])
            }
        }
    }
}

extension RESPValue {
    var arrayFirst: RESPValue? {
        if case .array(let elements) = self { return elements.first }
        return nil
    }
}
