import NIOCore
import Node
import RESP
import Testing

@Suite("Commands: Redis string commands over TCP")
struct CommandKeyValueTests {
    @Test func setGetMgetDelExists() async throws {
        try await ClientServerFixture.run { fixture throws in
            try await fixture.client { client throws in
                #expect(try await client.call(["GET", "a"]) == .nullBulkString)
                #expect(try await client.call(["SET", "a", "1"]) == .ok)
                #expect(try await client.call(["SET", "b", "two words"]) == .ok)
                #expect(try await client.call(["GET", "a"]) == .bulk("1"))
                #expect(try await client.call(["MGET", "a", "missing", "b"]) == .array([.bulk("1"), .nullBulkString, .bulk("two words")]))
                #expect(try await client.call(["EXISTS", "a", "b", "missing", "a"]) == .integer(3))
                #expect(try await client.call(["DEL", "a", "missing", "b"]) == .integer(2))
                #expect(try await client.call(["SET", "u", "1"]) == .ok)
                #expect(try await client.call(["UNLINK", "u"]) == .integer(1))
                #expect(try await client.call(["EXISTS", "a"]) == .integer(0))
                #expect(try await client.call(["DBSIZE"]) == .integer(0))
            }
        }
    }

    @Test func binaryValuesRoundTrip() async throws {
        try await ClientServerFixture.run { fixture throws in
            try await fixture.client { client throws in
                var request = ByteBuffer()
                let value: [UInt8] = [0, 13, 10, 255, 36]
                RESPCommand([ByteBuffer(string: "SET"), ByteBuffer(string: "bin"), ByteBuffer(bytes: value)]).encode(into: &request)
                try await client.sendRaw(request)
                #expect(try await client.read() == .ok)
                #expect(try await client.call(["GET", "bin"]) == .bulk(bytes: value))
            }
        }
    }

    @Test func setConditionsAndGet() async throws {
        try await ClientServerFixture.run { fixture throws in
            try await fixture.client { client throws in
                #expect(try await client.call(["SET", "k", "1", "XX"]) == .nullBulkString)
                #expect(try await client.call(["GET", "k"]) == .nullBulkString)
                #expect(try await client.call(["SET", "k", "1", "NX"]) == .ok)
                #expect(try await client.call(["SET", "k", "2", "NX"]) == .nullBulkString)
                #expect(try await client.call(["GET", "k"]) == .bulk("1"))
                #expect(try await client.call(["SET", "k", "3", "XX"]) == .ok)
                #expect(try await client.call(["SET", "k", "4", "GET"]) == .bulk("3"))
                #expect(try await client.call(["SET", "new", "x", "get"]) == .nullBulkString)
                #expect(try await client.call(["SET", "k", "5", "NX", "GET"]) == .bulk("4"))
                #expect(try await client.call(["GET", "k"]) == .bulk("4"))
                #expect(try await client.call(["SET", "k", "5", "NX", "XX"]) == .error("ERR syntax error"))
                #expect(try await client.call(["SET", "k", "5", "EX", "10"]).errorText?.contains("'EX' is not supported") == true)
                #expect(try await client.call(["SET", "k"]) == .error("ERR wrong number of arguments for 'set' command"))
            }
        }
    }

    @Test func incrementsFollowRedis() async throws {
        try await ClientServerFixture.run { fixture throws in
            try await fixture.client { client throws in
                #expect(try await client.call(["INCR", "n"]) == .integer(1))
                #expect(try await client.call(["INCRBY", "n", "41"]) == .integer(42))
                #expect(try await client.call(["DECR", "n"]) == .integer(41))
                #expect(try await client.call(["DECRBY", "n", "50"]) == .integer(-9))
                #expect(try await client.call(["GET", "n"]) == .bulk("-9"))
                #expect(try await client.call(["INCRBY", "n", "x"]) == .error("ERR value is not an integer or out of range"))
                #expect(try await client.call(["SET", "s", "abc"]) == .ok)
                #expect(try await client.call(["INCR", "s"]) == .error("ERR value is not an integer or out of range"))
                #expect(try await client.call(["SET", "max", String(Int64.max)]) == .ok)
                #expect(try await client.call(["INCR", "max"]) == .error("ERR increment or decrement would overflow"))
                #expect(try await client.call(["CMAP.SET", "f", "dbl", "1.5"]) == .ok)
                #expect(try await client.call(["INCR", "f"]).errorText?.hasPrefix("WRONGTYPE") == true)
                #expect(try await client.call(["CMAP.SET", "t", "u8", "255"]) == .ok)
                #expect(try await client.call(["INCR", "t"]) == .integer(0))
            }
        }
    }

    @Test func invalidKeysAreNamed() async throws {
        try await ClientServerFixture.run { fixture throws in
            try await fixture.client { client throws in
                #expect(try await client.call(["SET", "bad key", "v"]).errorText?.hasPrefix("ERR invalid key 'bad key': invalid key") == true)
                #expect(try await client.call(["GET", String(repeating: "k", count: 256)]).errorText?.hasPrefix("ERR invalid key") == true)
                #expect(try await client.call(["GET", ""]).errorText?.hasPrefix("ERR invalid key ''") == true)
            }
        }
    }

    @Test func keysAndScanPageThroughPrefixes() async throws {
        try await ClientServerFixture.run { fixture throws in
            try await fixture.client { client throws in
                for i in 0..<25 { _ = try await client.call(["SET", "user:\(100 + i)", "\(i)"]) }
                _ = try await client.call(["SET", "other", "x"])
                #expect(try await client.call(["DBSIZE"]) == .integer(26))
                let all = try await client.call(["KEYS", "user:*"])
                #expect(all == .array((0..<25).map { .bulk("user:\(100 + $0)") }))
                #expect(try await client.call(["KEYS", "*"]).arrayCount == 26)
                #expect(try await client.call(["KEYS", "u*r:*"]).errorText?.hasPrefix("ERR only prefix* patterns are supported") == true)
                #expect(try await client.call(["KEYS", "user:1??"]).errorText?.hasPrefix("ERR only prefix* patterns") == true)

                var seen: [String] = []
                var cursor = "0"
                var pages = 0
                repeat {
                    let reply = try await client.call(["SCAN", cursor, "MATCH", "user:*", "COUNT", "10"])
                    guard case .array(let parts) = reply, parts.count == 2, case .array(let keys) = parts[1],
                          let next = parts[0].string
                    else {
                        Issue.record("bad SCAN reply \(reply)")
                        return
                    }
                    seen += keys.compactMap(\.string)
                    cursor = next
                    pages += 1
                } while cursor != "0" && pages < 10
                #expect(pages == 3)
                #expect(seen == (0..<25).map { "user:\(100 + $0)" })
                #expect(try await client.call(["SCAN", "12345"]).errorText?.hasPrefix("ERR invalid cursor 12345") == true)
                #expect(try await client.call(["SCAN", "x"]) == .error("ERR invalid cursor"))
            }
        }
    }
}

extension RESPValue {
    var arrayCount: Int? {
        if case .array(let elements) = self { return elements.count }
        return nil
    }
}
