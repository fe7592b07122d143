import NIOCore
import Node
import RESP
import Testing

/// CPG over TCP against the fake (the real `ProcessGroups` core on a one-node ring).
@Suite("Commands: CPG.JOIN/LEAVE/MCAST/MEMBERS and their pushes")
struct CommandCPGTests {
    /// Reads `count` values (replies and pushes interleave: pushes are written as they
    /// happen, by their own task).
    static func read(_ count: Int, _ client: inout RESPClient) async throws -> [RESPValue] {
        var values: [RESPValue] = []
        for _ in 0..<count {
            guard let value = try await client.read() else { break }
            values.append(value)
        }
        return values
    }

    static func push(_ group: String, _ text: String) -> RESPValue { .bulks("message", "cpg:" + group, text) }

    @Test func joinMcastMembersLeaveOnOneConnection() async throws {
        try await ClientServerFixture.run { fixture throws in
            try await fixture.client { client throws in
                let id = try await client.call(["CLIENT", "ID"])
                guard case .integer(let me) = id else { Issue.record("CLIENT ID \(id)"); return }
                try await client.send(["CPG.JOIN", "jobs"])
                let joined = try await Self.read(2, &client)
                #expect(joined.first == .array([.bulk("subscribe"), .bulk("cpg:jobs"), .integer(1)]))
                #expect(joined.last == Self.push("jobs", "confchg joined=1:\(me)(join) left= members=1:\(me)"))
                try await client.send(["CPG.MCAST", "jobs", "hello world"])
                let sent = try await Self.read(2, &client)
                #expect(sent.contains(.ok))
                #expect(sent.contains(Self.push("jobs", "message 1:\(me) hello world")), "own messages come back")
                #expect(try await client.call(["CPG.MEMBERS", "jobs"]) == .bulks("1:\(me)"))
                try await client.send(["CPG.LEAVE", "jobs"])
                let left = try await Self.read(2, &client)
                #expect(left.contains(.array([.bulk("unsubscribe"), .bulk("cpg:jobs"), .integer(0)])))
                #expect(left.contains(Self.push("jobs", "confchg joined= left=1:\(me)(leave) members=")))
                #expect(try await client.call(["CPG.MEMBERS", "jobs"]) == .array([]))
            }
        }
    }

    /// Pipelined multicasts, which do not wait for earlier replies to be written (the
    /// throughput is Bench/CPGBench's to show), keep their order: every OK, and the messages
    /// back in the order sent.
    @Test func pipelinedMulticastsKeepTheirOrder() async throws {
        try await ClientServerFixture.run { fixture throws in
            try await fixture.client { client throws in
                guard case .integer(let me) = try await client.call(["CLIENT", "ID"]) else { return }
                _ = try await Self.read(2, &client, after: ["CPG.JOIN", "jobs"])
                for i in 0..<20 { try await client.send(["CPG.MCAST", "jobs", "m\(i)"]) }
                let values = try await Self.read(40, &client)
                let ok = RESPValue.ok
                let replies = values.filter { $0 == ok }
                let messages = values.filter { $0 != ok }
                #expect(replies.count == 20, "\(values)")
                #expect(messages == (0..<20).map { Self.push("jobs", "message 1:\(me) m\($0)") })
            }
        }
    }

    @Test func aClosedConnectionLeavesAsProcessDown() async throws {
        try await ClientServerFixture.run { fixture throws in
            try await fixture.client { watcher throws in
                try await watcher.send(["SUBSCRIBE", "cpg:jobs"])
                let first = try await Self.read(2, &watcher)
                #expect(first.first == .array([.bulk("subscribe"), .bulk("cpg:jobs"), .integer(1)]))
                let other: Int64 = try await fixture.client { client throws in
                    guard case .integer(let id) = try await client.call(["CLIENT", "ID"]) else { return 0 }
                    _ = try await Self.read(2, &client, after: ["CPG.JOIN", "jobs"])
                    let sent = try await Self.read(2, &client, after: ["CPG.MCAST", "jobs", "bye"])
                    #expect(sent.contains(.ok))
                    return id
                }
                // The other connection joined, spoke, and closed without leaving.
                let seen = try await Self.read(3, &watcher)
                // A read that timed out returns fewer replies: fail, do not index past them.
                try #require(seen.count == 3, "replies: \(seen)")
                guard case .array(let parts) = first.last, case .bulkString(let text) = parts.last else {
                    Issue.record("push \(String(describing: first.last))")
                    return
                }
                let fields = String(buffer: text).split(separator: "=")
                try #require(fields.count > 1, "push \(String(buffer: text))")
                let me = String(fields[1].split(separator: "(").first ?? "")
                #expect(seen[0] == Self.push("jobs", "confchg joined=1:\(other)(join) left= members=\(me),1:\(other)"))
                #expect(seen[1] == Self.push("jobs", "message 1:\(other) bye"))
                #expect(seen[2] == Self.push("jobs", "confchg joined= left=1:\(other)(process-down) members=\(me)"))
                #expect(await fixture.service.processGroupMemberCount == 1)
            }
        }
    }

    @Test func refusalsNameTheProblem() async throws {
        try await ClientServerFixture.run { fixture throws in
            try await fixture.client { client throws in
                #expect(try await client.call(["CPG.MCAST", "jobs", "x"]).errorText
                    == "ERR group 'jobs': this connection is not a member of the group")
                #expect(try await client.call(["CPG.LEAVE", "jobs"]).errorText?.contains("not a member") == true)
                #expect(try await client.call(["CPG.JOIN", "a b"]).errorText?.hasPrefix("ERR invalid group 'a b'") == true)
                #expect(try await client.call(["CPG.JOIN", String(repeating: "g", count: 129)]).errorText?.contains("at most 128 bytes") == true)
                #expect(try await client.call(["CPG.JOIN"]).errorText == "ERR wrong number of arguments for 'cpg.join' command")
                #expect(try await client.call(["CPG.MCAST", "jobs"]).errorText == "ERR wrong number of arguments for 'cpg.mcast' command")
                _ = try await Self.read(2, &client, after: ["CPG.JOIN", "jobs"])
                #expect(try await client.call(["CPG.JOIN", "jobs"]).errorText?.contains("already a member") == true)
                // A connection's groups are bounded.
                for i in 1..<64 { _ = try await Self.read(2, &client, after: ["CPG.JOIN", "g\(i)"]) }
                #expect(try await client.call(["CPG.JOIN", "one-too-many"]).errorText?.contains("at most 64 groups") == true)
            }
        }
    }

    static func read(_ count: Int, _ client: inout RESPClient, after command: [String]) async throws -> [RESPValue] {
        try await client.send(command)
        return try await read(count, &client)
    }
}
