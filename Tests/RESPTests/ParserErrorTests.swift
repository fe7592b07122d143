import NIOCore
import Testing

@testable import RESP

@Suite("RESP command parser: malformed input")
struct ParserErrorTests {
    /// Each fatal framing error: its stream, the error, and its message.
    static let fatalCases: [(stream: String, kind: RESPError.Kind, message: String)] = [
        ("*abc\r\n", .invalidMultibulkLength, "Protocol error: invalid multibulk length"),
        ("*-2\r\n", .invalidMultibulkLength, "Protocol error: invalid multibulk length"),
        ("*+1\r\n", .invalidMultibulkLength, "Protocol error: invalid multibulk length"),
        ("*01\r\n", .invalidMultibulkLength, "Protocol error: invalid multibulk length"),
        ("*\r\n", .invalidMultibulkLength, "Protocol error: invalid multibulk length"),
        ("* 1\r\n", .invalidMultibulkLength, "Protocol error: invalid multibulk length"),
        ("*2147483648\r\n", .invalidMultibulkLength, "Protocol error: invalid multibulk length"),
        ("*99999999999999999999\r\n", .invalidMultibulkLength, "Protocol error: invalid multibulk length"),
        ("*1\r\nx3\r\nGET\r\n", .expectedDollar(got: UInt8(ascii: "x")), "Protocol error: expected '$', got 'x'"),
        ("*1\r\n\r\n", .expectedDollar(got: 13), "Protocol error: expected '$', got '\\x0d'"),
        ("*1\r\n$abc\r\n", .invalidBulkLength, "Protocol error: invalid bulk length"),
        ("*1\r\n$-1\r\n", .invalidBulkLength, "Protocol error: invalid bulk length"),
        ("*1\r\n$-0\r\n", .invalidBulkLength, "Protocol error: invalid bulk length"),
        ("*1\r\n$3\r\nGETxx", .bulkNotTerminated, "Protocol error: bulk string not terminated by CRLF"),
        ("*1\r\n$3\r\nGET\n\r", .bulkNotTerminated, "Protocol error: bulk string not terminated by CRLF"),
    ]

    @Test(arguments: 0..<fatalCases.count)
    func fatalFramingErrors(index: Int) {
        let (stream, kind, message) = Self.fatalCases[index]
        let error = RESPError(kind)
        #expect(error.message == message)
        #expect(error.isFatal)
        let result = parseEverySplit(bytes("PING\r\n" + stream + "PING\r\n"))
        #expect(result.outcomes == [command("PING"), .error(error)], "\(stream.debugDescription)")
    }

    @Test func errorReplyCarriesTheERRCode() {
        let reply = RESPError(.invalidBulkLength).reply
        #expect(reply == .error("ERR Protocol error: invalid bulk length"))
        #expect(String(buffer: reply.encoded) == "-ERR Protocol error: invalid bulk length\r\n")
    }

    @Test func parserStaysFailedAfterAFatalError() throws {
        var parser = RESPCommandParser()
        var buffer = ByteBuffer(string: "*x\r\n")
        #expect(throws: RESPError(.invalidMultibulkLength)) { try parser.next(&buffer) }
        var fresh = ByteBuffer(string: "PING\r\n")
        #expect(throws: RESPError(.invalidMultibulkLength)) { try parser.next(&fresh) }
    }

    @Test func inlineLineLimit() {
        let limits = RESPLimits(inlineBytesMax: 16)
        let exactly16 = String(repeating: "a", count: 16)
        let ok = parseEverySplit(bytes(exactly16 + "\nPING\r\n"), limits: limits)
        #expect(ok.outcomes == [command(exactly16), command("PING")])
        // The line limit counts the bytes before "\n", a "\r" included.
        let withCR = parseEverySplit(bytes(exactly16 + "\r\nPING\r\n"), limits: limits)
        #expect(withCR.outcomes == [errorOutcome(.inlineTooLong)])
        // Without a line end, the error comes as soon as the limit is passed.
        let endless = parseEverySplit(bytes(String(repeating: "b", count: 17)), limits: limits)
        #expect(endless.outcomes == [errorOutcome(.inlineTooLong)])
        #expect(RESPError(.inlineTooLong).message == "Protocol error: too big inline request")
        #expect(RESPError(.inlineTooLong).isFatal)
    }

    @Test func headerLineLimit() {
        let limits = RESPLimits(inlineBytesMax: 8)
        let longCount = parseEverySplit(bytes("*" + String(repeating: "1", count: 9) + "\r\n"), limits: limits)
        #expect(longCount.outcomes == [errorOutcome(.multibulkCountTooLong)])
        let noCRLF = parseEverySplit(bytes("*1" + String(repeating: " ", count: 20)), limits: limits)
        #expect(noCRLF.outcomes == [errorOutcome(.multibulkCountTooLong)])
        let longBulk = parseEverySplit(bytes("*1\r\n$" + String(repeating: "0", count: 20)), limits: limits)
        #expect(longBulk.outcomes == [errorOutcome(.bulkCountTooLong)])
        #expect(RESPError(.multibulkCountTooLong).message == "Protocol error: too big mbulk count string")
        #expect(RESPError(.bulkCountTooLong).message == "Protocol error: too big bulk count string")
    }

    @Test func throwingStillMovesTheReaderIndexPastARefusedLine() throws {
        var parser = RESPCommandParser()
        var buffer = ByteBuffer(string: "ECHO \"open\r\nPING\r\n")
        #expect(throws: RESPError(.unbalancedQuotes)) { try parser.next(&buffer) }
        #expect(String(buffer: buffer) == "PING\r\n")
        #expect(try parser.next(&buffer) == RESPCommand(strings: ["PING"]))
    }
}

@Suite("RESP command parser: limits")
struct ParserLimitTests {
    @Test func tooManyArgumentsIsRefusedAndSkipped() {
        let limits = RESPLimits(argumentsMax: 3)
        let ok = encodeCommands([[bytes("MGET"), bytes("a"), bytes("b")]])
        let tooMany = encodeCommands([[bytes("MGET"), bytes("a"), bytes("b"), bytes("c")]])
        let result = parseEverySplit(ok + tooMany + ok, limits: limits)
        #expect(result.outcomes == [
            command("MGET", "a", "b"),
            errorOutcome(.tooManyArguments(count: 4, limit: 3)),
            command("MGET", "a", "b"),
        ])
        #expect(!RESPError(.tooManyArguments(count: 4, limit: 3)).isFatal)
        #expect(RESPError(.tooManyArguments(count: 4, limit: 3)).message == "Protocol error: too many arguments (4, the limit is 3)")
    }

    @Test func tooManyInlineArgumentsIsRefused() {
        let limits = RESPLimits(argumentsMax: 3)
        let result = parseEverySplit(bytes("MGET a b c d e f\r\nMGET a b\r\n"), limits: limits)
        // The splitter stops counting one past the limit.
        #expect(result.outcomes == [errorOutcome(.tooManyArguments(count: 4, limit: 3)), command("MGET", "a", "b")])
    }

    @Test func oversizedBulkIsRefusedItsBytesSkippedAndTheNextCommandParsed() {
        let limits = RESPLimits(bulkBytesMax: 10, requestBytesMax: 100, discardBulkBytesMax: 1000)
        let big = [UInt8](repeating: UInt8(ascii: "v"), count: 11)
        let stream = encodeCommands([
            [bytes("SET"), bytes("k"), big, bytes("EX"), bytes("10")],
            [bytes("SET"), bytes("k"), bytes("small")],
        ])
        let result = parseEverySplit(stream, limits: limits)
        #expect(result.outcomes == [
            errorOutcome(.bulkTooLong(length: 11, limit: 10)),
            command("SET", "k", "small"),
        ])
        #expect(!RESPError(.bulkTooLong(length: 11, limit: 10)).isFatal)
        #expect(RESPError(.bulkTooLong(length: 11, limit: 10)).message == "Protocol error: bulk string of 11 bytes is too long (the limit is 10 bytes)")
    }

    @Test func discardingHoldsNoPayload() throws {
        let limits = RESPLimits(bulkBytesMax: 10, requestBytesMax: 100, discardBulkBytesMax: 1_000_000)
        var parser = RESPCommandParser(limits: limits)
        var buffer = ByteBuffer(string: "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$500000\r\n")
        #expect(throws: RESPError(.bulkTooLong(length: 500_000, limit: 10))) { try parser.next(&buffer) }
        let chunk = [UInt8](repeating: 1, count: 10_000)
        for _ in 0..<50 {
            buffer.writeBytes(chunk)
            #expect(try parser.next(&buffer) == nil)
            #expect(buffer.readableBytes == 0, "the refused payload is skipped as it arrives")
            #expect(parser.isWithinRequest)
        }
        buffer.writeString("\r\nPING\r\n")
        #expect(try parser.next(&buffer) == RESPCommand(strings: ["PING"]))
        #expect(!parser.isWithinRequest)
    }

    @Test func discardStillChecksFraming() {
        let limits = RESPLimits(bulkBytesMax: 4, requestBytesMax: 100, discardBulkBytesMax: 1000)
        let badCRLF = parseEverySplit(bytes("*2\r\n$6\r\nTOOBIGxx"), limits: limits)
        #expect(badCRLF.outcomes == [errorOutcome(.bulkTooLong(length: 6, limit: 4)), errorOutcome(.bulkNotTerminated)])
        let badNext = parseEverySplit(bytes("*2\r\n$6\r\nTOOBIG\r\n#1\r\n"), limits: limits)
        #expect(badNext.outcomes == [
            errorOutcome(.bulkTooLong(length: 6, limit: 4)), errorOutcome(.expectedDollar(got: UInt8(ascii: "#"))),
        ])
    }

    @Test func bulkBeyondTheDiscardCeilingIsFatal() {
        let limits = RESPLimits(bulkBytesMax: 4, requestBytesMax: 100, discardBulkBytesMax: 1000)
        let result = parseEverySplit(bytes("*1\r\n$1001\r\n"), limits: limits)
        #expect(result.outcomes == [errorOutcome(.invalidBulkLength)])
    }

    @Test func requestBytesAreBoundedAcrossArguments() {
        let limits = RESPLimits(bulkBytesMax: 8, requestBytesMax: 20, discardBulkBytesMax: 1000)
        let eight = [UInt8](repeating: UInt8(ascii: "x"), count: 8)
        let over = encodeCommands([[bytes("MSET"), eight, eight, eight]])  // 4 + 24 bytes
        let under = encodeCommands([[bytes("MSET"), eight, eight]])  // 4 + 16 bytes
        let result = parseEverySplit(over + under, limits: limits)
        #expect(result.outcomes == [
            errorOutcome(.requestTooLarge(limit: 20)),
            .command([bytes("MSET"), eight, eight]),
        ])
        #expect(RESPError(.requestTooLarge(limit: 20)).message == "Protocol error: request arguments exceed 20 bytes")
    }

    @Test func defaultsLeaveRoomForAMebibyteValue() {
        let limits = RESPLimits()
        #expect(limits.bulkBytesMax == 1024 * 1024 + 64 * 1024)
        #expect(limits.inlineBytesMax == 64 * 1024)
        #expect(RESPLimits.forValues(upTo: 4 * 1024 * 1024).bulkBytesMax == 4 * 1024 * 1024 + 64 * 1024)
    }

    @Test func limitsTightBeforeAuthAndLooseAfter() throws {
        var parser = RESPCommandParser(limits: .unauthenticated)
        let value = [UInt8](repeating: 1, count: 20_000)
        var buffer = ByteBuffer(bytes: encodeCommands([[bytes("AUTH"), bytes("pw")], [bytes("SET"), bytes("k"), value]]))
        #expect(try parser.next(&buffer) == RESPCommand(strings: ["AUTH", "pw"]))
        parser.limits = RESPLimits()
        let set = try #require(try parser.next(&buffer))
        #expect(set.count == 3 && set[2].readableBytes == 20_000)

        var stranger = RESPCommandParser(limits: .unauthenticated)
        var big = ByteBuffer(bytes: encodeCommands([[bytes("SET"), bytes("k"), value]]))
        #expect(throws: RESPError(.invalidBulkLength)) { try stranger.next(&big) }
        var many = ByteBuffer(bytes: encodeCommands([Array(repeating: bytes("x"), count: 11)]))
        var other = RESPCommandParser(limits: .unauthenticated)
        #expect(throws: RESPError(.tooManyArguments(count: 11, limit: 10))) { try other.next(&many) }
    }

    @Test func pendingRequestsCountUpToTheLimit() {
        var pending = RESPPendingRequests(limits: RESPLimits(pendingRequestsMax: 2))
        #expect(!pending.isFull)
        pending.requestStarted()
        pending.requestStarted()
        #expect(pending.isFull)
        #expect(pending.count == 2)
        pending.replySent()
        #expect(!pending.isFull)
        #expect(pending.refusal.message == "Protocol error: too many pending requests (the limit is 2)")
        #expect(!pending.refusal.isFatal)
    }
}
