import Basics
import CMap
import NIOCore
import RESP
import Replication
import Testing
@testable import Node

/// The writes a connection parses in one turn go to the node as one request
/// (`ClientConnectionHandler.sendWrites`, `ClientRequest.writeBatch`): one log entry, each
/// write with its own result and reply, in request order, and its own tracking event.
@Suite(.serialized) struct ClientServerWriteBatchTests {
    @Test(.timeLimit(.minutes(1))) func aPipelineOfWritesGetsEachItsOwnResultAndEvent() async throws {
        try await ClientServerReadBatchTests.withNode { runtime, port in
            let (_, events) = await runtime.track(CMapTrackFilter(.prefix(CMapPrefix(""))))
            let before = await runtime.status().lastIndex
            try await ClientServerReadBatchTests.client(port) { client throws in
                let commands: [[String]] = [
                    ["SET", "a", "1"], ["INCR", "a"], ["SET", "b", "x"], ["INCR", "b"], ["DEL", "none"],
                    ["CMAP.SET", "t.n", "u8", "255"], ["CMAP.INC", "t.n"], ["SET", "a", "7"], ["INCRBY", "a", "3"],
                    ["CMAP.INC", "b"], ["DEL", "b"], ["SET", "a", "10"],
                    ["GET", "a"], ["EXISTS", "b"], ["CMAP.GET", "t.n"],
                ]
                try await client.sendRaw(ClientServerPipeliningTests.pipeline(commands))
                let replies = try await ClientServerPipeliningTests.read(commands.count, from: &client)
                #expect(replies.count == commands.count)
                guard replies.count == commands.count else { return }
                // A failed write does not stop the next ones, as in a Redis pipeline.
                #expect(Array(replies[0..<3]) == [.ok, .integer(2), .ok])
                #expect(replies[3] == CommandReplies.storeError(.notAnInteger(key: CMapKey("b"))))
                #expect(Array(replies[4..<9]) == [.integer(0), .ok, .integer(0), .ok, .integer(10)])
                if case .error(let message) = replies[9] {
                    #expect(message.hasPrefix("WRONGTYPE"))
                } else {
                    Issue.record("CMAP.INC of a string: \(replies[9])")
                }
                #expect(Array(replies[10..<13]) == [.integer(1), .ok, .bulk("10")])
                #expect(replies[13] == .integer(0))
                guard case .array(let typed) = replies[14], typed.count == 3 else {
                    Issue.record("CMAP.GET: \(replies[14])")
                    return
                }
                #expect(Array(typed[0..<2]) == [.bulk("u8"), .bulk("0")])
            }
            // Every change, one event each, in request order (an identical SET makes none).
            var seen: [(CMapChangeKind, String, CMapValue?)] = []
            var indexes: [LogIndex] = []
            for await event in events {
                guard case .changed(let change) = event else { break }
                seen.append((change.kind, change.key.description, change.newValue))
                indexes.append(change.index)
                if seen.count == 8 { break }
            }
            let expected: [(CMapChangeKind, String, CMapValue?)] = [
                (.added, "a", .string("1")), (.modified, "a", .string("2")), (.added, "b", .string("x")),
                (.added, "t.n", .uint8(255)), (.modified, "t.n", .uint8(0)), (.modified, "a", .string("7")),
                (.modified, "a", .string("10")), (.deleted, "b", nil),
            ]
            #expect(seen.map(\.0) == expected.map(\.0) && seen.map(\.1) == expected.map(\.1)
                    && seen.map(\.2) == expected.map(\.2))
            #expect(indexes == indexes.sorted() && indexes.allSatisfy { $0 > before })
        }
    }

    @Test func sixteenSetsAreOneRequestCarryingEveryWriteInOrder() async throws {
        try await ClientServerFixture.run { fixture throws in
            try await fixture.client { client throws in
                try await client.sendRaw(ClientServerPipeliningTests.pipeline((0..<16).map { ["SET", "k\($0)", "v\($0)"] }))
                #expect(try await ClientServerPipeliningTests.read(16, from: &client) == Array(repeating: .ok, count: 16))
            }
            // The writes of a pipeline read at once travel as one request (two if the
            // stream happened to be cut), in request order; a batch's request number is
            // its last write's.
            let requests = await fixture.service.requests
            var ops: [CMapOperation] = []
            var seqs: [UInt64] = []
            for request in requests {
                switch request {
                case .write(let op, _, let seq): ops.append(op); seqs.append(seq)
                case .writeBatch(let batch, _, let seq): ops += batch; seqs.append(seq)
                default: Issue.record("unexpected \(request)")
                }
            }
            #expect(requests.count <= 2)
            #expect(ops == (0..<16).map { CMapOperation.set(CMapKey("k\($0)"), .string(Array("v\($0)".utf8))) })
            #expect(seqs.last == 16 && seqs == seqs.sorted())
        }
    }

    @Test func aFailureOfTheBatchIsEveryWritesAndLaterCommandsGoOn() async throws {
        try await ClientServerFixture.run { fixture throws in
            await fixture.service.plant(.failure(.noQuorum))
            try await fixture.client { client throws in
                let commands: [[String]] = [["SET", "a", "1"], ["INCR", "n"], ["DEL", "a"]]
                try await client.sendRaw(ClientServerPipeliningTests.pipeline(commands))
                let replies = try await ClientServerPipeliningTests.read(3, from: &client)
                // One request (read at once) failed: each write says so; or, if the stream
                // was cut, the first request's writes do.
                #expect(replies.first == CommandReplies.failure(.noQuorum))
                #expect(replies.allSatisfy { $0 == CommandReplies.failure(.noQuorum) || $0 == .ok || $0 == .integer(1) })
                try await client.send(["SET", "b", "2"])
                #expect(try await client.read() == .ok)
            }
        }
    }
}
