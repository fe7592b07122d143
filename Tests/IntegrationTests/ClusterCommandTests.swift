import Foundation
import Testing

/// Every command of the line protocol (issue 8) against three real `totemkv node`
/// processes, with Redis's reply shapes; writes through one node read back on the others;
/// AUTH with a configured password; a half-sent command; oversized values.
///
/// One cluster per test (starting one takes a few seconds), every exchange bounded by the
/// client's receive timeout.
@Suite(.serialized)
struct ClusterCommandTests {
    static let password = "it-secret"
    static let valueBytesMax = 4096

    static func cluster() throws -> ProcessCluster {
        let cluster = try ProcessCluster(nodeCount: 3)
        try cluster.addToConfig(section: "client", ["password: \(password)"])
        try cluster.addToConfig(section: "store", ["max_value_bytes: \(valueBytesMax)"])
        return cluster
    }

    @Test(.timeLimit(.minutes(5))) func everyCommandWithRedisReplyShapesOnARealCluster() throws {
        let cluster = try Self.cluster()
        defer { cluster.stopAll() }
        try cluster.startQuorate(password: Self.password)
        try authentication(cluster)
        try connectionCommands(cluster)
        try stringCommands(cluster)
        try keyListing(cluster)
        try cmapCommands(cluster)
        try adminCommands(cluster)
        try halfACommandThenDisconnect(cluster)
        try oversizedValues(cluster)
    }

    private func authentication(_ cluster: ProcessCluster) throws {
        let client = try cluster.connect(1)
        #expect(try client.call(["GET", "a"]) == .error("NOAUTH Authentication required."))
        #expect(try client.call(["PING"]) == .error("NOAUTH Authentication required."))
        #expect(try client.call(["AUTH", "wrong"]).string?.hasPrefix("WRONGPASS") == true)
        #expect(try client.call(["AUTH", Self.password]) == .ok)
        #expect(try client.call(["PING"]) == .simple("PONG"))
        let other = try cluster.connect(2)
        #expect(try other.call(["AUTH", "default", Self.password]) == .ok)
    }

    private func connectionCommands(_ cluster: ProcessCluster) throws {
        let client = try cluster.connect(1, password: Self.password)
        #expect(try client.call(["PING"]) == .simple("PONG"))
        #expect(try client.call(["PING", "hello"]) == .text("hello"))
        #expect(try client.call(["ECHO", "a b\r\nc"]) == .text("a b\r\nc"))
        #expect(try client.call(["SELECT", "0"]) == .ok)
        #expect(try client.call(["SELECT", "3"]).isError)
        #expect(try client.call(["CLIENT", "GETNAME"]) == .null)
        #expect(try client.call(["CLIENT", "SETNAME", "it-client"]) == .ok)
        #expect(try client.call(["CLIENT", "GETNAME"]) == .text("it-client"))
        #expect(try client.call(["CLIENT", "ID"]).integer.map { $0 > 0 } == true)
        #expect(try client.call(["READMODE"]) == .text("linearizable"))
        #expect(try client.call(["READMODE", "stale"]) == .ok)
        #expect(try client.call(["READMODE"]) == .text("stale"))
        #expect(try client.call(["READMODE", "sometimes"]).isError)
        #expect(try client.call(["NOSUCH"]).string?.hasPrefix("ERR unknown command") == true)
        #expect(try client.call(["QUIT"]) == .ok)
        #expect(client.isClosedByServer())
    }

    private func stringCommands(_ cluster: ProcessCluster) throws {
        let one = try cluster.connect(1, password: Self.password)
        let two = try cluster.connect(2, password: Self.password)
        let three = try cluster.connect(3, password: Self.password)
        #expect(try one.call(["SET", "s.k", "v1"]) == .ok)
        #expect(try one.call(["SET", "s.k", "v2", "NX"]) == .null)
        #expect(try one.call(["SET", "s.new", "n", "NX"]) == .ok)
        #expect(try one.call(["SET", "s.k", "v3", "XX"]) == .ok)
        #expect(try one.call(["SET", "s.missing", "x", "XX"]) == .null)
        #expect(try one.call(["SET", "s.k", "v4", "GET"]) == .text("v3"))
        #expect(try one.call(["SET", "s.k", "v5", "NX", "XX"]) == .error("ERR syntax error"))
        // Written through node 1, read (linearizably) through the others.
        #expect(try two.call(["GET", "s.k"]) == .text("v4"))
        #expect(try three.call(["GET", "s.k"]) == .text("v4"))
        #expect(try three.call(["GET", "s.missing"]) == .null)
        #expect(try two.call(["MGET", "s.k", "s.missing", "s.new"]) == .array([.text("v4"), .null, .text("n")]))
        #expect(try two.call(["EXISTS", "s.k", "s.missing", "s.new"]) == .integer(2))
        #expect(try three.call(["INCR", "s.count"]) == .integer(1))
        #expect(try three.call(["INCRBY", "s.count", "41"]) == .integer(42))
        #expect(try two.call(["DECR", "s.count"]) == .integer(41))
        #expect(try one.call(["DECRBY", "s.count", "40"]) == .integer(1))
        #expect(try one.call(["INCR", "s.k"]) == .error("ERR value is not an integer or out of range"))
        #expect(try two.call(["GET", "s.count"]) == .text("1"))
        #expect(try three.call(["DEL", "s.new", "s.missing"]) == .integer(1))
        #expect(try one.call(["EXISTS", "s.new"]) == .integer(0))
        #expect(try one.call(["DEL", "s.count"]) == .integer(1))
        #expect(try two.call(["GET", "s.count"]) == .null)
        // A stale read on node 3 after a linearizable one saw the write: it is applied there.
        #expect(try three.call(["READMODE", "stale"]) == .ok)
        #expect(try three.call(["GET", "s.k"]) == .text("v4"))
    }

    private func keyListing(_ cluster: ProcessCluster) throws {
        let one = try cluster.connect(1, password: Self.password)
        let two = try cluster.connect(2, password: Self.password)
        let keys = (0..<7).map { "list.k\($0)" }
        #expect(try one.pipeline(keys.map { ["SET", $0, "x"] }) == Array(repeating: .ok, count: keys.count))
        #expect(try two.call(["KEYS", "list.*"]) == .array(keys.map { .text($0) }))
        #expect(try two.call(["KEYS", "list.k[0-3]"]).string?.hasPrefix("ERR only prefix* patterns") == true)
        var scanned: [String] = []
        var cursor = "0"
        var pages = 0
        repeat {
            let reply = try two.call(["SCAN", cursor, "MATCH", "list.*", "COUNT", "3"])
            guard reply.elements.count == 2, let next = reply.elements[0].string else {
                Issue.record("SCAN reply \(reply)")
                break
            }
            scanned += reply.elements[1].elements.compactMap(\.string)
            cursor = next
            pages += 1
        } while cursor != "0" && pages < 10
        #expect(scanned == keys)
        #expect(pages == 3)
        let size = try two.call(["DBSIZE"]).integer ?? -1
        #expect(size >= Int64(keys.count))
        let listed = try one.call(["KEYS", "*"]).elements.count
        #expect(Int64(listed) == size)
    }

    private func cmapCommands(_ cluster: ProcessCluster) throws {
        let one = try cluster.connect(1, password: Self.password)
        let three = try cluster.connect(3, password: Self.password)
        #expect(try one.call(["CMAP.SET", "app.port", "u16", "8080"]) == .ok)
        let typed = try three.call(["CMAP.GET", "app.port"])
        #expect(typed.elements.prefix(2) == [.text("u16"), .text("8080")])
        let version = typed.elements.last?.integer ?? 0
        #expect(version > 0)
        #expect(try three.call(["CMAP.INC", "app.port"]) == .integer(8081))
        #expect(try one.call(["CMAP.DEC", "app.port"]) == .integer(8080))
        #expect(try one.call(["CMAP.SET", "app.port", "u16", "70000"]).string?.hasPrefix("ERR invalid value") == true)
        #expect(try one.call(["CMAP.SET", "app.x", "nosuchtype", "1"]).string?.hasPrefix("ERR invalid type") == true)
        #expect(try one.call(["CMAP.GET", "app.none"]) == .array(nil))
        #expect(try one.call(["CMAP.CAS", "app.name", "0", "alpha"]) == .ok)
        #expect(try three.call(["CMAP.CAS", "app.name", "0", "beta"]).string?.hasPrefix("VERSIONMISMATCH") == true)
        let nameVersion = try three.call(["CMAP.GET", "app.name"]).elements.last?.integer ?? 0
        #expect(try three.call(["CMAP.CAS", "app.name", String(nameVersion), "beta"]) == .ok)
        #expect(try one.call(["CMAP.ITER", "app."]) == .array([
            .text(""),
            .array([.texts("app.name", "str", "beta"), .texts("app.port", "u16", "8080")]),
        ]))
        #expect(try one.call(["CMAP.TRACK", "app."]) == .array([.text("subscribe"), .text("cmap:app."), .integer(1)]))
        #expect(try one.call(["CMAP.UNTRACK", "app."]) == .array([.text("unsubscribe"), .text("cmap:app."), .integer(0)]))
    }

    private func adminCommands(_ cluster: ProcessCluster) throws {
        let two = try cluster.connect(2, password: Self.password)
        let info = try two.call(["INFO"]).string ?? ""
        for section in ["# Server", "# Clients", "# Replication", "# Quorum", "# Persistence", "# Stats", "# Keyspace"] {
            #expect(info.contains(section + "\r\n"), "INFO lacks \(section)")
        }
        for field in ["ring_id:", "members:1,2,3", "epoch:", "commit_index:", "applied_index:", "durable_index:",
                      "quorate:1", "fsync:on", "total_commands_processed:"] {
            #expect(info.contains(field), "INFO lacks \(field)")
        }
        let replication = try two.call(["INFO", "replication"]).string ?? ""
        #expect(replication.hasPrefix("# Replication\r\n") && !replication.contains("# Server"))
        let quorumInfo = try two.call(["QUORUM.INFO"]).pairs
        #expect(quorumInfo["quorate"] == .integer(1))
        #expect(quorumInfo["total_votes"] == .integer(3))
        #expect(quorumInfo["quorum"] == .integer(2))
        #expect(quorumInfo["store_quorate"] == .integer(1))
        #expect(quorumInfo["store_majority_votes"] == .integer(2))
        let log = try two.call(["LOG.INFO"]).pairs
        for field in ["first_index", "last_index", "durable_index", "commit_index", "applied_index", "snapshot_index", "epoch"] {
            #expect(log[field]?.integer != nil, "LOG.INFO lacks \(field)")
        }
        #expect((log["commit_index"]?.integer ?? 0) > 0)
        let ring = try two.call(["RING.STATUS"]).pairs
        #expect(ring["node_id"] == .integer(2))
        #expect(ring["members"] == .array([.integer(1), .integer(2), .integer(3)]))
        #expect(ring["rings"]?.elements.first?.elements.prefix(2) == [.integer(0), .text("active")])
        let snapshotIndex = try two.call(["SNAPSHOT"]).integer ?? 0
        #expect(snapshotIndex > 0)
        #expect((try two.call(["LOG.INFO"]).pairs["snapshot_index"]?.integer ?? 0) >= snapshotIndex)
        // METRICS is Prometheus text: every sample line is `name{labels} value`.
        guard case .bulk(let metricsBytes?) = try two.call(["METRICS"]) else {
            Issue.record("METRICS is not a bulk string")
            return
        }
        let samples = String(decoding: metricsBytes, as: UTF8.self).split(separator: "\n").filter { !$0.hasPrefix("#") }
        #expect(!samples.isEmpty)
        #expect(samples.allSatisfy { Double($0.split(separator: " ").last ?? "") != nil }, "\(samples.prefix(5))")
        #expect(samples.contains { $0.hasPrefix("totemkv_") })
        let commands = try two.call(["COMMAND"]).elements
        #expect(commands.contains { $0.elements.first == .text("get") })
        #expect(try two.call(["COMMAND", "COUNT"]).integer == Int64(commands.count))
        #expect(try two.call(["CONFIG", "GET", "save"]) == .texts("save", ""))
        #expect(try two.call(["CONFIG", "GET", "appendonly"]) == .texts("appendonly", "no"))
    }

    /// A client that sends half a command and goes away: nothing is written and the
    /// server keeps serving.
    private func halfACommandThenDisconnect(_ cluster: ProcessCluster) throws {
        let half = try cluster.connect(2, password: Self.password)
        try half.sendRaw(Array("*3\r\n$3\r\nSET\r\n$8\r\nhalf.one\r\n$10\r\nabc".utf8))
        half.close()
        let inline = try cluster.connect(3, password: Self.password)
        try inline.sendRaw(Array("SET half.two value".utf8))
        inline.close()
        for id in 1...3 {
            let client = try cluster.connect(id, password: Self.password)
            #expect(try client.call(["PING"]) == .simple("PONG"))
            #expect(try client.call(["EXISTS", "half.one", "half.two"]) == .integer(0))
        }
    }

    /// Values longer than `max_value_bytes` are refused and nothing is written; a bulk
    /// string longer than the parser takes is skipped and the connection kept.
    private func oversizedValues(_ cluster: ProcessCluster) throws {
        let one = try cluster.connect(1, password: Self.password)
        let fits = String(repeating: "f", count: Self.valueBytesMax)
        #expect(try one.call(["SET", "big.fits", fits]) == .ok)
        let tooLarge = String(repeating: "t", count: Self.valueBytesMax + 1)
        #expect(try one.call(["SET", "big.over", tooLarge]).string?.hasPrefix("ERR value too large") == true)
        #expect(try one.call(["CMAP.SET", "big.over", "str", tooLarge]).string?.hasPrefix("ERR value too large") == true)
        #expect(try one.call(["SET", "big.over", tooLarge, "NX"]).string?.hasPrefix("ERR value too large") == true)
        // Past the parser's bulk limit (the value limit + 64 KiB): refused while reading.
        let huge = String(repeating: "h", count: Self.valueBytesMax + 64 * 1024 + 1)
        let reply = try one.call(["SET", "big.huge", huge])
        #expect(reply.isError && reply.string?.contains("bulk") == true, "\(reply)")
        #expect(try one.call(["PING"]) == .simple("PONG"))
        for id in 1...3 {
            let client = try cluster.connect(id, password: Self.password)
            #expect(try client.call(["EXISTS", "big.over", "big.huge"]) == .integer(0))
            #expect(try client.call(["GET", "big.fits"]) == .text(fits))
        }
    }
}
