/// Splits an inline command line into arguments the way Redis's `sdssplitargs` does, so that
/// what works in `redis-cli`'s or `nc`'s inline mode against Redis works here:
///
/// - Arguments are separated by whitespace (space, tab, CR, LF, VT, FF).
/// - `"…"`: inside double quotes, `\n` `\r` `\t` `\b` `\a` are control characters, `\xHH` is
///   the byte with that hex value, and a backslash before any other character is that
///   character (`\"`, `\\`).
/// - `'…'`: inside single quotes everything is literal except `\'`, a single quote.
/// - A quote may open in the middle of an argument (`a"b c"` is `ab c`), but a closing quote
///   must be followed by whitespace or the end of the line; otherwise, or when a quote never
///   closes, the line is refused ("unbalanced quotes").
/// - `""` is an empty argument. Other bytes (NUL included) are taken as they are.
enum RESPInlineSplitter {
    /// An argument: either a plain run of the line (no quotes), or bytes rebuilt from quotes
    /// and escapes.
    enum Token: Equatable {
        case span(Range<Int>)
        case bytes([UInt8])
    }

    /// The arguments of `line` within `bytes`, or nil for unbalanced quotes. Stops (and
    /// returns what it has plus one more) once it has `argumentsMax + 1` tokens, so that an
    /// over-long line costs bounded memory; the caller refuses that count.
    static func split(_ bytes: UnsafeRawBufferPointer, _ line: Range<Int>, argumentsMax: Int) -> [Token]? {
        var tokens: [Token] = []
        var index = line.lowerBound
        let end = line.upperBound
        while tokens.count <= argumentsMax {
            while index < end, isSpace(bytes[index]) { index &+= 1 }
            guard index < end else { break }
            guard let token = splitOne(bytes, &index, end) else { return nil }
            tokens.append(token)
        }
        return tokens
    }

    /// One argument starting at `index` (not whitespace); leaves `index` just past it.
    private static func splitOne(_ bytes: UnsafeRawBufferPointer, _ index: inout Int, _ end: Int) -> Token? {
        let start = index
        // Plain run: no copy needed unless a quote turns up.
        while index < end {
            let byte = bytes[index]
            if isSpace(byte) { return .span(start..<index) }
            if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "'") { break }
            index &+= 1
        }
        guard index < end else { return .span(start..<index) }
        var out = Array(UnsafeRawBufferPointer(rebasing: bytes[start..<index]))
        // Alternate between quoted and unquoted parts until whitespace or the line's end.
        while index < end {
            let byte = bytes[index]
            if isSpace(byte) { break }
            if byte == UInt8(ascii: "\"") {
                guard readDoubleQuoted(bytes, &index, end, into: &out) else { return nil }
            } else if byte == UInt8(ascii: "'") {
                guard readSingleQuoted(bytes, &index, end, into: &out) else { return nil }
            } else {
                out.append(byte)
                index &+= 1
            }
        }
        return .bytes(out)
    }

    /// Reads `"…"` starting at the opening quote. False when unbalanced.
    private static func readDoubleQuoted(
        _ bytes: UnsafeRawBufferPointer, _ index: inout Int, _ end: Int, into out: inout [UInt8]
    ) -> Bool {
        index &+= 1
        while index < end {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\\"), end &- index >= 4, bytes[index &+ 1] == UInt8(ascii: "x"),
                let high = hexValue(bytes[index &+ 2]), let low = hexValue(bytes[index &+ 3])
            {
                out.append(high << 4 | low)
                index &+= 4
            } else if byte == UInt8(ascii: "\\"), end &- index >= 2 {
                out.append(unescaped(bytes[index &+ 1]))
                index &+= 2
            } else if byte == UInt8(ascii: "\"") {
                index &+= 1
                return index == end || isSpace(bytes[index])
            } else {
                out.append(byte)
                index &+= 1
            }
        }
        return false
    }

    /// Reads `'…'` starting at the opening quote. False when unbalanced.
    private static func readSingleQuoted(
        _ bytes: UnsafeRawBufferPointer, _ index: inout Int, _ end: Int, into out: inout [UInt8]
    ) -> Bool {
        index &+= 1
        while index < end {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\\"), end &- index >= 2, bytes[index &+ 1] == UInt8(ascii: "'") {
                out.append(UInt8(ascii: "'"))
                index &+= 2
            } else if byte == UInt8(ascii: "'") {
                index &+= 1
                return index == end || isSpace(bytes[index])
            } else {
                out.append(byte)
                index &+= 1
            }
        }
        return false
    }

    @inline(__always)
    static func isSpace(_ byte: UInt8) -> Bool {
        byte == 32 || (byte >= 9 && byte <= 13)  // space, \t \n \v \f \r
    }

    private static func unescaped(_ byte: UInt8) -> UInt8 {
        switch byte {
        case UInt8(ascii: "n"): return 10
        case UInt8(ascii: "r"): return 13
        case UInt8(ascii: "t"): return 9
        case UInt8(ascii: "b"): return 8
        case UInt8(ascii: "a"): return 7
        default: return byte
        }
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte &- UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte &- UInt8(ascii: "a") &+ 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte &- UInt8(ascii: "A") &+ 10
        default: return nil
        }
    }
}
