import Basics
import CMap
import NIOCore
import NIOPosix
import RESP
import Replication
import Testing
@testable import Node

/// The linearizable reads a connection parses in one turn go to the node behind one read
/// barrier (`ClientConnectionHandler.sendReads`, `NodeRuntime.submitLinearizableReads`):
/// they still see every write before them, never a write after them in the pipeline, and
/// keep their places in the reply order.
@Suite(.serialized) struct ClientServerReadBatchTests {
    /// A one-node cluster with the client server on its loop, as `totemkv node` runs it.
    static func withNode(_ body: (NodeRuntime, Int) async throws -> Void) async throws {
        let cluster = try RuntimeTestCluster(nodeCount: 1)
        try await cluster.start([0])
        guard await cluster.waitForRing(of: 1), let runtime = cluster.runtimes[0] else {
            Issue.record("no quorate node")
            await cluster.shutdown()
            return
        }
        let handle = try await startClientServer(service: runtime, host: "127.0.0.1", port: 0, password: nil,
                                                 on: cluster.group)
        do {
            try await body(runtime, handle.localPort)
        } catch {
            Issue.record("\(error)")
        }
        await handle.close()
        await cluster.shutdown()
    }

    static func client<T: Sendable>(_ port: Int, _ body: (inout RESPClient) async throws -> T) async throws -> T {
        try await RESPClient.withConnection(host: "127.0.0.1", port: port, timeout: .seconds(20),
                                            on: MultiThreadedEventLoopGroup.singleton, body)
    }

    static func reads(_ runtime: NodeRuntime, _ ops: [CMapOperation]) async -> [ReplicatedNode.ClientReply] {
        await withCheckedContinuation { continuation in
            runtime.submitLinearizableReads(ops) { continuation.resume(returning: $0) }
        }
    }

    @Test(.timeLimit(.minutes(1))) func aBatchOfReadsSeesTheWriteBeforeItInOrder() async throws {
        try await Self.withNode { runtime, _ in
            let written = await runtime.execute(.write(.set(CMapKey("a"), .string("1")), clientID: 0, clientSeq: 0))
            guard case .result(.ok, let index) = written else {
                Issue.record("write: \(written)")
                return
            }
            let count = await runtime.execute(.read(.count(.all), .linearizable))
            let replies = await Self.reads(runtime, [.get(CMapKey("missing")), .get(CMapKey("a")), .count(.all)])
            #expect(replies.count == 3)
            guard replies.count == 3 else { return }
            #expect(replies.map(\.result) == [.notFound, .value(.string("1"), version: index), count.result])
            for reply in replies {
                if case .result(_, let at) = reply { #expect(at >= index) }
            }
            // A write op in a batch is refused, not applied.
            let refused = await Self.reads(runtime, [.get(CMapKey("a")), .delete(CMapKey("a"))])
            #expect(refused.count == 2)
            if refused.count == 2, case .rejected = refused[1] {} else { Issue.record("not refused: \(refused)") }
            #expect(await Self.reads(runtime, [.get(CMapKey("a"))]).map(\.result) == [.value(.string("1"), version: index)])
        }
    }

    @Test(.timeLimit(.minutes(1))) func aStoppedNodeFailsEveryReadOfABatch() async throws {
        try await Self.withNode { runtime, _ in
            await runtime.stop()
            let replies = await Self.reads(runtime, [.get(CMapKey("a")), .get(CMapKey("b")), .count(.all)])
            #expect(replies == Array(repeating: .failure(.noQuorum), count: 3))
        }
    }

    @Test(.timeLimit(.minutes(1))) func pipelinedReadsSeeEarlierWritesAndNotLaterOnes() async throws {
        try await Self.withNode { _, port in
            try await Self.client(port) { client throws in
                // GETs before a SET answer the old value, GETs after it the new one; MGET,
                // EXISTS and CMAP.GET batch with the GETs; PING takes its place between them.
                var commands: [[String]] = [["SET", "k", "old"]]
                commands += Array(repeating: ["GET", "k"], count: 5)
                commands += [["PING"], ["MGET", "k", "none"], ["SET", "k", "new"]]
                commands += Array(repeating: ["GET", "k"], count: 5)
                commands += [["EXISTS", "k", "none"], ["CMAP.GET", "none"], ["GET", "none"]]
                try await client.sendRaw(ClientServerPipeliningTests.pipeline(commands))
                let replies = try await ClientServerPipeliningTests.read(commands.count, from: &client)
                var expected: [RESPValue] = [.ok]
                expected += Array(repeating: .bulk("old"), count: 5)
                expected += [.simpleString("PONG"), .array([.bulk("old"), .nullBulkString]), .ok]
                expected += Array(repeating: .bulk("new"), count: 5)
                expected += [.integer(1), .nullArray, .nullBulkString]
                #expect(replies == expected)
            }
        }
    }

    @Test(.timeLimit(.minutes(1))) func aBatchSplitAcrossReadsAnswersEveryGetInOrder() async throws {
        try await Self.withNode { _, port in
            try await Self.client(port) { client throws in
                var setup: [[String]] = []
                for i in 0..<8 { setup.append(["SET", "s\(i)", "v\(i)"]) }
                try await client.sendRaw(ClientServerPipeliningTests.pipeline(setup))
                #expect(try await ClientServerPipeliningTests.read(8, from: &client) == Array(repeating: .ok, count: 8))
                // Sixteen GETs cut in the middle of a command: two reads, two batches at least.
                let gets = (0..<16).map { ["GET", "s\($0 % 8)"] }
                var bytes = ClientServerPipeliningTests.pipeline(gets)
                let cut = bytes.readableBytes / 2 + 3
                guard let head = bytes.readSlice(length: cut) else { return }
                try await client.sendRaw(head)
                try await client.sendRaw(bytes)
                let replies = try await ClientServerPipeliningTests.read(16, from: &client)
                #expect(replies == (0..<16).map { .bulk("v\($0 % 8)") })
                // In stale mode a GET is answered from local state and is not batched.
                try await client.send(["READMODE", "stale"])
                #expect(try await client.read() == .ok)
                try await client.sendRaw(ClientServerPipeliningTests.pipeline([["SET", "s0", "w"], ["GET", "s0"]]))
                #expect(try await ClientServerPipeliningTests.read(2, from: &client) == [.ok, .bulk("w")])
            }
        }
    }

    @Test func shortGetsAndSetsGiveThePreparedCommandsErrors() async throws {
        try await ClientServerFixture.run { fixture throws in
            // Failures and store errors of GET and SET taken the short way read as those of
            // the general way: the planted replies go to the requests in order.
            await fixture.service.plant(.failure(.unknownOutcome))
            await fixture.service.plant(.failure(.readNotConfirmed))
            await fixture.service.plant(.result(.error(.wrongType(key: CMapKey("b"), type: .uint8, operation: "get")), index: LogIndex(1)))
            await fixture.service.plant(.rejected("no"))
            try await fixture.client { client throws in
                let commands: [[String]] = [["SET", "a", "1"], ["GET", "a"], ["GET", "b"], ["SET", "c", "3"],
                                            ["GET", "a"], ["SET", "d", "4"], ["GET", "d"]]
                try await client.sendRaw(ClientServerPipeliningTests.pipeline(commands))
                let replies = try await ClientServerPipeliningTests.read(commands.count, from: &client)
                #expect(replies == [
                    CommandReplies.failure(.unknownOutcome), CommandReplies.failure(.readNotConfirmed),
                    CommandReplies.storeError(.wrongType(key: CMapKey("b"), type: .uint8, operation: "get")), .error("ERR request rejected: no"),
                    .nullBulkString, .ok, .bulk("4"),
                ])
            }
        }
    }
}

extension ReplicatedNode.ClientReply {
    /// The result, or nil for a failure or a refusal.
    fileprivate var result: CMapResult? {
        if case .result(let result, _) = self { return result }
        return nil
    }
}
