import Basics

// The text form of a history: one operation per line, so a history from the simulator or a
// real cluster can be saved, read by a person, cut down by hand and checked again.
// docs/consistency-checking.md is the reference; in short:
//
//     totemkv-history 1
//     # id client mode invoked-ns responded-ns operation... outcome...
//     0 1 lin 1000 2500 set "x" "1" ok
//     1 2 stale 1200 3000 get "x" ok nil
//     2 1 lin 2600 - incr "n" 5 unknown
//     3 2 lin 3100 3900 cas "x" nil "2" ok false
//     4 1 lin 4000 4100 del "x" failed "NOQUORUM"
//
// Strings are always quoted; inside quotes, bytes outside printable ASCII and the characters
// `"` and `\` are written `\xHH`, `\"`, `\\`. A bare `nil` is "absent". `-` is "no time".

extension History {
    /// The first line of every history file; the number is the format version.
    public static let formatHeader = "totemkv-history 1"

    /// Bounds on a file, so a corrupt or hostile one fails cleanly instead of exhausting memory.
    public static let lineBytesMax = 16 << 20
    public static let operationsMax = 10_000_000

    /// The history in the text format, ending with a newline.
    public func serialized() -> String {
        var text = History.formatHeader + "\n"
        text += "# id client mode invoked-ns responded-ns operation... outcome...\n"
        for operation in operations {
            text += operation.formatted()
            text += "\n"
        }
        return text
    }

    /// Parses the text format. Blank lines and lines whose first non-blank byte is `#` are ignored.
    public init(parsing text: String) throws(HistoryError) {
        var operations: [HistoryOperation] = []
        var seen = Set<OperationID>()
        var sawHeader = false
        var lineNumber = 0
        for rawLine in text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNumber += 1
            guard rawLine.count <= History.lineBytesMax else {
                throw HistoryError(position: lineNumber, message: "line longer than \(History.lineBytesMax) bytes")
            }
            var bytes = Array(rawLine)
            if bytes.last == UInt8(ascii: "\r") { bytes.removeLast() }
            let tokens: [HistoryToken]
            do {
                tokens = try HistoryToken.split(bytes)
            } catch {
                throw HistoryError(position: lineNumber, message: error.message)
            }
            if tokens.isEmpty { continue }
            if !sawHeader {
                guard tokens == [.bare("totemkv-history"), .bare("1")] else {
                    throw HistoryError(
                        position: lineNumber, message: "expected the header '\(History.formatHeader)'")
                }
                sawHeader = true
                continue
            }
            guard operations.count < History.operationsMax else {
                throw HistoryError(position: lineNumber, message: "more than \(History.operationsMax) operations")
            }
            let operation: HistoryOperation
            do {
                var reader = HistoryTokenReader(tokens: tokens)
                operation = try reader.operation()
            } catch {
                throw HistoryError(position: lineNumber, message: error.message)
            }
            if let defect = operation.defect {
                throw HistoryError(position: lineNumber, message: defect)
            }
            guard seen.insert(operation.id).inserted else {
                throw HistoryError(position: lineNumber, message: "operation id \(operation.id) appears twice")
            }
            operations.append(operation)
        }
        guard sawHeader else {
            throw HistoryError(position: max(lineNumber, 1), message: "missing the header '\(History.formatHeader)'")
        }
        self.init(validated: operations)
    }
}

extension HistoryOperation {
    /// This operation as one line of the text format, without the newline.
    public func formatted() -> String {
        var fields: [String] = [
            id.description, client.description, readMode == .stale ? "stale" : "lin",
            String(invokedAt.nanoseconds), respondedAt.map { String($0.nanoseconds) } ?? "-",
        ]
        switch operation {
        case .get(let key):
            fields += ["get", quoted(key)]
        case .set(let key, let value):
            fields += ["set", quoted(key), quoted(value)]
        case .delete(let key):
            fields += ["del", quoted(key)]
        case .increment(let key, let by):
            fields += ["incr", quoted(key), String(by)]
        case .compareAndSet(let key, let expected, let new):
            fields += ["cas", quoted(key), expected.map(quoted) ?? "nil", quoted(new)]
        }
        switch outcome {
        case .ok(let result):
            fields.append("ok")
            switch result {
            case .done: break
            case .value(let value): fields.append(value.map(quoted) ?? "nil")
            case .integer(let value): fields.append(String(value))
            case .notAnInteger: fields.append("not-integer")
            case .swapped(let swapped): fields.append(swapped ? "true" : "false")
            }
        case .failed(let reason):
            fields += ["failed", quoted(reason)]
        case .unknown:
            fields.append("unknown")
        }
        return fields.joined(separator: " ")
    }
}

/// `text` in double quotes, escaped so that the line stays one line of printable ASCII.
func quoted(_ text: String) -> String {
    let hexDigits = Array("0123456789abcdef".utf8)
    var bytes: [UInt8] = [UInt8(ascii: "\"")]
    bytes.reserveCapacity(text.utf8.count + 2)
    for byte in text.utf8 {
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"):
            bytes += [UInt8(ascii: "\\"), byte]
        case 0x20...0x7E:
            bytes.append(byte)
        default:
            bytes += [UInt8(ascii: "\\"), UInt8(ascii: "x"), hexDigits[Int(byte >> 4)], hexDigits[Int(byte & 0xF)]]
        }
    }
    bytes.append(UInt8(ascii: "\""))
    return String(decoding: bytes, as: UTF8.self)
}
