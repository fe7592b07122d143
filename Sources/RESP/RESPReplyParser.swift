import NIOCore

/// Parses replies (`RESPValue`s) out of a cumulated buffer, one per call: the client side of
/// the protocol, for our CLI and for tests.
///
/// Same contract as `RESPCommandParser`: nil and an untouched reader index on a partial
/// reply. Unlike the command parser it keeps no progress between calls and rescans a partial
/// reply from its start; replies a client waits for are small next to the reads that carry
/// them, and this keeps the parser a plain function of the bytes. Every error is fatal: a
/// client that cannot parse its server's reply cannot trust the connection.
public struct RESPReplyParser: Sendable {
    public struct Limits: Hashable, Sendable {
        /// The largest bulk string accepted.
        public var bulkBytesMax: Int = 512 * 1024 * 1024
        /// The most elements in one array (a `KEYS` reply can be long).
        public var elementsMax: Int = 1 << 24
        /// How deep arrays may nest.
        public var nestingMax: Int = 64
        /// The longest simple string, error or integer line.
        public var lineBytesMax: Int = 64 * 1024

        public init() {}
    }

    public let limits: Limits
    private var failure: RESPError?

    public init(limits: Limits = Limits()) {
        self.limits = limits
    }

    /// The next complete reply, or nil when more bytes are needed.
    public mutating func next(_ buffer: inout ByteBuffer) throws(RESPError) -> RESPValue? {
        if let failure { throw failure }
        var offset = 0
        switch parse(buffer, &offset, depth: 0) {
        case .incomplete:
            return nil
        case .failed(let kind):
            let error = RESPError(kind)
            failure = error
            throw error
        case .value(let value):
            buffer.moveReaderIndex(forwardBy: offset)
            return value
        }
    }

    /// The RESP2 type bytes: simple string, error, integer, bulk string, array.
    private static let types: [UInt8] = Array("+-:$*".utf8)

    private enum Parsed {
        case value(RESPValue)
        case incomplete
        case failed(RESPError.Kind)
    }

    private enum Line {
        case incomplete
        case tooLong
        /// The line's content (offsets from the reader index) and the offset past its CRLF.
        case line(Range<Int>, end: Int)
    }

    /// The line starting at `start` (just after the type byte).
    private func line(_ buffer: ByteBuffer, from start: Int) -> Line {
        let limit = limits.lineBytesMax
        return buffer.withUnsafeReadableBytes { bytes in
            let searchEnd = min(bytes.count, start &+ limit &+ 2)
            guard let cr = RESPScanning.crlf(bytes, from: start, to: searchEnd) else {
                return bytes.count &- start > limit &+ 1 ? .tooLong : .incomplete
            }
            return .line(start..<cr, end: cr &+ 2)
        }
    }

    private func integer(_ buffer: ByteBuffer, _ range: Range<Int>) -> Int64? {
        buffer.withUnsafeReadableBytes { RESPScanning.integer($0, range) }
    }

    private func text(_ buffer: ByteBuffer, _ range: Range<Int>) -> String {
        buffer.withUnsafeReadableBytes { String(decoding: UnsafeRawBufferPointer(rebasing: $0[range]), as: UTF8.self) }
    }

    /// Parses the value at `offset` and moves `offset` past it.
    private func parse(_ buffer: ByteBuffer, _ offset: inout Int, depth: Int) -> Parsed {
        guard let type = buffer.getInteger(at: buffer.readerIndex &+ offset, as: UInt8.self) else { return .incomplete }
        // Judge the type byte before waiting for its line, so garbage fails at once.
        guard Self.types.contains(type) else { return .failed(.invalidReplyType(got: type)) }
        let range: Range<Int>
        let end: Int
        switch line(buffer, from: offset &+ 1) {
        case .incomplete: return .incomplete
        case .tooLong:
            switch type {
            case UInt8(ascii: "$"): return .failed(.bulkCountTooLong)
            case UInt8(ascii: "*"): return .failed(.multibulkCountTooLong)
            default: return .failed(.replyLineTooLong)
            }
        case .line(let content, let lineEnd): (range, end) = (content, lineEnd)
        }
        switch type {
        case UInt8(ascii: "+"):
            offset = end
            return .value(.simpleString(text(buffer, range)))
        case UInt8(ascii: "-"):
            offset = end
            return .value(.error(text(buffer, range)))
        case UInt8(ascii: ":"):
            guard let value = integer(buffer, range) else { return .failed(.invalidInteger) }
            offset = end
            return .value(.integer(value))
        case UInt8(ascii: "$"):
            return parseBulk(buffer, &offset, length: integer(buffer, range), payloadStart: end)
        case UInt8(ascii: "*"):
            return parseArray(buffer, &offset, count: integer(buffer, range), elementsStart: end, depth: depth)
        default:
            return .failed(.invalidReplyType(got: type))
        }
    }

    private func parseBulk(_ buffer: ByteBuffer, _ offset: inout Int, length: Int64?, payloadStart: Int) -> Parsed {
        guard let length, length >= -1, length <= Int64(limits.bulkBytesMax) else { return .failed(.invalidBulkLength) }
        guard length >= 0 else {
            offset = payloadStart
            return .value(.nullBulkString)
        }
        let payloadEnd = payloadStart &+ Int(length)
        guard buffer.readableBytes &- payloadEnd >= 2 else { return .incomplete }
        let start = buffer.readerIndex
        guard buffer.getInteger(at: start &+ payloadEnd, as: UInt16.self) == 0x0d0a else { return .failed(.bulkNotTerminated) }
        guard let payload = buffer.getSlice(at: start &+ payloadStart, length: Int(length)) else {
            preconditionFailure("bulk reply \(payloadStart)..<\(payloadEnd) outside \(buffer.readableBytes) readable bytes")
        }
        offset = payloadEnd &+ 2
        return .value(.bulkString(payload))
    }

    private func parseArray(_ buffer: ByteBuffer, _ offset: inout Int, count: Int64?, elementsStart: Int, depth: Int) -> Parsed {
        guard let count, count >= -1, count <= Int64(limits.elementsMax) else { return .failed(.invalidMultibulkLength) }
        guard count >= 0 else {
            offset = elementsStart
            return .value(.nullArray)
        }
        guard depth < limits.nestingMax else { return .failed(.replyNestedTooDeep(limit: limits.nestingMax)) }
        var cursor = elementsStart
        var elements: [RESPValue] = []
        elements.reserveCapacity(min(Int(count), 1024))
        for _ in 0..<Int(count) {
            switch parse(buffer, &cursor, depth: depth &+ 1) {
            case .value(let element): elements.append(element)
            case .incomplete: return .incomplete
            case .failed(let kind): return .failed(kind)
            }
        }
        offset = cursor
        return .value(.array(elements))
    }
}
