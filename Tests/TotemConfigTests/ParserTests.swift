import Testing
@testable import TotemConfig

/// The corosync.conf grammar (totem-notes 6.1), at the syntax-tree level.
@Suite struct ParserTests {
    func tree(_ text: String) throws -> ConfigSection {
        try ConfigParser.parse(text, fileName: testFile)
    }

    @Test func sectionsItemsCommentsAndBlankLines() throws {
        let root = try tree("""
            # a comment
              # an indented comment

            totem {
            \tversion: 2
            \tinterface {
            \t\tmcastport: 5405
            \t}
            }
            """)
        #expect(root.sections.map(\.name) == ["totem"])
        let totem = root.sections[0]
        #expect(totem.location.line == 4 && totem.location.column == 1)
        #expect(totem.items.map(\.key) == ["version"])
        #expect(totem.items[0].value == "2")
        #expect(totem.items[0].valueLocation.line == 5 && totem.items[0].valueLocation.column == 11)
        #expect(totem.sections[0].items[0].value == "5405")
    }

    @Test func valueIsSplitAtTheFirstColonAndKeepsHashes() throws {
        let root = try tree("totem {\n\tcluster_name: a:b # not a comment \n}\n")
        #expect(root.sections[0].items[0].value == "a:b # not a comment")
    }

    @Test func emptyValueIsAllowed() throws {
        let item = try tree("s {\n k:\n}").sections[0].items[0]
        #expect(item.value == "")
        #expect(item.valueLocation.column == 4)
    }

    @Test func quotedValuesAreUnquoted() throws {
        let item = try tree("s {\n name: \"  two words # and a hash \"\n}").sections[0].items[0]
        #expect(item.value == "  two words # and a hash ")
        #expect(item.isQuoted)
        #expect(item.valueLocation.column == 8)
    }

    @Test func whitespaceIncludesTabsNonBreakingSpacesAndCR() throws {
        // Latin-1 0xA0, UTF-8 U+00A0 (C2 A0), tabs and a CRLF ending.
        var bytes = Array("totem {\r\n".utf8)
        bytes += [0xA0, 0x09] + Array("token: 1000".utf8) + [0xC2, 0xA0, 0x0D, 0x0A]
        bytes += [0xC2, 0xA0] + Array("}\r\n".utf8)
        let root = try ConfigParser.parse(bytes: bytes, fileName: testFile)
        #expect(root.sections[0].items[0].key == "token")
        #expect(root.sections[0].items[0].value == "1000")
        #expect(root.sections[0].items[0].keyLocation.column == 3)
    }

    @Test func lineLengthLimitIsCorosyncs() throws {
        let longest = "k: " + String(repeating: "x", count: ConfigParser.maxLineBytes - 3)
        #expect(try tree("s {\n\(longest)\n}").sections[0].items[0].value.count == ConfigParser.maxLineBytes - 3)
        #expect(throws: ConfigError.self) { try tree("s {\n\(longest)x\n}") }
    }

    @Test func aFileWithoutTrailingNewlineParses() throws {
        #expect(try tree("s {\n}").sections.count == 1)
        #expect(try tree("").entries.isEmpty)
    }

    @Test(arguments: [
        // (text, line, column, fragment)
        ("totem {\n\ttoken 1000\n}", 2, 8, "expected ':' after key name \"token\", found '1'"),
        ("totem {\n\ttoken\n}", 2, 7, "expected ':' after key name \"token\""),
        ("totem {\n\t= 5\n}", 2, 2, "expected 'key: value', 'name {' or '}'"),
        ("{\n}", 1, 1, "expected a section name before '{'"),
        ("totem { version: 2\n}", 1, 9, "expected the end of the line after '{'"),
        ("totem {\n\tcluster_name: a{b\n}", 2, 2, "a value cannot contain '{'"),
        ("tot em {\n}", 1, 4, "expected a section name of letters"),
        ("totem {\n\tto ken: 1\n}", 2, 4, "expected a key name of letters"),
        ("totem {\n\t: 1\n}", 2, 2, "expected a key name before ':'"),
        ("totem {\n} }\n", 2, 2, "expected '}' alone on its line"),
        ("}\n", 1, 1, "unexpected '}': no section is open"),
        ("totem {\n\tinterface {\n\t}\n", 1, 1, "expected '}' to close section \"totem\""),
        ("totem {\n\tcluster_name: \"abc\n}", 2, 20, "expected a closing '\"'"),
        ("totem {\n\tx: a\u{1}b\n}", 2, 6, "unexpected control character 0x1"),
    ])
    func syntaxErrorsNameLineAndColumn(text: String, line: Int, column: Int, fragment: String) {
        expectError(text, line: line, column: column, fragment)
    }

    @Test func overlongLineErrorPointsPastTheLimit() {
        let text = "totem {\n\tcluster_name: " + String(repeating: "n", count: 600) + "\n}"
        expectError(text, line: 2, column: ConfigParser.maxLineBytes + 1, "expected at most 510")
    }

    @Test func invalidUTF8IsAnError() {
        let bytes = Array("totem {\n\tcluster_name: ".utf8) + [0xFF, 0xFE] + Array("\n}\n".utf8)
        #expect(throws: ConfigError.self) { try ConfigParser.parse(bytes: bytes, fileName: testFile) }
    }

    @Test func nestingIsBounded() {
        let depth = ConfigParser.maxSectionDepth + 1
        let text = String(repeating: "a {\n", count: depth) + String(repeating: "}\n", count: depth)
        expectError(text, line: depth, column: 1, "nested more than")
    }

    @Test func errorDescriptionIsFileLineColumnMessage() {
        let error = parseError("totem {\n\ttoken 1000\n}")
        #expect(error?.description == "test.conf:2:8: expected ':' after key name \"token\", found '1'")
    }
}
