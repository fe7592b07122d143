import NIOCore
import Testing

@testable import RESP

@Suite("RESP command parser: arrays of bulk strings")
struct CommandParserTests {
    @Test func parsesOneArrayCommand() throws {
        var parser = RESPCommandParser()
        var buffer = ByteBuffer(string: "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n")
        let command = try #require(try parser.next(&buffer))
        #expect(command == RESPCommand(strings: ["SET", "k", "hello"]))
        #expect(command.isNamed("set"))
        #expect(command.name == "SET")
        #expect(buffer.readableBytes == 0)
        #expect(try parser.next(&buffer) == nil)
    }

    @Test func pipelinedCommandsComeOutOnePerCall() throws {
        var parser = RESPCommandParser()
        var buffer = ByteBuffer(string: "*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET\r\n$1\r\na\r\nECHO hi\r\n*2\r\n$3\r\nGET\r\n$1\r\nb\r\n")
        #expect(try parser.next(&buffer) == RESPCommand(strings: ["PING"]))
        #expect(try parser.next(&buffer) == RESPCommand(strings: ["GET", "a"]))
        #expect(try parser.next(&buffer) == RESPCommand(strings: ["ECHO", "hi"]))
        #expect(try parser.next(&buffer) == RESPCommand(strings: ["GET", "b"]))
        #expect(try parser.next(&buffer) == nil)
        #expect(buffer.readableBytes == 0)
    }

    @Test func recycledCommandsLeaveKeptOnesAndLaterOnesIntact() throws {
        var parser = RESPCommandParser()
        var buffer = ByteBuffer(string: "*3\r\n$3\r\nSET\r\n$1\r\na\r\n$2\r\nv1\r\n"
            + "*2\r\n$3\r\nGET\r\n$1\r\nb\r\n*3\r\n$3\r\nSET\r\n$1\r\nc\r\n$2\r\nv3\r\n")
        // The first is kept by the caller; a copy of it is recycled (shared storage), so
        // the kept one must not change when the parser reuses that array.
        let kept = try #require(try parser.next(&buffer))
        parser.recycle(kept)
        let second = try #require(try parser.next(&buffer))
        #expect(second == RESPCommand(strings: ["GET", "b"]))
        parser.recycle(second)
        let third = try #require(try parser.next(&buffer))
        #expect(third == RESPCommand(strings: ["SET", "c", "v3"]))
        #expect(kept == RESPCommand(strings: ["SET", "a", "v1"]))
        #expect(try parser.next(&buffer) == nil)
    }

    @Test func partialFrameLeavesTheReaderIndexAlone() throws {
        var parser = RESPCommandParser()
        let full = bytes("*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n")
        var buffer = ByteBuffer()
        for (offset, byte) in full.enumerated().dropLast() {
            buffer.writeInteger(byte)
            #expect(try parser.next(&buffer) == nil, "complete after \(offset + 1) bytes")
            #expect(buffer.readerIndex == 0)
            #expect(buffer.readableBytes == offset + 1)
        }
        buffer.writeInteger(full.last!)
        #expect(try parser.next(&buffer) == RESPCommand(strings: ["GET", "key"]))
        #expect(buffer.readableBytes == 0)
    }

    @Test func resumesAfterTheCallerDiscardsReadBytes() throws {
        var parser = RESPCommandParser()
        var buffer = ByteBuffer(string: "*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET\r\n$2\r")
        #expect(try parser.next(&buffer) == RESPCommand(strings: ["PING"]))
        #expect(try parser.next(&buffer) == nil)
        #expect(parser.isWithinRequest)
        buffer.discardReadBytes()
        buffer.writeString("\nab\r\n")
        #expect(try parser.next(&buffer) == RESPCommand(strings: ["GET", "ab"]))
        #expect(!parser.isWithinRequest)
    }

    @Test func bulkStringsAreBinarySafe() throws {
        let value: [UInt8] = [13, 10, 0, 255, 42, 13, 10, 36, 42]  // \r\n NUL 0xff * \r\n $ *
        let stream = encodeCommands([[bytes("SET"), bytes("k"), value], [bytes("GET"), value]])
        let result = parseEverySplit(stream)
        #expect(result.outcomes == [.command([bytes("SET"), bytes("k"), value]), .command([bytes("GET"), value])])
    }

    @Test func emptyBulkStringIsAnEmptyArgument() {
        let result = parseEverySplit(bytes("*2\r\n$4\r\nECHO\r\n$0\r\n\r\n"))
        #expect(result.outcomes == [command("ECHO", "")])
    }

    @Test func emptyAndNullArraysAreSkipped() {
        let result = parseEverySplit(bytes("*0\r\n*-1\r\n*1\r\n$4\r\nPING\r\n*0\r\n"))
        #expect(result.outcomes == [command("PING")])
        #expect(!result.isWithinRequest)
    }

    @Test func largeBulkArrivingInPiecesIsParsedOnce() throws {
        var parser = RESPCommandParser()
        let value = [UInt8](repeating: 7, count: 200_000)
        let stream = encodeCommands([[bytes("SET"), bytes("big"), value]])
        var buffer = ByteBuffer()
        var commands: [RESPCommand] = []
        for start in stride(from: 0, to: stream.count, by: 4096) {
            buffer.writeBytes(stream[start..<min(start + 4096, stream.count)])
            if let command = try parser.next(&buffer) { commands.append(command) }
        }
        #expect(commands.count == 1)
        #expect(commands.first.map { Array($0[2].readableBytesView) } == value)
    }

    @Test func argumentsMatchOptionsIgnoringCase() {
        let command = RESPCommand(strings: ["set", "k", "v", "nx", "GeT"])
        #expect(command.isNamed("SET"))
        #expect(!command.isNamed("SETNX"))
        #expect(command.argument(3, is: "NX"))
        #expect(command.argument(4, is: "get"))
        #expect(!command.argument(5, is: "GET"))
        #expect(!command.argument(-1, is: "GET"))
        #expect(command.argumentBytes == 3 + 1 + 1 + 2 + 3)
    }

    @Test func encodedCommandsParseBack() {
        var random = SplitMix(seed: 42)
        for _ in 0..<200 {
            let commands: [[[UInt8]]] = (0..<Int.random(in: 1...5, using: &random)).map { _ in
                (0..<Int.random(in: 1...6, using: &random)).map { _ in
                    (0..<Int.random(in: 0...40, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
                }
            }
            let result = parseStream(encodeCommands(commands))
            #expect(result.outcomes == commands.map { .command($0) })
        }
    }
}
