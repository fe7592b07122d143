import CMap
import NIOCore
import RESP
import Replication

/// The error replies a client can act on, and the conversions from arguments and results.
/// Every `-ERR` names the command or the argument that was wrong.
enum CommandReplies {
    static let noQuorum = RESPValue.error("NOQUORUM not in a quorate configuration: nothing was written")
    static let notWritten = RESPValue.error(
        "NOQUORUM the configuration changed before the write was ordered: nothing was written")
    static let unknown = RESPValue.error("UNKNOWN the write may or may not have happened (timed out or node lost)")
    static let readNotConfirmed = RESPValue.error(
        "NOQUORUM the read could not be confirmed by a quorate configuration: nothing changed, retry")
    static let noAuth = RESPValue.error("NOAUTH Authentication required.")
    static let notInteger = RESPValue.error("ERR value is not an integer or out of range")
    static let syntax = RESPValue.error("ERR syntax error")
    static let onlyPrefixPatterns = RESPValue.error(
        "ERR only prefix* patterns are supported (a prefix of key characters followed by one '*', or '*')")

    static func wrongArity(_ name: String) -> RESPValue {
        .error("ERR wrong number of arguments for '\(name.lowercased())' command")
    }

    static func unknownCommand(_ command: RESPCommand) -> RESPValue {
        let name = String(decoding: command.arguments.first?.readableBytesView.prefix(128) ?? [], as: UTF8.self)
        return .error("ERR unknown command '\(name)', with args beginning with: "
            + command.arguments.dropFirst().prefix(3).map { "'\(text($0, max: 64))'" }.joined(separator: " "))
    }

    static func failure(_ failure: RequestFailure) -> RESPValue {
        switch failure {
        case .noQuorum: noQuorum
        case .notWritten: notWritten
        case .unknownOutcome: unknown
        case .readNotConfirmed: readNotConfirmed
        }
    }

    /// A store refusal: wrong types are `WRONGTYPE`, the rest `ERR` with the store's text
    /// (Redis's own wording for INCR on a non-integer and for overflow).
    static func storeError(_ error: CMapError) -> RESPValue {
        switch error {
        case .wrongType: .error("WRONGTYPE " + error.description)
        case .notAnInteger: notInteger
        case .incrementOverflow: .error("ERR increment or decrement would overflow")
        default: .error("ERR " + error.description)
        }
    }

    /// An argument as text for an error message, cut to `max` bytes.
    static func text(_ buffer: ByteBuffer, max: Int = 128) -> String {
        String(decoding: buffer.readableBytesView.prefix(max), as: UTF8.self)
    }

    /// The readable bytes as an array, copied in one `memcpy`. Not `Array(readableBytesView)`,
    /// which copies through the view's iterator a byte at a time (a 256-byte SET value cost
    /// more to copy than to parse), nor `Array(unsafeUninitializedCapacity:)`, which
    /// allocates through the standard library's unspecialized path and looks up the
    /// array's type metadata on every call (about 600 instructions).
    static func bytes(_ buffer: ByteBuffer) -> [UInt8] {
        buffer.withUnsafeReadableBytes { Array($0) }
    }

    /// A key argument, or the error naming it.
    static func key(_ buffer: ByteBuffer) -> Result<CMapKey, RESPValue> {
        do {
            return .success(try CMapKey(validating: bytes(buffer)))
        } catch {
            return .failure(.error("ERR invalid key '\(text(buffer))': \(error.description)"))
        }
    }

    static func prefix(_ bytes: [UInt8]) -> Result<CMapPrefix, RESPValue> {
        do {
            return .success(try CMapPrefix(validating: bytes))
        } catch {
            return .failure(.error("ERR invalid prefix '\(String(decoding: bytes.prefix(128), as: UTF8.self))': \(error.description)"))
        }
    }

    /// A `prefix*` or `*` pattern as a prefix; anything else is refused.
    static func pattern(_ buffer: ByteBuffer) -> Result<CMapPrefix, RESPValue> {
        let raw = bytes(buffer)
        guard raw.last == UInt8(ascii: "*") else { return .failure(onlyPrefixPatterns) }
        let body = raw.dropLast()
        guard !body.contains(where: { $0 == UInt8(ascii: "*") || $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "[")
            || $0 == UInt8(ascii: "\\") })
        else { return .failure(onlyPrefixPatterns) }
        return prefix(Array(body))
    }

    /// A decimal 64-bit integer argument as Redis accepts it.
    static func integer(_ buffer: ByteBuffer) -> Int64? {
        let raw = bytes(buffer)
        guard !raw.isEmpty, raw.count <= 20 else { return nil }
        return Int64(String(decoding: raw, as: UTF8.self))
    }

    static func unsigned(_ buffer: ByteBuffer) -> UInt64? {
        let raw = bytes(buffer)
        guard !raw.isEmpty, raw.count <= 20 else { return nil }
        return UInt64(String(decoding: raw, as: UTF8.self))
    }

    /// A value's text as a bulk string (numbers in decimal, strings as their bytes).
    static func bulk(_ value: CMapValue) -> RESPValue { .bulk(bytes: value.textBytes) }

    /// An integer-typed value as `:n` when it fits, else its text.
    static func number(_ value: CMapValue) -> RESPValue {
        if value.type.isInteger, let n = Int64(String(decoding: value.textBytes, as: UTF8.self)) { return .integer(n) }
        return bulk(value)
    }
}

/// An error reply travels as the failure of a `Result` through the command helpers.
extension RESPValue: Error {}
