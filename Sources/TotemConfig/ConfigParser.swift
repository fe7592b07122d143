/// The corosync.conf grammar, line by line, as corosync's `parse_section` reads it
/// (exec/coroparse.c; totem-notes 6.1):
///
/// - a line is at most `maxLineBytes` bytes, newline excluded; one trailing CR is dropped;
/// - whitespace is space, tab and the non-breaking space (byte 0xA0, and U+00A0 in UTF-8,
///   which corosync chokes on and editors insert silently);
/// - a line whose first non-blank character is `#` is a comment (there are no trailing
///   comments: a `#` after a value is part of the value, as in corosync);
/// - classification order: a line containing `{` opens a section; else a line containing `:`
///   is `key: value`, split at the first colon; else a line containing `}` must be exactly
///   `}`; anything else is an error.
///
/// TotemKV additions: a value written in double quotes is unquoted (so a cluster name may
/// keep leading blanks), names are restricted to the characters a cmap key may hold, control
/// characters and invalid UTF-8 are errors, and the file size and nesting depth are bounded.
public enum ConfigParser {
    /// corosync reads lines with `fgets` into a 512-byte buffer: 510 bytes, the newline and
    /// the terminating NUL.
    public static let maxLineBytes = 510
    /// No sane configuration comes near this; it bounds the work hostile input can cause.
    public static let maxFileBytes = 4 << 20
    /// corosync's deepest use is `nodelist { node { } }` or `quorum { device { net { } } }`.
    public static let maxSectionDepth = 8
    /// cmap keys are at most 255 characters (`ICMAP_KEYNAME_MAXLEN` - 1).
    public static let maxKeyPathBytes = 255

    public static func parse(_ text: String, fileName: String) throws(ConfigError) -> ConfigSection {
        try parse(bytes: Array(text.utf8), fileName: fileName)
    }

    public static func parse(bytes: [UInt8], fileName: String) throws(ConfigError) -> ConfigSection {
        guard bytes.count <= maxFileBytes else {
            throw ConfigError(
                "file is \(bytes.count) bytes; expected at most \(maxFileBytes)",
                at: ConfigLocation(fileName: fileName, line: 0, column: 0))
        }
        var state = State(fileName: fileName)
        var lineStart = 0
        var lineNumber = 1
        while lineStart < bytes.count {
            var lineEnd = lineStart
            while lineEnd < bytes.count && bytes[lineEnd] != UInt8(ascii: "\n") { lineEnd += 1 }
            try state.consume(line: bytes[lineStart..<lineEnd], number: lineNumber)
            lineStart = lineEnd + 1
            lineNumber += 1
        }
        return try state.finish()
    }

    private struct State {
        let fileName: String
        /// Open sections, outermost (the root) first.
        var stack: [ConfigSection]

        init(fileName: String) {
            self.fileName = fileName
            stack = [ConfigSection(name: "", location: ConfigLocation(fileName: fileName, line: 1, column: 1))]
        }

        func location(_ line: Int, _ offset: Int, in raw: ArraySlice<UInt8>) -> ConfigLocation {
            ConfigLocation(fileName: fileName, line: line, column: offset - raw.startIndex + 1)
        }

        mutating func consume(line raw: ArraySlice<UInt8>, number: Int) throws(ConfigError) {
            guard raw.count <= ConfigParser.maxLineBytes else {
                throw ConfigError(
                    "line is \(raw.count) bytes long; expected at most \(ConfigParser.maxLineBytes) (corosync's limit)",
                    at: location(number, raw.startIndex + ConfigParser.maxLineBytes, in: raw))
            }
            var line = raw
            if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
            if let bad = line.firstIndex(where: { $0 < 0x20 && $0 != 0x09 }) {
                throw ConfigError(
                    "unexpected control character 0x\(String(line[bad], radix: 16)); expected text",
                    at: location(number, bad, in: raw))
            }
            let text = Bytes.trimmed(line)
            guard let first = text.first, first != UInt8(ascii: "#") else { return }

            if let brace = text.firstIndex(of: UInt8(ascii: "{")) {
                try openSection(text, brace: brace, raw: raw, number: number)
            } else if let colon = text.firstIndex(of: UInt8(ascii: ":")) {
                try addItem(text, colon: colon, raw: raw, number: number)
            } else if let close = text.firstIndex(of: UInt8(ascii: "}")) {
                guard text.count == 1 else {
                    let offset = close == text.startIndex ? close + 1 : text.startIndex
                    throw ConfigError("expected '}' alone on its line", at: location(number, offset, in: raw))
                }
                try closeSection(at: location(number, close, in: raw))
            } else {
                let word = text.prefix(while: Bytes.isNameByte)
                let rest = Bytes.trimmed(text[word.endIndex...])
                let found = rest.first.map { ", found '\(Bytes.describe($0))'" } ?? ""
                let offset = rest.isEmpty ? text.endIndex : rest.startIndex
                let message = word.isEmpty
                    ? "expected 'key: value', 'name {' or '}'"
                    : "expected ':' after key name \"\(Bytes.string(word))\"\(found)"
                throw ConfigError(message, at: location(number, offset, in: raw))
            }
        }

        mutating func openSection(_ text: ArraySlice<UInt8>, brace: Int, raw: ArraySlice<UInt8>,
                                  number: Int) throws(ConfigError) {
            let name = Bytes.trimmed(text[text.startIndex..<brace])
            let after = Bytes.trimmed(text[(brace + 1)...])
            guard !name.isEmpty else {
                throw ConfigError("expected a section name before '{'", at: location(number, brace, in: raw))
            }
            if name.contains(UInt8(ascii: ":")) {
                throw ConfigError(
                    "expected a section name before '{', found \"\(Bytes.string(name))\" (a value cannot contain '{')",
                    at: location(number, name.startIndex, in: raw))
            }
            try checkName(name, what: "section name", raw: raw, number: number)
            guard after.isEmpty else {
                throw ConfigError(
                    "expected the end of the line after '{', found \"\(Bytes.string(after))\"",
                    at: location(number, after.startIndex, in: raw))
            }
            guard stack.count <= ConfigParser.maxSectionDepth else {
                throw ConfigError(
                    "sections are nested more than \(ConfigParser.maxSectionDepth) deep",
                    at: location(number, name.startIndex, in: raw))
            }
            let nameString = Bytes.string(name)
            try checkPath(adding: nameString, at: location(number, name.startIndex, in: raw))
            stack.append(ConfigSection(name: nameString, location: location(number, name.startIndex, in: raw)))
        }

        mutating func addItem(_ text: ArraySlice<UInt8>, colon: Int, raw: ArraySlice<UInt8>,
                              number: Int) throws(ConfigError) {
            let key = Bytes.trimmed(text[text.startIndex..<colon])
            guard !key.isEmpty else {
                throw ConfigError("expected a key name before ':'", at: location(number, colon, in: raw))
            }
            try checkName(key, what: "key name", raw: raw, number: number)
            var value = Bytes.trimmed(text[(colon + 1)...])
            let valueOffset = value.isEmpty ? colon + 1 : value.startIndex
            var isQuoted = false
            if value.first == UInt8(ascii: "\"") {
                guard value.count >= 2, value.last == UInt8(ascii: "\"") else {
                    throw ConfigError(
                        "expected a closing '\"' at the end of the value that starts at column \(valueOffset - raw.startIndex + 1)",
                        at: location(number, text.endIndex, in: raw))
                }
                value = value.dropFirst().dropLast()
                isQuoted = true
            }
            guard let valueString = String(validating: value, as: UTF8.self) else {
                throw ConfigError("expected a value in UTF-8", at: location(number, valueOffset, in: raw))
            }
            let keyString = Bytes.string(key)
            try checkPath(adding: keyString, at: location(number, key.startIndex, in: raw))
            let item = ConfigItem(
                key: keyString, value: valueString,
                keyLocation: location(number, key.startIndex, in: raw),
                valueLocation: location(number, valueOffset, in: raw), isQuoted: isQuoted)
            stack[stack.count - 1].entries.append(.item(item))
        }

        mutating func closeSection(at location: ConfigLocation) throws(ConfigError) {
            guard stack.count > 1, let closed = stack.popLast() else {
                throw ConfigError("unexpected '}': no section is open", at: location)
            }
            stack[stack.count - 1].entries.append(.section(closed))
        }

        func finish() throws(ConfigError) -> ConfigSection {
            if stack.count > 1, let open = stack.last {
                throw ConfigError(
                    "expected '}' to close section \"\(open.name)\" before the end of the file",
                    at: open.location)
            }
            return stack[0]
        }

        /// Names become cmap key components, so they use cmap's characters (minus `/` and `:`).
        func checkName(_ name: ArraySlice<UInt8>, what: String, raw: ArraySlice<UInt8>,
                       number: Int) throws(ConfigError) {
            if let bad = name.firstIndex(where: { !Bytes.isNameByte($0) }) {
                throw ConfigError(
                    "expected a \(what) of letters, digits, '_', '-' or '.', found '\(Bytes.describe(name[bad]))' in \"\(Bytes.string(name))\"",
                    at: location(number, bad, in: raw))
            }
        }

        func checkPath(adding name: String, at location: ConfigLocation) throws(ConfigError) {
            let path = (stack.dropFirst().map(\.name) + [name]).joined(separator: ".")
            guard path.utf8.count <= ConfigParser.maxKeyPathBytes else {
                throw ConfigError(
                    "key path \"\(path.prefix(40))...\" is \(path.utf8.count) bytes; expected at most \(ConfigParser.maxKeyPathBytes) (corosync's cmap limit)",
                    at: location)
            }
        }
    }
}

/// Byte helpers for the parser. Everything works on UTF-8 bytes so that columns are exact
/// and hostile input (invalid UTF-8, NUL bytes) is seen as it is.
enum Bytes {
    static func isNameByte(_ b: UInt8) -> Bool {
        (b >= UInt8(ascii: "a") && b <= UInt8(ascii: "z")) || (b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z"))
            || (b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9"))
            || b == UInt8(ascii: "_") || b == UInt8(ascii: "-") || b == UInt8(ascii: ".")
    }

    /// Length of the whitespace that starts at `i`: space, tab, a lone 0xA0 byte (Latin-1
    /// files, as corosync sees them) or U+00A0 in UTF-8 (C2 A0).
    static func whitespaceLength(_ s: ArraySlice<UInt8>, at i: Int) -> Int {
        switch s[i] {
        case 0x20, 0x09, 0xA0: return 1
        case 0xC2 where i + 1 < s.endIndex && s[i + 1] == 0xA0: return 2
        default: return 0
        }
    }

    static func trimmed(_ s: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        var start = s.startIndex
        var end = s.endIndex
        while start < end {
            let n = whitespaceLength(s, at: start)
            if n == 0 { break }
            start += n
        }
        while end > start {
            let last = s[end - 1]
            if last == 0x20 || last == 0x09 {
                end -= 1
            } else if last == 0xA0 {
                end -= (end - 2 >= start && s[end - 2] == 0xC2) ? 2 : 1
            } else {
                break
            }
        }
        return s[start..<end]
    }

    static func string(_ s: ArraySlice<UInt8>) -> String {
        String(decoding: s, as: UTF8.self)
    }

    /// A byte as a reader would want to see it in a message.
    static func describe(_ b: UInt8) -> String {
        if b == 0x20 { return "space" }
        if b == 0x09 { return "tab" }
        if b >= 0x21 && b < 0x7F { return String(UnicodeScalar(b)) }
        return "0x" + String(b, radix: 16)
    }
}
