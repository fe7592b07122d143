import NIOCore
import Testing

@testable import RESP

@Suite("RESP command parser: inline commands")
struct InlineCommandTests {
    @Test func splitsOnSpacesAndTabs() {
        let result = parseEverySplit(bytes("SET  key\tvalue \r\nGET key\n"))
        #expect(result.outcomes == [command("SET", "key", "value"), command("GET", "key")])
    }

    @Test func blankLinesAreSkipped() {
        let result = parseEverySplit(bytes("\r\n\n   \t\r\nPING\r\n\n"))
        #expect(result.outcomes == [command("PING")])
    }

    @Test func doubleQuotesUnderstandEscapes() {
        let result = parseEverySplit(bytes(#"SET "a key" "l1\nl2\r\t\\\"\x41\x7a\xff" "\q"\#r\#n"#))
        let value: [UInt8] = bytes("l1\nl2\r\t\\\"Az") + [0xff]
        #expect(result.outcomes == [.command([bytes("SET"), bytes("a key"), value, bytes("q")])])
    }

    @Test func badHexEscapeIsTheCharacterItself() {
        // \xZZ is not a hex escape: the backslash escapes 'x', and "ZZ" follows literally.
        let result = parseEverySplit(bytes(#"ECHO "\xZZ" "\x4""# + "\r\n"))
        #expect(result.outcomes == [command("ECHO", "xZZ", "x4")])
    }

    @Test func singleQuotesAreLiteralExceptEscapedQuote() {
        let result = parseEverySplit(bytes(#"ECHO 'a \n b' 'it\'s'"# + "\n"))
        #expect(result.outcomes == [command("ECHO", #"a \n b"#, "it's")])
    }

    @Test func quotesMayOpenInsideAnArgument() {
        let result = parseEverySplit(bytes(#"ECHO ab"c d" x'y z'"# + "\r\n"))
        #expect(result.outcomes == [command("ECHO", "abc d", "xy z")])
    }

    @Test func emptyQuotesAreAnEmptyArgument() {
        let result = parseEverySplit(bytes(#"ECHO "" ''"# + "\n"))
        #expect(result.outcomes == [command("ECHO", "", "")])
    }

    @Test func unbalancedQuotesRefuseTheLineButKeepTheConnection() {
        let lines = [#"SET k "abc"#, #"SET k 'abc"#, #"SET k "abc"def"#, #"SET k 'a'b"#, #"ECHO "ends with \"#]
        for line in lines {
            let result = parseEverySplit(bytes(line + "\r\nPING\r\n"))
            #expect(result.outcomes == [errorOutcome(.unbalancedQuotes), command("PING")], "\(line)")
        }
        #expect(RESPError(.unbalancedQuotes).message == "Protocol error: unbalanced quotes in request")
        #expect(!RESPError(.unbalancedQuotes).isFatal)
    }

    @Test func aLineStartingWithDollarIsInline() {
        // Only '*' starts a RESP array; Redis treats anything else as an inline command.
        let result = parseEverySplit(bytes("$3\r\nGET\r\n"))
        #expect(result.outcomes == [command("$3"), command("GET")])
    }

    @Test func nulAndHighBytesAreOrdinary() {
        let line: [UInt8] = bytes("ECHO a") + [0, 0xfe] + bytes("b\r\n")
        let result = parseEverySplit(line)
        #expect(result.outcomes == [.command([bytes("ECHO"), bytes("a") + [0, 0xfe] + bytes("b")])])
    }

    @Test func mixesWithArrays() {
        let result = parseEverySplit(bytes("PING\r\n*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\nECHO there\n"))
        #expect(result.outcomes == [command("PING"), command("ECHO", "hi"), command("ECHO", "there")])
    }
}
