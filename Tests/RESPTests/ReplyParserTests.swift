import NIOCore
import Testing

@testable import RESP

@Suite("RESP reply parser")
struct ReplyParserTests {
    @Test func readsEachReplyType() throws {
        let stream = "+OK\r\n-ERR no\r\n:-5\r\n$3\r\na\r\n\r\n$-1\r\n*-1\r\n*2\r\n*0\r\n$0\r\n\r\n"
        #expect(try parseReplies(bytes(stream)) == [
            .ok, .error("ERR no"), .integer(-5), .bulk("a\r\n"), .nullBulkString, .nullArray,
            .array([.array([]), .bulk("")]),
        ])
    }

    @Test func partialScalarStaysInTheBufferCompleteElementsAreHeld() throws {
        var parser = RESPReplyParser()
        var buffer = ByteBuffer(string: "*2\r\n$1\r\na\r\n$3\r\nbc")
        #expect(try parser.next(&buffer) == nil)
        #expect(String(buffer: buffer) == "$3\r\nbc", "the array header and its first element are consumed")
        #expect(parser.isWithinReply)
        buffer.writeString("d\r\n+OK\r\n")
        #expect(try parser.next(&buffer) == .array([.bulk("a"), .bulk("bcd")]))
        #expect(!parser.isWithinReply)
        #expect(try parser.next(&buffer) == .ok)
        #expect(buffer.readableBytes == 0)
    }

    @Test func longArrayInManyReadsIsParsedOnce() throws {
        var parser = RESPReplyParser()
        var encoded = ByteBuffer()
        let keys = (0..<20_000).map { "key:\($0)" }
        RESPValue.bulkArray(keys).encode(into: &encoded)
        var buffer = ByteBuffer()
        var replies: [RESPValue] = []
        while encoded.readableBytes > 0 {
            var chunk = encoded.readSlice(length: min(1000, encoded.readableBytes))!
            buffer.writeBuffer(&chunk)
            if let reply = try parser.next(&buffer) { replies.append(reply) }
            // Only an incomplete element, never the whole reply so far, stays in the buffer.
            #expect(buffer.readableBytes < 1000 + 32)
            buffer.discardReadBytes()
        }
        #expect(replies == [.bulkArray(keys)])
    }

    @Test func malformedRepliesAreFatalErrors() {
        let cases: [(String, RESPError.Kind)] = [
            ("?x\r\n", .invalidReplyType(got: UInt8(ascii: "?"))),
            (":1.5\r\n", .invalidInteger),
            ("$x\r\n", .invalidBulkLength),
            ("$-2\r\n", .invalidBulkLength),
            ("$1\r\nab\r\n", .bulkNotTerminated),
            ("*-2\r\n", .invalidMultibulkLength),
            ("*1\r\n!\r\n", .invalidReplyType(got: UInt8(ascii: "!"))),
        ]
        for (stream, kind) in cases {
            var parser = RESPReplyParser()
            var buffer = ByteBuffer(string: stream)
            #expect(throws: RESPError(kind), "\(stream.debugDescription)") { try parser.next(&buffer) }
            #expect(RESPError(kind).isFatal)
            var again = ByteBuffer(string: "+OK\r\n")
            #expect(throws: RESPError(kind)) { try parser.next(&again) }
        }
    }

    @Test func nestingIsBounded() throws {
        var limits = RESPReplyParser.Limits()
        limits.nestingMax = 3
        var parser = RESPReplyParser(limits: limits)
        var ok = ByteBuffer(string: "*1\r\n*1\r\n*1\r\n:1\r\n")
        #expect(try parser.next(&ok) == .array([.array([.array([.integer(1)])])]))
        var deep = ByteBuffer(string: "*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n")
        #expect(throws: RESPError(.replyNestedTooDeep(limit: 3))) { try parser.next(&deep) }
    }

    @Test func lineLengthIsBounded() {
        var limits = RESPReplyParser.Limits()
        limits.lineBytesMax = 4
        var parser = RESPReplyParser(limits: limits)
        var long = ByteBuffer(string: "+abcdefgh")
        #expect(throws: RESPError(.replyLineTooLong)) { try parser.next(&long) }
    }
}

extension ReplyParserTests {
    @Test func unknownTypeFailsBeforeItsLineEnds() {
        var parser = RESPReplyParser()
        var buffer = ByteBuffer(string: "%2")  // a RESP3 map: not spoken here
        #expect(throws: RESPError(.invalidReplyType(got: UInt8(ascii: "%")))) { try parser.next(&buffer) }
    }
}

extension ReplyParserTests {
    @Test func replyErrorMessages() {
        #expect(RESPError(.invalidReplyType(got: UInt8(ascii: "%"))).message == "Protocol error: invalid reply type '%'")
        #expect(RESPError(.invalidInteger).message == "Protocol error: invalid integer reply")
        #expect(RESPError(.replyLineTooLong).message == "Protocol error: reply line too long")
        #expect(RESPError(.replyNestedTooDeep(limit: 64)).message == "Protocol error: reply nested deeper than 64 arrays")
    }
}
