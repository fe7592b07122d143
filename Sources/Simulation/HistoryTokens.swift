import Basics

/// One field of a history line (HistoryFormat.swift): a bare word or a quoted string.
enum HistoryToken: Hashable, Sendable {
    case bare(String)
    case quoted(String)
}

/// Why a line could not be read; HistoryFormat.swift adds the line number.
struct HistoryLineError: Error, Sendable {
    var message: String
    init(_ message: String) { self.message = message }
}

extension HistoryToken {
    /// Splits a line into fields separated by spaces or tabs. A blank line or a comment
    /// (first non-blank byte `#`) gives no fields.
    static func split(_ bytes: [UInt8]) throws(HistoryLineError) -> [HistoryToken] {
        var tokens: [HistoryToken] = []
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") {
                index += 1
            } else if byte == UInt8(ascii: "#") && tokens.isEmpty {
                return []
            } else if byte == UInt8(ascii: "\"") {
                tokens.append(.quoted(try quotedString(bytes, at: &index)))
            } else {
                let start = index
                while index < bytes.count, bytes[index] != UInt8(ascii: " "), bytes[index] != UInt8(ascii: "\t") {
                    guard (0x21...0x7E).contains(bytes[index]), bytes[index] != UInt8(ascii: "\"") else {
                        throw HistoryLineError(
                            "unexpected byte 0x\(String(bytes[index], radix: 16)) at column \(index + 1)")
                    }
                    index += 1
                }
                tokens.append(.bare(String(decoding: bytes[start..<index], as: UTF8.self)))
            }
        }
        return tokens
    }

    /// Reads `"..."` starting at the opening quote; leaves `index` after the closing one.
    private static func quotedString(_ bytes: [UInt8], at index: inout Int) throws(HistoryLineError) -> String {
        let column = index + 1
        var content: [UInt8] = []
        index += 1
        while true {
            guard index < bytes.count else { throw HistoryLineError("unterminated string at column \(column)") }
            let byte = bytes[index]
            index += 1
            if byte == UInt8(ascii: "\"") { break }
            guard byte == UInt8(ascii: "\\") else {
                guard (0x20...0x7E).contains(byte) else {
                    throw HistoryLineError("byte 0x\(String(byte, radix: 16)) must be escaped in a string")
                }
                content.append(byte)
                continue
            }
            guard index < bytes.count else { throw HistoryLineError("unterminated escape at column \(index)") }
            let escaped = bytes[index]
            index += 1
            switch escaped {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                content.append(escaped)
            case UInt8(ascii: "x"):
                guard index + 1 < bytes.count, let high = hexValue(bytes[index]), let low = hexValue(bytes[index + 1])
                else { throw HistoryLineError("bad \\x escape at column \(index - 1)") }
                content.append(high << 4 | low)
                index += 2
            default:
                throw HistoryLineError("unknown escape \\\(Character(Unicode.Scalar(escaped))) at column \(index - 1)")
            }
        }
        if index < bytes.count, bytes[index] != UInt8(ascii: " "), bytes[index] != UInt8(ascii: "\t") {
            throw HistoryLineError("a string must be followed by a space, at column \(index + 1)")
        }
        guard let text = String(validating: content, as: UTF8.self) else {
            throw HistoryLineError("the string at column \(column) is not valid UTF-8")
        }
        return text
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}

/// Reads the fields of one operation line in order.
struct HistoryTokenReader {
    private let tokens: [HistoryToken]
    private var position = 0

    init(tokens: [HistoryToken]) { self.tokens = tokens }

    mutating func operation() throws(HistoryLineError) -> HistoryOperation {
        let id = OperationID(try number("operation id"))
        let client = ClientID(try number("client id"))
        let mode: ReadMode
        switch try word("read mode") {
        case "lin": mode = .linearizable
        case "stale": mode = .stale
        case let other: throw HistoryLineError("read mode must be 'lin' or 'stale', not '\(other)'")
        }
        let invokedAt = Instant(nanoseconds: try number("invocation time"))
        let respondedAt: Instant?
        if peek() == .bare("-") {
            position += 1
            respondedAt = nil
        } else {
            respondedAt = Instant(nanoseconds: try number("response time"))
        }
        let operation = try kvOperation()
        let outcome = try outcome(of: operation)
        guard position == tokens.count else {
            throw HistoryLineError("unexpected field \(position + 1) after the outcome")
        }
        return HistoryOperation(
            id: id, client: client, operation: operation, readMode: mode,
            invokedAt: invokedAt, respondedAt: respondedAt, outcome: outcome)
    }

    private mutating func kvOperation() throws(HistoryLineError) -> KVOperation {
        switch try word("operation") {
        case "get": return .get(key: try string("key"))
        case "set": return .set(key: try string("key"), value: try string("value"))
        case "del": return .delete(key: try string("key"))
        case "incr":
            let key = try string("key")
            guard case .bare(let text) = try next("increment"), let by = Int64(text) else {
                throw HistoryLineError("the increment must be a 64-bit integer")
            }
            return .increment(key: key, by: by)
        case "cas":
            return .compareAndSet(
                key: try string("key"), expected: try optionalString("expected value"), new: try string("new value"))
        case let other:
            throw HistoryLineError("unknown operation '\(other)' (get, set, del, incr, cas)")
        }
    }

    private mutating func outcome(of operation: KVOperation) throws(HistoryLineError) -> OperationOutcome {
        switch try word("outcome") {
        case "unknown": return .unknown
        case "failed": return .failed(reason: position < tokens.count ? try string("failure reason") : "")
        case "ok": break
        case let other: throw HistoryLineError("outcome must be 'ok', 'failed' or 'unknown', not '\(other)'")
        }
        switch operation {
        case .set, .delete:
            return .ok(.done)
        case .get:
            return .ok(.value(try optionalString("value read")))
        case .increment:
            guard case .bare(let text) = try next("new value") else {
                throw HistoryLineError("an increment returns a number")
            }
            if text == "not-integer" { return .ok(.notAnInteger) }
            guard let value = Int64(text) else {
                throw HistoryLineError("an increment returns a 64-bit integer or not-integer")
            }
            return .ok(.integer(value))
        case .compareAndSet:
            switch try word("swapped") {
            case "true": return .ok(.swapped(true))
            case "false": return .ok(.swapped(false))
            default: throw HistoryLineError("a compare-and-set returns true or false")
            }
        }
    }

    private func peek() -> HistoryToken? { position < tokens.count ? tokens[position] : nil }

    private mutating func next(_ what: String) throws(HistoryLineError) -> HistoryToken {
        guard position < tokens.count else { throw HistoryLineError("missing \(what)") }
        position += 1
        return tokens[position - 1]
    }

    private mutating func word(_ what: String) throws(HistoryLineError) -> String {
        guard case .bare(let text) = try next(what) else { throw HistoryLineError("\(what) must not be quoted") }
        return text
    }

    private mutating func number(_ what: String) throws(HistoryLineError) -> UInt64 {
        guard let value = UInt64(try word(what)) else {
            throw HistoryLineError("\(what) must be an unsigned 64-bit number")
        }
        return value
    }

    private mutating func string(_ what: String) throws(HistoryLineError) -> String {
        guard case .quoted(let text) = try next(what) else { throw HistoryLineError("\(what) must be a quoted string") }
        return text
    }

    private mutating func optionalString(_ what: String) throws(HistoryLineError) -> String? {
        switch try next(what) {
        case .bare("nil"): return nil
        case .quoted(let text): return text
        case .bare: throw HistoryLineError("\(what) must be a quoted string or nil")
        }
    }
}
