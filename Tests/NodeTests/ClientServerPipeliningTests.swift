import CMap
import NIOCore
import Node
import RESP
import Replication
import Testing

/// Pipelining without serialising (docs/protocol.md): consecutive plain requests of one
/// connection are in flight together; replies keep request order; later commands see the
/// effects of earlier ones; commands that change the session run alone.
///
/// The fake holds writes and linearizable reads until released (`holdOrderedRequests`), so
/// a test can see how many requests a connection had in flight at once.
@Suite("Client server: pipelining")
struct ClientServerPipeliningTests {
    /// Waits until the fake holds `count` requests. After 20 s it releases them instead, so
    /// a connection that never sends them fails the test rather than hanging it.
    static func held(_ service: FakeNodeService, _ count: Int) async -> Bool {
        let deadline = Task {
            // Not a pause in the logic: the bound after which the wait is given up.
            guard (try? await Task.sleep(for: .seconds(20))) != nil else { return }
            await service.releaseHeld()
        }
        defer { deadline.cancel() }
        return await service.waitUntilHeld(count)
    }

    static func pipeline(_ commands: [[String]]) -> ByteBuffer {
        var batch = ByteBuffer()
        for command in commands { RESPCommand(strings: command).encode(into: &batch) }
        return batch
    }

    static func read(_ count: Int, from client: inout RESPClient) async throws -> [RESPValue] {
        var replies: [RESPValue] = []
        for _ in 0..<count {
            guard let reply = try await client.read() else { break }
            replies.append(reply)
        }
        return replies
    }

    @Test func sixteenSetsAreInFlightTogetherAndAnsweredInOneRound() async throws {
        try await ClientServerFixture.run { fixture throws in
            await fixture.service.holdOrderedRequests()
            try await fixture.client { client throws in
                try await client.sendRaw(Self.pipeline((0..<16).map { ["SET", "k\($0)", "v\($0)"] }))
                // Parsed in one turn, the 16 SETs are one request (a write batch).
                #expect(await Self.held(fixture.service, 1), "the connection did not send the SETs before their replies")
                await fixture.service.releaseHeld()
                #expect(try await Self.read(16, from: &client) == Array(repeating: .ok, count: 16))
            }
            // One round for all 16 (two if the stream was cut): a serial connection would need 16.
            #expect(await fixture.service.rounds <= 2)
            // Sent in request order: the writes follow the pipeline, and the request
            // numbers grow (a batch is numbered as its last write).
            var ops: [CMapOperation] = []
            var seqs: [UInt64] = []
            for request in await fixture.service.requests {
                switch request {
                case .write(let op, _, let seq): ops.append(op); seqs.append(seq)
                case .writeBatch(let batch, _, let seq): ops += batch; seqs.append(seq)
                default: Issue.record("unexpected \(request)")
                }
            }
            #expect(ops.count == 16 && seqs.last == 16 && seqs == seqs.sorted())
        }
    }

    @Test func readsSeeTheWritesBeforeThemInsideAPipeline() async throws {
        try await ClientServerFixture.run { fixture throws in
            await fixture.service.holdOrderedRequests()
            try await fixture.client { client throws in
                let commands: [[String]] = [
                    ["SET", "a", "1"], ["INCR", "a"], ["INCRBY", "a", "10"], ["PING"],
                    ["CMAP.SET", "t.n", "u8", "255"], ["CMAP.INC", "t.n"], ["DEL", "gone"],
                    ["GET", "a"], ["CMAP.GET", "t.n"], ["EXISTS", "a", "t.n"], ["MGET", "a", "gone"], ["DBSIZE"],
                ]
                try await client.sendRaw(Self.pipeline(commands))
                // All in flight at once: 6 writes as one request, then reads (EXISTS and
                // MGET two each, one request per read with this fake).
                #expect(await Self.held(fixture.service, 8))
                await fixture.service.releaseHeld()
                let replies = try await Self.read(commands.count, from: &client)
                // The version of t.n is the index of the entry that last changed it: the six
                // writes are one entry (index 1) when parsed in one turn, up to 5 if cut.
                guard replies.count == commands.count, case .array(let typed) = replies[8], typed.count == 3,
                      case .integer(let version) = typed[2] else {
                    Issue.record("\(replies)")
                    return
                }
                #expect((1...5).contains(version))
                #expect(replies == [
                    .ok, .integer(2), .integer(12), .simpleString("PONG"), .ok, .integer(0), .integer(0),
                    .bulk("12"), .array([.bulk("u8"), .bulk("0"), .integer(version)]), .integer(2),
                    .array([.bulk("12"), .nullBulkString]), .integer(2),
                ])
            }
            #expect(await fixture.service.rounds == 1)
        }
    }

    /// A linearizable read is answered when its barrier is confirmed, from the state then,
    /// which may hold writes sent after it; so a write is not sent while a read before it
    /// is unanswered, and the GET below cannot see the SET after it.
    @Test func aWriteWaitsForTheReadsBeforeIt() async throws {
        try await ClientServerFixture.run { fixture throws in
            try await fixture.client { client throws in
                #expect(try await client.call(["SET", "a", "old"]) == .ok)
                await fixture.service.holdOrderedRequests()
                try await client.sendRaw(Self.pipeline([["GET", "a"], ["MGET", "a", "b"], ["SET", "a", "new"], ["GET", "a"]]))
                #expect(await Self.held(fixture.service, 3))
                #expect(fixture.service.submittedCount == 4)
                await fixture.service.releaseHeld()
                #expect(try await Self.read(4, from: &client) == [
                    .bulk("old"), .array([.bulk("old"), .nullBulkString]), .ok, .bulk("new"),
                ])
            }
        }
    }

    @Test func anErrorInTheMiddleOfAPipelineAnswersOnlyItsCommand() async throws {
        try await ClientServerFixture.run { fixture throws in
            await fixture.service.plant(.failure(.unknownOutcome))
            try await fixture.client { client throws in
                // The GET after the first SET sends it alone (a failure of a write batch is
                // every write's: ClientServerWriteBatchTests).
                try await client.sendRaw(Self.pipeline([["SET", "lost", "1"], ["GET", "lost"], ["SET", "a", "1"],
                                                        ["SET", "s", "text"], ["INCR", "s"], ["GET", "bad key"], ["GET"],
                                                        ["INCR", "a"], ["GET", "a"]]))
                let replies = try await Self.read(9, from: &client)
                #expect(replies.count == 9)
                guard replies.count == 9 else { return }
                #expect(replies[0].errorText?.hasPrefix("UNKNOWN ") == true)
                #expect(replies[1] == .nullBulkString)
                #expect(replies[2] == .ok)
                #expect(replies[3] == .ok)
                #expect(replies[4] == .error("ERR value is not an integer or out of range"))
                #expect(replies[5].errorText?.hasPrefix("ERR invalid key 'bad key'") == true)
                #expect(replies[6] == .error("ERR wrong number of arguments for 'get' command"))
                #expect(replies[7] == .integer(2))
                #expect(replies[8] == .bulk("2"))
            }
        }
    }

    @Test func aProtocolErrorInTheMiddleOfAPipelineKeepsTheOrder() async throws {
        try await ClientServerFixture.run(limits: RESPLimits(bulkBytesMax: 64)) { fixture throws in
            try await fixture.client { client throws in
                let batch = Self.pipeline([["SET", "a", "1"], ["INCR", "a"], ["SET", "big", String(repeating: "x", count: 100)],
                                           ["INCR", "a"], ["EXISTS", "big"]])
                try await client.sendRaw(batch)
                let replies = try await Self.read(5, from: &client)
                #expect(replies.count == 5)
                guard replies.count == 5 else { return }
                #expect(Array(replies[0...1]) == [.ok, .integer(2)])
                #expect(replies[2].errorText?.contains("bulk") == true, "\(replies[2])")
                #expect(Array(replies[3...4]) == [.integer(3), .integer(0)])
            }
        }
    }

    @Test func aStaleReadWaitsForTheWritesBeforeIt() async throws {
        try await ClientServerFixture.run { fixture throws in
            try await fixture.client { client throws in
                #expect(try await client.call(["READMODE", "stale"]) == .ok)
                await fixture.service.holdOrderedRequests()
                try await client.sendRaw(Self.pipeline([["SET", "a", "1"], ["GET", "a"]]))
                #expect(await Self.held(fixture.service, 1))
                // The stale GET is not sent while the SET is unanswered.
                #expect(fixture.service.submittedCount == 1)
                await fixture.service.releaseHeld()
                #expect(try await Self.read(2, from: &client) == [.ok, .bulk("1")])
            }
        }
    }

    @Test func sessionCommandsWaitForEverythingBeforeThem() async throws {
        try await ClientServerFixture.run { fixture throws in
            await fixture.service.holdOrderedRequests()
            try await fixture.client { client throws in
                try await client.sendRaw(Self.pipeline([
                    ["SET", "a", "1"], ["CLIENT", "SETNAME", "pipe"], ["READMODE", "stale"], ["GET", "a"],
                    ["CLIENT", "GETNAME"], ["READMODE"],
                ]))
                #expect(await Self.held(fixture.service, 1))
                #expect(fixture.service.submittedCount == 1)
                await fixture.service.releaseHeld()
                #expect(try await Self.read(6, from: &client) == [
                    .ok, .ok, .ok, .bulk("1"), .bulk("pipe"), .bulk("stale"),
                ])
            }
            // The GET went as a stale read: READMODE applied to what came after it only.
            #expect(await fixture.service.requests.last == .read(.get(try CMapKey(validating: Array("a".utf8))), .stale))
        }
    }

    @Test func inFlightRequestsAreBoundedByThePendingLimit() async throws {
        try await ClientServerFixture.run(limits: RESPLimits(pendingRequestsMax: 4)) { fixture throws in
            await fixture.service.holdOrderedRequests()
            try await fixture.client { client throws in
                try await client.sendRaw(Self.pipeline((0..<10).map { ["INCR", "n\($0 % 2)"] }))
                // The first four, parsed together, are one request; the fifth waits for
                // room (a stream cut before the fourth sends them as two).
                #expect(await Self.held(fixture.service, 1))
                let submitted = fixture.service.submittedCount
                #expect(submitted >= 1 && submitted <= 2)
                await fixture.service.releaseHeld()
                let replies = try await Self.read(10, from: &client)
                #expect(replies == (0..<10).map { .integer(Int64($0 / 2 + 1)) })
            }
        }
    }

    @Test func valuesOverTheStoreLimitAreRefusedBeforeAnythingIsSent() async throws {
        try await ClientServerFixture.run(valueBytesMax: 8) { fixture throws in
            try await fixture.client { client throws in
                let replies = try await client.pipeline([
                    ["SET", "a", "12345678"], ["SET", "b", "123456789"], ["SET", "b", "123456789", "NX"],
                    ["CMAP.SET", "b", "str", "123456789"], ["CMAP.CAS", "b", "0", "123456789"], ["EXISTS", "a", "b"],
                ])
                #expect(replies.first == .ok)
                for reply in replies.dropFirst().prefix(4) {
                    #expect(reply.errorText?.hasPrefix("ERR value too large: 9 bytes, the maximum is 8") == true, "\(reply)")
                }
                #expect(replies.last == .integer(1))
            }
            // Only the SET that fits and the EXISTS reached the node.
            #expect(await fixture.service.requests.count == 3)
        }
    }
}

extension RESPClient {
    /// Sends every command in one write, then reads one reply each.
    mutating func pipeline(_ commands: [[String]]) async throws -> [RESPValue] {
        try await sendRaw(ClientServerPipeliningTests.pipeline(commands))
        var replies: [RESPValue] = []
        for _ in commands {
            guard let reply = try await read() else { break }
            replies.append(reply)
        }
        return replies
    }
}
