import NIOCore
import Testing

@testable import RESP

@Suite("RESP encoder")
struct EncoderTests {
    @Test func eachValueTypeHasItsExactBytes() {
        let cases: [(RESPValue, String)] = [
            (.ok, "+OK\r\n"),
            (.simpleString("PONG"), "+PONG\r\n"),
            (.error("ERR unknown command 'FOO'"), "-ERR unknown command 'FOO'\r\n"),
            (.integer(0), ":0\r\n"),
            (.integer(-42), ":-42\r\n"),
            (.integer(Int64.max), ":9223372036854775807\r\n"),
            (.integer(Int64.min), ":-9223372036854775808\r\n"),
            (.bulk("hello"), "$5\r\nhello\r\n"),
            (.bulk(""), "$0\r\n\r\n"),
            (.nullBulkString, "$-1\r\n"),
            (.nullArray, "*-1\r\n"),
            (.array([]), "*0\r\n"),
            (.array([.integer(1), .array([.bulk("a"), .nullBulkString])]), "*2\r\n:1\r\n*2\r\n$1\r\na\r\n$-1\r\n"),
        ]
        for (value, expected) in cases {
            #expect(String(buffer: value.encoded) == expected, "\(value)")
        }
    }

    @Test func lineBreaksInStatusAndErrorsBecomeSpaces() {
        #expect(String(buffer: RESPValue.error("ERR bad\r\nthing").encoded) == "-ERR bad  thing\r\n")
        #expect(String(buffer: RESPValue.simpleString("a\nb").encoded) == "+a b\r\n")
    }

    @Test func fastPathsMatchTheValueEncoding() {
        var fast = ByteBuffer()
        fast.writeRESPOK()
        fast.writeRESPInteger(12345)
        fast.writeRESPBulkString(ByteBuffer(string: "v"))
        fast.writeRESPBulkString([UInt8(0), 13, 10])
        fast.writeRESPBulkString("text")
        fast.writeRESPNullBulkString()
        fast.writeRESPNullArray()
        fast.writeRESPArrayHeader(count: 2)
        fast.writeRESPSimpleString("QUEUED")
        fast.writeRESPError("WRONGTYPE no")
        fast.writeRESPPushMessage(channel: ByteBuffer(string: "ch"), payload: ByteBuffer(string: "p"))
        var slow = ByteBuffer()
        let values: [RESPValue] = [
            .ok, .integer(12345), .bulk("v"), .bulk(bytes: [0, 13, 10]), .bulk("text"), .nullBulkString, .nullArray,
            .array([.simpleString("QUEUED"), .error("WRONGTYPE no")]),
            .pushMessage(channel: ByteBuffer(string: "ch"), payload: ByteBuffer(string: "p")),
        ]
        for value in values { value.encode(into: &slow) }
        #expect(fast == slow)
    }

    @Test func everyIntegerRoundTrips() throws {
        var random = SplitMix(seed: 7)
        var values: [Int64] = [0, 1, -1, 9, 10, -10, 99, 100, Int64.max, Int64.min, Int64.max - 1, Int64.min + 1]
        for _ in 0..<500 { values.append(Int64(bitPattern: random.next()) >> Int.random(in: 0...63, using: &random)) }
        var buffer = ByteBuffer()
        for value in values { buffer.writeRESPInteger(value) }
        let parsed = try parseReplies(Array(buffer.readableBytesView))
        #expect(parsed == values.map { .integer($0) })
        #expect(String(buffer: RESPValue.integer(-7).encoded) == ":\(-7)\r\n")
    }

    @Test func pushHelpersHaveThePubSubShape() {
        let channel = ByteBuffer(string: "__cmap__:a.b")
        #expect(
            RESPValue.subscription(.subscribe, channel: channel, count: 1)
                == .array([.bulk("subscribe"), .bulk("__cmap__:a.b"), .integer(1)]))
        #expect(
            RESPValue.subscription(.unsubscribe, channel: nil, count: 0)
                == .array([.bulk("unsubscribe"), .nullBulkString, .integer(0)]))
        #expect(
            String(buffer: RESPValue.pushMessage(channel: channel, payload: ByteBuffer(string: "x")).encoded)
                == "*3\r\n$7\r\nmessage\r\n$12\r\n__cmap__:a.b\r\n$1\r\nx\r\n")
        #expect(
            RESPValue.pushPatternMessage(pattern: ByteBuffer(string: "a*"), channel: channel, payload: ByteBuffer())
                == .array([.bulk("pmessage"), .bulk("a*"), .bulk("__cmap__:a.b"), .bulk("")]))
    }

    /// A random reply value, with nesting at most `depth`.
    static func randomValue(_ random: inout SplitMix, depth: Int) -> RESPValue {
        switch Int.random(in: 0...(depth > 0 ? 7 : 5), using: &random) {
        case 0: return .simpleString(String((0..<Int.random(in: 0...12, using: &random)).map { _ in "abcXYZ 0-9".randomElement(using: &random) ?? "a" }))
        case 1: return .error("ERR " + String(repeating: "e", count: Int.random(in: 0...8, using: &random)))
        case 2: return .integer(Int64(bitPattern: random.next()))
        case 3: return .bulk(bytes: (0..<Int.random(in: 0...64, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) })
        case 4: return .nullBulkString
        case 5: return .nullArray
        default: return .array((0..<Int.random(in: 0...5, using: &random)).map { _ in randomValue(&random, depth: depth - 1) })
        }
    }

    @Test func randomValuesRoundTripThroughTheReplyParser() throws {
        var random = SplitMix(seed: 2024)
        for round in 0..<150 {
            let values = (0..<Int.random(in: 1...6, using: &random)).map { _ in Self.randomValue(&random, depth: 3) }
            var buffer = ByteBuffer()
            for value in values { value.encode(into: &buffer) }
            let stream = Array(buffer.readableBytesView)
            #expect(try parseReplies(stream) == values, "round \(round) whole")
            #expect(try parseReplies(stream) { _ in 1 } == values, "round \(round) byte by byte")
            #expect(try parseReplies(stream) { _ in Int.random(in: 1...9, using: &random) } == values, "round \(round) chunks")
        }
    }
}
