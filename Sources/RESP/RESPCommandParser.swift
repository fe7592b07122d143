import NIOCore

/// Parses client requests out of a connection's cumulated input, one per call.
///
/// Use it like swift-nio's `NIOSingleStepByteToMessageProcessor`: append what the socket
/// delivered to one buffer, then call `next(_:)` until it returns nil.
///
/// ```swift
/// while true {
///     do {
///         guard let command = try parser.next(&buffer) else { break }  // wait for more bytes
///         handle(command)
///     } catch {
///         reply(error.reply)
///         if error.isFatal { close(); break }
///     }
/// }
/// ```
///
/// - A request starting with `*` is a RESP array of bulk strings; anything else is an inline
///   command line ended by `\n` (an optional `\r` before it is dropped), split like Redis's
///   `sdssplitargs` (see `RESPInlineSplitter`). Empty arrays (`*0`, `*-1`) and blank lines
///   are skipped.
/// - On a partial request `next` returns nil and leaves the reader index where the request
///   starts; it remembers how far it got (as offsets from the reader index) so a large
///   request arriving in many reads is not rescanned from the start. The caller must therefore
///   pass the same stream every time and must not move the reader index itself, though it may
///   discard read bytes (`discardReadBytes`): offsets are relative to the reader index.
/// - The one exception: after refusing a request for a limit (`bulkTooLong`,
///   `requestTooLarge`, `tooManyArguments`), the parser consumes the request's remaining bytes
///   as they arrive without holding them, then goes on.
/// - The verdict never depends on how the stream was split into reads: the same bytes give
///   the same commands and errors whether they arrive at once or one byte at a time.
public struct RESPCommandParser: Sendable {
    /// May be changed between calls; the new limits apply from the next header read. A server
    /// that requires `AUTH` starts a connection with `RESPLimits.unauthenticated` and switches
    /// to its full limits once the client has authenticated.
    public var limits: RESPLimits

    /// Set by a fatal error; every later call throws it again.
    private var failure: RESPError?
    /// A RESP array whose header has been read and whose elements are still arriving.
    private var frame: Frame?
    /// A refused request whose remaining bytes are being skipped.
    private var discard: Discard?
    /// Reused for every frame, so a command costs one array allocation (its arguments).
    private var spanStorage: [Span] = []
    /// The arguments array of a command given back (`recycle`), empty, for the next one:
    /// a pipeline of commands the caller does not keep then allocates no arguments array.
    private var argumentStorage: [ByteBuffer] = []

    public init(limits: RESPLimits = RESPLimits()) {
        self.limits = limits
    }

    /// The next complete command, or nil when more bytes are needed.
    ///
    /// - Throws: `RESPError`. When `isFatal`, the connection must be closed after replying.
    public mutating func next(_ buffer: inout ByteBuffer) throws(RESPError) -> RESPCommand? {
        if let failure { throw failure }
        // Each pass either returns or consumes at least one byte (a skipped empty request or
        // blank line), so the loop ends within `buffer.readableBytes` passes.
        while true {
            if discard != nil {
                guard try skipDiscarded(&buffer) else { return nil }
            }
            guard buffer.readableBytes > 0 else { return nil }
            let outcome: Outcome
            if frame != nil || buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) == UInt8(ascii: "*") {
                outcome = try parseArray(&buffer)
            } else {
                outcome = try parseInline(&buffer)
            }
            switch outcome {
            case .command(let command): return command
            case .needMoreBytes: return nil
            case .skipped: continue
            }
        }
    }

    /// Gives back a command the caller is done with (it kept none of it but copies), so
    /// its arguments array is reused by the next command. Optional; it must be a command
    /// this parser returned.
    public mutating func recycle(_ command: consuming RESPCommand) {
        // A huge request's storage is not kept for the connection's lifetime.
        guard command.arguments.capacity <= Self.recycledArgumentsMax else { return }
        // Drops the slices, so they no longer hold the caller's receive buffer. Emptied in
        // place and swapped out: `let arguments = command.arguments` would retain the array,
        // and emptying a shared array allocates a new one.
        command.arguments.removeAll(keepingCapacity: true)
        swap(&command.arguments, &argumentStorage)
    }

    /// Most arguments an array kept for reuse (`recycle`) may hold.
    static let recycledArgumentsMax = 16

    /// Whether the parser holds part of a request: an array whose header it has read, or a
    /// refused request it is skipping. A client that hung up mid-request leaves this true or
    /// unread bytes in the buffer.
    public var isWithinRequest: Bool { frame != nil || discard != nil }

    enum Outcome {
        case command(RESPCommand)
        case needMoreBytes
        case skipped
    }

    /// An element of a request array: where its payload lies, from the reader index.
    struct Span {
        var offset: Int
        var length: Int
    }

    struct Frame {
        /// Elements the header announced.
        var expected: Int
        /// Offset (from the reader index) of the next element's `$`.
        var scanned: Int
        /// The sum of the element lengths so far.
        var argumentBytes: Int
        var spans: [Span]
    }

    struct Discard {
        /// Payload bytes of the current refused element still to skip.
        var bytesToSkip: Int
        /// Whether the CRLF after that payload is still to come.
        var isAwaitingCRLF: Bool
        /// Elements after the current one still to skip.
        var elementsRemaining: Int64
    }

    /// Records a fatal error so the parser stays failed, and returns it for throwing.
    mutating func failed(_ kind: RESPError.Kind) -> RESPError {
        let error = RESPError(kind)
        if error.isFatal {
            failure = error
            frame = nil
            discard = nil
        }
        return error
    }
}

extension RESPCommandParser {
    /// What scanning the buffered elements of a frame found.
    private enum ElementScan {
        case complete
        case incomplete
        case failed(RESPError.Kind)
        /// `*0` or `*-1`, to skip: the offset past the header.
        case emptyArray(end: Int)
        /// A header announcing more than `argumentsMax` elements.
        case tooManyArguments(count: Int64, end: Int)
        /// A refused element: its length and the offset just past its header.
        case refused(RESPError.Kind, length: Int, payloadStart: Int)
    }

    private mutating func parseArray(_ buffer: inout ByteBuffer) throws(RESPError) -> Outcome {
        var frame: Frame
        if let current = self.frame {
            frame = current
            self.frame = nil  // keep `frame.spans` uniquely referenced while appending
        } else {
            // `expected == 0`: the header is still to be read.
            frame = Frame(expected: 0, scanned: 0, argumentBytes: 0, spans: spanStorage)
            spanStorage = []
        }
        // One pass over the readable bytes reads the header (for a new frame) and every
        // element that has arrived.
        let scan = buffer.withUnsafeReadableBytes { bytes in
            frame.expected == 0 ? scanHeader(bytes, &frame) : scanElements(bytes, &frame)
        }
        switch scan {
        case .incomplete:
            if frame.expected > 0 { self.frame = frame } else { recycle(&frame.spans) }
            return .needMoreBytes
        case .emptyArray(let end):
            recycle(&frame.spans)
            buffer.moveReaderIndex(forwardBy: end)
            return .skipped
        case .tooManyArguments(let count, let end):
            recycle(&frame.spans)
            buffer.moveReaderIndex(forwardBy: end)
            discard = Discard(bytesToSkip: 0, isAwaitingCRLF: false, elementsRemaining: count)
            throw failed(.tooManyArguments(count: count, limit: limits.argumentsMax))
        case .failed(let kind):
            throw failed(kind)
        case .refused(let kind, let length, let payloadStart):
            buffer.moveReaderIndex(forwardBy: payloadStart)
            let remaining = frame.expected &- frame.spans.count &- 1
            discard = Discard(bytesToSkip: length, isAwaitingCRLF: true, elementsRemaining: Int64(remaining))
            recycle(&frame.spans)
            throw failed(kind)
        case .complete:
            let start = buffer.readerIndex
            var arguments = argumentStorage
            argumentStorage = []
            arguments.reserveCapacity(frame.spans.count)
            for span in frame.spans {
                guard let slice = buffer.getSlice(at: start &+ span.offset, length: span.length) else {
                    preconditionFailure("RESP span \(span) outside the \(buffer.readableBytes) readable bytes it was scanned in")
                }
                arguments.append(slice)
            }
            buffer.moveReaderIndex(forwardBy: frame.scanned)
            recycle(&frame.spans)
            return .command(RESPCommand(arguments))
        }
    }

    /// Keeps a frame's span storage for the next frame (taking it from `spans`, which must be
    /// the only reference so that emptying it does not copy).
    private mutating func recycle(_ spans: inout [Span]) {
        // Do not keep the storage of a huge request around for the connection's lifetime.
        guard spans.capacity <= 1024 else { return }
        spans.removeAll(keepingCapacity: true)
        swap(&spanStorage, &spans)
    }

    /// Reads the `*<count>\r\n` header of a new frame, then its elements.
    private func scanHeader(_ bytes: UnsafeRawBufferPointer, _ frame: inout Frame) -> ElementScan {
        switch RESPScanning.header(bytes, from: 1, lineBytesMax: limits.inlineBytesMax) {
        case .incomplete: return .incomplete
        case .tooLong: return .failed(.multibulkCountTooLong)
        case .invalid: return .failed(.invalidMultibulkLength)
        case .value(let count, let end):
            guard count >= -1, count <= Int64(Int32.max) else { return .failed(.invalidMultibulkLength) }
            guard count > 0 else { return .emptyArray(end: end) }
            guard count <= Int64(limits.argumentsMax) else { return .tooManyArguments(count: count, end: end) }
            frame.expected = Int(count)
            frame.scanned = end
            return scanElements(bytes, &frame)
        }
    }

    /// Scans `$<length>\r\n<payload>\r\n` elements from `frame.scanned` until the frame is
    /// complete or the buffered bytes run out.
    private func scanElements(_ bytes: UnsafeRawBufferPointer, _ frame: inout Frame) -> ElementScan {
        while frame.spans.count < frame.expected {
            let at = frame.scanned
            guard at < bytes.count else { return .incomplete }
            guard bytes[at] == UInt8(ascii: "$") else { return .failed(.expectedDollar(got: bytes[at])) }
            let length: Int64
            let payloadStart: Int
            switch RESPScanning.header(bytes, from: at &+ 1, lineBytesMax: limits.inlineBytesMax) {
            case .incomplete: return .incomplete
            case .tooLong: return .failed(.bulkCountTooLong)
            case .invalid: return .failed(.invalidBulkLength)
            case .value(let value, let end): (length, payloadStart) = (value, end)
            }
            guard length >= 0, length <= Int64(limits.discardBulkBytesMax) else { return .failed(.invalidBulkLength) }
            let size = Int(length)
            if size > limits.bulkBytesMax {
                return .refused(.bulkTooLong(length: length, limit: limits.bulkBytesMax), length: size, payloadStart: payloadStart)
            }
            if frame.argumentBytes &+ size > limits.requestBytesMax {
                return .refused(.requestTooLarge(limit: limits.requestBytesMax), length: size, payloadStart: payloadStart)
            }
            let payloadEnd = payloadStart &+ size
            guard bytes.count &- payloadEnd >= 2 else { return .incomplete }
            guard bytes[payloadEnd] == RESP.cr, bytes[payloadEnd &+ 1] == RESP.lf else {
                return .failed(.bulkNotTerminated)
            }
            frame.spans.append(Span(offset: payloadStart, length: size))
            frame.argumentBytes &+= size
            frame.scanned = payloadEnd &+ 2
        }
        return .complete
    }

    /// Skips what is left of a refused request. Returns true once it has all been skipped.
    private mutating func skipDiscarded(_ buffer: inout ByteBuffer) throws(RESPError) -> Bool {
        guard var state = discard else { return true }
        // Each pass consumes a payload, a CRLF or a header, or returns.
        while true {
            if state.bytesToSkip > 0 {
                let skipped = min(buffer.readableBytes, state.bytesToSkip)
                buffer.moveReaderIndex(forwardBy: skipped)
                state.bytesToSkip &-= skipped
                guard state.bytesToSkip == 0 else { break }
            }
            if state.isAwaitingCRLF {
                guard buffer.readableBytes >= 2 else { break }
                let isCRLF = buffer.withUnsafeReadableBytes { $0[0] == RESP.cr && $0[1] == RESP.lf }
                guard isCRLF else { throw failed(.bulkNotTerminated) }
                buffer.moveReaderIndex(forwardBy: 2)
                state.isAwaitingCRLF = false
            }
            guard state.elementsRemaining > 0 else {
                discard = nil
                return true
            }
            guard let first = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self) else { break }
            guard first == UInt8(ascii: "$") else { throw failed(.expectedDollar(got: first)) }
            let header = buffer.withUnsafeReadableBytes {
                RESPScanning.header($0, from: 1, lineBytesMax: limits.inlineBytesMax)
            }
            switch header {
            case .incomplete:
                discard = state
                return false
            case .tooLong: throw failed(.bulkCountTooLong)
            case .invalid: throw failed(.invalidBulkLength)
            case .value(let length, let end):
                guard length >= 0, length <= Int64(limits.discardBulkBytesMax) else { throw failed(.invalidBulkLength) }
                buffer.moveReaderIndex(forwardBy: end)
                state.bytesToSkip = Int(length)
                state.isAwaitingCRLF = true
                state.elementsRemaining &-= 1
            }
        }
        discard = state
        return false
    }
}
