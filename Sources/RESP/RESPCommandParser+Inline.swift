import NIOCore

extension RESPCommandParser {
    /// Parses one inline command line (anything not starting with `*`). A blank line is
    /// skipped; the line's bytes are consumed even when it is refused.
    mutating func parseInline(_ buffer: inout ByteBuffer) throws(RESPError) -> Outcome {
        let limit = limits.inlineBytesMax
        let argumentsMax = limits.argumentsMax
        // nil: no line end yet; .some(nil): unbalanced quotes.
        let found: (lineEnd: Int, tokens: [RESPInlineSplitter.Token]?)? = buffer.withUnsafeReadableBytes { bytes in
            // A line of `limit` bytes has its `\n` at offset `limit` at the latest.
            guard let newline = RESPScanning.first(RESP.lf, bytes, from: 0, to: min(bytes.count, limit &+ 1)) else {
                return nil
            }
            var end = newline
            if end > 0, bytes[end &- 1] == RESP.cr { end &-= 1 }
            return (newline &+ 1, RESPInlineSplitter.split(bytes, 0..<end, argumentsMax: argumentsMax))
        }
        guard let found else {
            if buffer.readableBytes > limit { throw failed(.inlineTooLong) }
            return .needMoreBytes
        }
        let lineStart = buffer.readerIndex
        defer { buffer.moveReaderIndex(forwardBy: found.lineEnd) }
        guard let tokens = found.tokens else { throw failed(.unbalancedQuotes) }
        guard !tokens.isEmpty else { return .skipped }
        guard tokens.count <= argumentsMax else {
            // The splitter stopped counting at argumentsMax + 1.
            throw failed(.tooManyArguments(count: Int64(tokens.count), limit: argumentsMax))
        }
        var arguments: [ByteBuffer] = []
        arguments.reserveCapacity(tokens.count)
        for token in tokens {
            switch token {
            case .span(let range):
                guard let slice = buffer.getSlice(at: lineStart &+ range.lowerBound, length: range.count) else {
                    preconditionFailure("inline token \(range) outside the \(buffer.readableBytes) readable bytes")
                }
                arguments.append(slice)
            case .bytes(let bytes):
                arguments.append(ByteBuffer(bytes: bytes))
            }
        }
        return .command(RESPCommand(arguments))
    }
}
