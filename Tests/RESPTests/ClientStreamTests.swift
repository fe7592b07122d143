import NIOCore
import Testing

@testable import RESP

/// Byte streams written by hand from the RESP specification in the shape real clients send.
@Suite("RESP streams from real clients")
struct ClientStreamTests {
    @Test func redisCLIStartupAndInteractiveCommands() {
        // redis-cli 7 asks for command docs at startup, then sends each typed line as an array.
        let stream =
            "*2\r\n$7\r\nCOMMAND\r\n$4\r\nDOCS\r\n"
            + "*2\r\n$4\r\nAUTH\r\n$6\r\nsecret\r\n"
            + "*3\r\n$3\r\nSET\r\n$5\r\nhello\r\n$11\r\nhello world\r\n"
            + "*2\r\n$3\r\nGET\r\n$5\r\nhello\r\n"
            + "*4\r\n$4\r\nCMAP\r\n$3\r\nSET\r\n$13\r\ntotem.version\r\n$1\r\n2\r\n"
        let result = parseEverySplit(bytes(stream))
        #expect(result.outcomes == [
            command("COMMAND", "DOCS"), command("AUTH", "secret"), command("SET", "hello", "hello world"),
            command("GET", "hello"), command("CMAP", "SET", "totem.version", "2"),
        ])
    }

    @Test func redisBenchmarkPipelinedSetGet() throws {
        // redis-benchmark -t set,get -d 256 -P 16: CONFIG GET at start, then 16 requests per write.
        let value = String(repeating: "x", count: 256)
        var stream = "*3\r\n$6\r\nCONFIG\r\n$3\r\nGET\r\n$4\r\nsave\r\n*3\r\n$6\r\nCONFIG\r\n$3\r\nGET\r\n$10\r\nappendonly\r\n"
        for index in 0..<16 {
            let key = "key:" + String(repeating: "0", count: 8) + String(index % 10)
            stream += "*3\r\n$3\r\nSET\r\n$\(key.utf8.count)\r\n\(key)\r\n$256\r\n\(value)\r\n"
            stream += "*2\r\n$3\r\nGET\r\n$\(key.utf8.count)\r\n\(key)\r\n"
        }
        stream += "PING\r\n"  // -t ping_inline
        var parser = RESPCommandParser()
        var buffer = ByteBuffer(string: stream)
        var commands: [RESPCommand] = []
        while let command = try parser.next(&buffer) { commands.append(command) }
        #expect(commands.count == 2 + 32 + 1)
        #expect(commands[0] == RESPCommand(strings: ["CONFIG", "GET", "save"]))
        #expect(commands[2].isNamed("SET") && commands[2][2].readableBytes == 256)
        #expect(commands[3].isNamed("GET"))
        #expect(commands.last == RESPCommand(strings: ["PING"]))
        parseEverySplit(bytes(stream))
    }

    @Test func netcatTypedLines() {
        // nc sends what is typed, "\n"-terminated (or "\r\n" with -C).
        let result = parseEverySplit(bytes("PING\nSET greeting \"hello there\"\nGET greeting\n\nQUIT\n"))
        #expect(result.outcomes == [
            command("PING"), command("SET", "greeting", "hello there"), command("GET", "greeting"), command("QUIT"),
        ])
    }
}
