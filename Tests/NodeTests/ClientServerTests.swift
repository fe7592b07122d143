import Basics
import CMap
import NIOCore
import NIOPosix
import Node
import RESP
import Replication
import Testing

@Suite("Client server: connection, pipelining, protocol errors, AUTH, limits")
struct ClientServerTests {
    @Test func pingEchoSelectQuit() async throws {
        try await ClientServerFixture.run { fixture throws in
            try await fixture.client { client throws in
                #expect(try await client.call(["PING"]) == .simpleString("PONG"))
                #expect(try await client.call(["ping", "hi there"]) == .bulk("hi there"))
                #expect(try await client.call(["ECHO", "x\r\ny"]) == .bulk("x\r\ny"))
                #expect(try await client.call(["SELECT", "0"]) == .ok)
                #expect(try await client.call(["SELECT", "1"]).errorText?.hasPrefix("ERR DB index is out of range") == true)
                #expect(try await client.call(["PING", "a", "b"]) == .error("ERR wrong number of arguments for 'ping' command"))
                #expect(try await client.call(["NOSUCH", "a"]).errorText?.hasPrefix("ERR unknown command 'NOSUCH'") == true)
                #expect(try await client.call(["QUIT"]) == .ok)
                #expect(try await client.read() == nil)
            }
        }
    }

    @Test func pipelinedRepliesComeInRequestOrder() async throws {
        try await ClientServerFixture.run { fixture throws in
            try await fixture.client { client throws in
                var batch = ByteBuffer()
                var expected: [RESPValue] = []
                for i in 0..<300 {
                    switch i % 3 {
                    case 0:
                        RESPCommand(strings: ["SET", "k\(i)", "v\(i)"]).encode(into: &batch)
                        expected.append(.ok)
                    case 1:
                        RESPCommand(strings: ["INCR", "counter"]).encode(into: &batch)
                        expected.append(.integer(Int64(i / 3 + 1)))
                    default:
                        RESPCommand(strings: ["GET", "k\(i - 2)"]).encode(into: &batch)
                        expected.append(.bulk("v\(i - 2)"))
                    }
                }
                try await client.sendRaw(batch)
                var replies: [RESPValue] = []
                for _ in expected.indices {
                    guard let reply = try await client.read() else { break }
                    replies.append(reply)
                }
                #expect(replies == expected)
            }
        }
    }

    @Test func moreRequestsThanThePendingLimitAreAllAnswered() async throws {
        let limits = RESPLimits(pendingRequestsMax: 4)
        try await ClientServerFixture.run(limits: limits) { fixture throws in
            try await fixture.client { client throws in
                try await client.sendRaw(String(repeating: "INCR n\r\n", count: 50))
                var last: RESPValue?
                for _ in 0..<50 { last = try await client.read() }
                #expect(last == .integer(50))
            }
        }
    }

    @Test func inlineCommands() async throws {
        try await ClientServerFixture.run { fixture throws in
            try await fixture.client { client throws in
                try await client.sendRaw("SET greeting \"hello world\"\r\nGET greeting\n\r\nPING\r\n")
                #expect(try await client.read() == .ok)
                #expect(try await client.read() == .bulk("hello world"))
                #expect(try await client.read() == .simpleString("PONG"))
                try await client.sendRaw("SET k \"open\r\nPING\r\n")
                #expect(try await client.read() == .error("ERR Protocol error: unbalanced quotes in request"))
                #expect(try await client.read() == .simpleString("PONG"))
            }
        }
    }

    @Test func fatalProtocolErrorClosesTheConnection() async throws {
        try await ClientServerFixture.run { fixture throws in
            try await fixture.client { client throws in
                try await client.sendRaw("*1\r\n+PING\r\n")
                #expect(try await client.read() == .error("ERR Protocol error: expected '$', got '+'"))
                #expect(try await client.read() == nil)
            }
            // The server still serves others.
            try await fixture.client { client throws in
                #expect(try await client.call(["PING"]) == .simpleString("PONG"))
            }
        }
    }

    @Test func halfACommandThenDisconnectWritesNothing() async throws {
        try await ClientServerFixture.run { fixture throws in
            try await fixture.client { client throws in
                #expect(try await client.call(["PING"]) == .simpleString("PONG"))
                try await client.sendRaw("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhel")
            }
            try await fixture.client { client throws in
                #expect(try await client.call(["GET", "k"]) == .nullBulkString)
            }
            #expect(await fixture.service.requests.count == 1)
        }
    }

    @Test func tooLongBulkIsRefusedAndTheConnectionKept() async throws {
        let limits = RESPLimits(bulkBytesMax: 1000)
        try await ClientServerFixture.run(limits: limits) { fixture throws in
            try await fixture.client { client throws in
                let big = String(repeating: "x", count: 5000)
                #expect(try await client.call(["SET", "big", big])
                    == .error("ERR Protocol error: bulk string of 5000 bytes is too long (the limit is 1000 bytes)"))
                #expect(try await client.call(["GET", "big"]) == .nullBulkString)
                #expect(try await client.call(["PING"]) == .simpleString("PONG"))
            }
            #expect(await fixture.service.requests.contains { if case .write = $0 { true } else { false } } == false)
        }
    }

    @Test func authGatesEveryOtherCommand() async throws {
        try await ClientServerFixture.run(password: "s3cret") { fixture throws in
            try await fixture.client { client throws in
                #expect(try await client.call(["GET", "k"]) == .error("NOAUTH Authentication required."))
                #expect(try await client.call(["PING"]) == .error("NOAUTH Authentication required."))
                #expect(try await client.call(["AUTH", "wrong"]).errorText?.hasPrefix("WRONGPASS") == true)
                #expect(try await client.call(["AUTH", "other", "s3cret"]).errorText?.hasPrefix("WRONGPASS") == true)
                // Before AUTH the small limits apply: 11 arguments are refused.
                #expect(try await client.call(["MGET"] + (0..<10).map { "k\($0)" }).errorText?.contains("too many arguments") == true)
                #expect(try await client.call(["AUTH", "default", "s3cret"]) == .ok)
                #expect(try await client.call(["SET", "k", "v"]) == .ok)
                #expect(try await client.call(["MGET"] + (0..<10).map { "k\($0)" }) == .array(Array(repeating: .nullBulkString, count: 10)))
            }
            try await fixture.client { client throws in
                #expect(try await client.call(["AUTH", "s3cret"]) == .ok)
                #expect(try await client.call(["GET", "k"]) == .bulk("v"))
                #expect(try await client.call(["QUIT"]) == .ok)
            }
        }
    }

    @Test func beforeAuthALargeBulkIsFatal() async throws {
        try await ClientServerFixture.run(password: "pw") { fixture throws in
            try await fixture.client { client throws in
                try await client.sendRaw("*2\r\n$4\r\nAUTH\r\n$100000\r\n")
                #expect(try await client.read() == .error("ERR Protocol error: invalid bulk length"))
                #expect(try await client.read() == nil)
            }
        }
    }

    @Test func authWithoutAConfiguredPasswordIsAnError() async throws {
        try await ClientServerFixture.run { fixture throws in
            try await fixture.client { client throws in
                #expect(try await client.call(["AUTH", "x"]).errorText?.hasPrefix("ERR AUTH <password> called without any password") == true)
            }
        }
    }

    @Test func eachConnectionHasItsOwnClientIDAndIncreasingSequence() async throws {
        try await ClientServerFixture.run { fixture throws in
            let firstID = try await fixture.client { client throws in
                _ = try await client.call(["SET", "a", "1"])
                _ = try await client.call(["INCR", "a"])
                _ = try await client.call(["DEL", "a", "b"])
                return try await client.call(["CLIENT", "ID"])
            }
            let secondID = try await fixture.client { client throws in
                _ = try await client.call(["SET", "a", "2"])
                return try await client.call(["CLIENT", "ID"])
            }
            #expect(firstID == .integer(1))
            #expect(secondID == .integer(2))
            let writes: [(UInt64, UInt64)] = await fixture.service.requests.compactMap {
                if case .write(_, let id, let seq) = $0 { (id, seq) } else { nil }
            }
            #expect(writes.count == 5)
            #expect(writes.allSatisfy { $0.0 != 0 })
            #expect(writes[0..<4].allSatisfy { $0.0 == writes[0].0 })
            #expect(writes[0..<4].map(\.1) == [1, 2, 3, 4])
            #expect(writes[4].0 != writes[0].0)
            #expect(writes[4].1 == 1)
        }
    }

    @Test func readModeIsPerConnectionAndReadsHonourIt() async throws {
        try await ClientServerFixture.run { fixture throws in
            try await fixture.client { client throws in
                #expect(try await client.call(["SET", "k", "v"]) == .ok)
                await fixture.service.setQuorate(false)
                #expect(try await client.call(["READMODE"]) == .bulk("linearizable"))
                #expect(try await client.call(["GET", "k"]).errorText?.hasPrefix("NOQUORUM the read could not be confirmed") == true)
                #expect(try await client.call(["READMODE", "stale"]) == .ok)
                #expect(try await client.call(["GET", "k"]) == .bulk("v"))
                #expect(try await client.call(["READMODE"]) == .bulk("stale"))
                #expect(try await client.call(["READMODE", "fast"]).errorText?.hasPrefix("ERR invalid read mode 'fast'") == true)
                #expect(try await client.call(["SET", "k", "w"]) == .error("NOQUORUM not in a quorate configuration: nothing was written"))
            }
            try await fixture.client { client throws in
                #expect(try await client.call(["READMODE"]) == .bulk("linearizable"))
            }
            let modes: [ReplicatedNode.ReadMode] = await fixture.service.requests.compactMap {
                if case .read(_, let mode) = $0 { mode } else { nil }
            }
            #expect(modes == [.linearizable, .stale])
        }
    }

    @Test func failuresBecomeActionableErrors() async throws {
        try await ClientServerFixture.run { fixture throws in
            try await fixture.client { client throws in
                await fixture.service.plant(.failure(.unknownOutcome))
                #expect(try await client.call(["SET", "k", "v"])
                    == .error("UNKNOWN the write may or may not have happened (timed out or node lost)"))
                await fixture.service.plant(.failure(.notWritten))
                #expect(try await client.call(["INCR", "k"]).errorText?.hasPrefix("NOQUORUM") == true)
                await fixture.service.plant(.rejected("bad op"))
                #expect(try await client.call(["DEL", "k"]) == .error("ERR request rejected: bad op"))
            }
        }
    }

    @Test func closingTheServerEndsItsConnections() async throws {
        let service = FakeNodeService()
        let handle = try await startClientServer(
            service: service, host: "127.0.0.1", port: 0, password: nil, on: MultiThreadedEventLoopGroup.singleton)
        try await RESPClient.withConnection(
            host: "127.0.0.1", port: handle.localPort, timeout: ClientServerFixture.clientTimeout,
            on: MultiThreadedEventLoopGroup.singleton
        ) { client throws in
            #expect(try await client.call(["CMAP.TRACK", "a"]) == .array([.bulk("subscribe"), .bulk("cmap:a"), .integer(1)]))
            await handle.close()
            #expect(try await client.read() == nil)
        }
        #expect(await service.trackCount == 0)
    }
}
