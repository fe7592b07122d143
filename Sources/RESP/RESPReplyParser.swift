import NIOCore

/// Parses replies (`RESPValue`s) out of a cumulated buffer, one per call: the client side of
/// the protocol, for our CLI and for tests.
///
/// Like `RESPCommandParser`, it returns nil when more bytes are needed and never depends on
/// how the stream was split. One difference: inside a partially received array, the elements
/// that are complete are consumed (the reader index moves past them) and held, so a long reply
/// (`KEYS` over a large map) arriving in many reads is parsed once, not rescanned on every
/// read. A partial scalar (a bulk string still arriving) is left in the buffer. Every error is
/// fatal: a client that cannot parse its server's reply cannot trust the connection.
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
    /// The arrays being filled, outermost first; at most `limits.nestingMax` of them.
    private var openArrays: [OpenArray] = []

    private struct OpenArray {
        var remaining: Int
        var elements: [RESPValue]
    }

    public init(limits: Limits = Limits()) {
        self.limits = limits
    }

    /// Whether part of a reply has been consumed and is held, waiting for the rest.
    public var isWithinReply: Bool { !openArrays.isEmpty }

    /// The next complete reply, or nil when more bytes are needed.
    public mutating func next(_ buffer: inout ByteBuffer) throws(RESPError) -> RESPValue? {
        if let failure { throw failure }
        // Each pass consumes a scalar or an array header (at least 3 bytes), or returns.
        while true {
            let item = buffer.withUnsafeReadableBytes { scanItem($0) }
            switch item {
            case .incomplete:
                return nil
            case .failed(let kind):
                let error = RESPError(kind)
                failure = error
                openArrays = []
                throw error
            case .scalar(let value, let length):
                let payload: RESPValue
                if case .bulk(let start, let count) = value {
                    guard let slice = buffer.getSlice(at: buffer.readerIndex &+ start, length: count) else {
                        preconditionFailure("bulk reply \(start)+\(count) outside \(buffer.readableBytes) readable bytes")
                    }
                    payload = .bulkString(slice)
                } else {
                    payload = value.value
                }
                buffer.moveReaderIndex(forwardBy: length)
                if let complete = close(with: payload) { return complete }
            case .arrayHeader(let count, let length):
                buffer.moveReaderIndex(forwardBy: length)
                if count <= 0 {
                    if let complete = close(with: count < 0 ? .nullArray : .array([])) { return complete }
                } else {
                    guard openArrays.count < limits.nestingMax else {
                        let error = RESPError(.replyNestedTooDeep(limit: limits.nestingMax))
                        failure = error
                        openArrays = []
                        throw error
                    }
                    var elements: [RESPValue] = []
                    elements.reserveCapacity(min(count, 1024))
                    openArrays.append(OpenArray(remaining: count, elements: elements))
                }
            }
        }
    }

    /// Adds a finished value to the innermost open array, closing every array it completes.
    /// Returns the top-level value once there is one.
    private mutating func close(with value: RESPValue) -> RESPValue? {
        var finished = value
        while !openArrays.isEmpty {
            let last = openArrays.count &- 1
            openArrays[last].elements.append(finished)
            openArrays[last].remaining &-= 1
            guard openArrays[last].remaining == 0 else { return nil }
            finished = .array(openArrays.removeLast().elements)
        }
        return finished
    }

    /// The RESP2 type bytes: simple string, error, integer, bulk string, array.
    private static let types: [UInt8] = Array("+-:$*".utf8)

    private enum Scalar {
        case value(RESPValue)
        /// A bulk string's payload: offset and length from the reader index.
        case bulk(start: Int, count: Int)

        var value: RESPValue {
            if case .value(let value) = self { return value }
            return .nullBulkString
        }
    }

    private enum Item {
        case incomplete
        case failed(RESPError.Kind)
        /// A complete scalar and its encoded length.
        case scalar(Scalar, length: Int)
        /// An array header (-1 for the null array) and its encoded length.
        case arrayHeader(count: Int, length: Int)
    }

    /// Reads the item at the start of `bytes`.
    private func scanItem(_ bytes: UnsafeRawBufferPointer) -> Item {
        guard let type = bytes.first else { return .incomplete }
        // Judge the type byte before waiting for its line, so garbage fails at once.
        guard Self.types.contains(type) else { return .failed(.invalidReplyType(got: type)) }
        let limit = limits.lineBytesMax
        let searchEnd = min(bytes.count, 1 &+ limit &+ 2)
        guard let cr = RESPScanning.crlf(bytes, from: 1, to: searchEnd) else {
            guard bytes.count &- 1 > limit &+ 1 else { return .incomplete }
            switch type {
            case UInt8(ascii: "$"): return .failed(.bulkCountTooLong)
            case UInt8(ascii: "*"): return .failed(.multibulkCountTooLong)
            default: return .failed(.replyLineTooLong)
            }
        }
        let line = 1..<cr
        let end = cr &+ 2
        switch type {
        case UInt8(ascii: "+"):
            return .scalar(.value(.simpleString(String(decoding: UnsafeRawBufferPointer(rebasing: bytes[line]), as: UTF8.self))), length: end)
        case UInt8(ascii: "-"):
            return .scalar(.value(.error(String(decoding: UnsafeRawBufferPointer(rebasing: bytes[line]), as: UTF8.self))), length: end)
        case UInt8(ascii: ":"):
            guard let value = RESPScanning.integer(bytes, line) else { return .failed(.invalidInteger) }
            return .scalar(.value(.integer(value)), length: end)
        case UInt8(ascii: "$"):
            guard let length = RESPScanning.integer(bytes, line), length >= -1, length <= Int64(limits.bulkBytesMax) else {
                return .failed(.invalidBulkLength)
            }
            guard length >= 0 else { return .scalar(.value(.nullBulkString), length: end) }
            let payloadEnd = end &+ Int(length)
            guard bytes.count &- payloadEnd >= 2 else { return .incomplete }
            guard bytes[payloadEnd] == RESP.cr, bytes[payloadEnd &+ 1] == RESP.lf else { return .failed(.bulkNotTerminated) }
            return .scalar(.bulk(start: end, count: Int(length)), length: payloadEnd &+ 2)
        default:  // "*"
            guard let count = RESPScanning.integer(bytes, line), count >= -1, count <= Int64(limits.elementsMax) else {
                return .failed(.invalidMultibulkLength)
            }
            return .arrayHeader(count: Int(count), length: end)
        }
    }
}
