import CZstd

/// Streaming compression: feed chunks, then `finish()` to close the frame. Useful for
/// snapshots too large to hold compressed and uncompressed at once.
public final class ZstdCompressor {
    private let context: OpaquePointer
    private static let chunkBytes = 128 * 1024

    public init(level: Int32 = Zstd.defaultLevel) throws {
        guard let context = ZSTD_createCCtx() else { throw ZstdError.failed("cannot allocate a compression context") }
        self.context = context
        try Zstd.check(ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, level))
        try Zstd.check(ZSTD_CCtx_setParameter(context, ZSTD_c_checksumFlag, 1))
    }

    deinit { ZSTD_freeCCtx(context) }

    public func compress(_ chunk: [UInt8]) throws -> [UInt8] {
        try run(chunk, directive: ZSTD_e_continue)
    }

    /// Ends the frame and returns its last bytes. The compressor can start a new frame after.
    public func finish() throws -> [UInt8] {
        try run([], directive: ZSTD_e_end)
    }

    private func run(_ chunk: [UInt8], directive: ZSTD_EndDirective) throws -> [UInt8] {
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: Self.chunkBytes)
        try chunk.withUnsafeBytes { src in
            var input = ZSTD_inBuffer(src: src.baseAddress, size: src.count, pos: 0)
            while true {
                let (remaining, produced) = try buffer.withUnsafeMutableBytes { dst in
                    var output = ZSTD_outBuffer(dst: dst.baseAddress, size: dst.count, pos: 0)
                    let remaining = ZSTD_compressStream2(context, &output, &input, directive)
                    try Zstd.check(remaining)
                    return (remaining, output.pos)
                }
                result.append(contentsOf: buffer[..<produced])
                let done = directive == ZSTD_e_end ? remaining == 0 : input.pos == input.size
                if done { break }
            }
        }
        return result
    }
}

/// Streaming decompression of one frame with a hard limit on the total output.
public final class ZstdDecompressor {
    private let context: OpaquePointer
    private let maxDecompressedBytes: Int
    private var producedBytes = 0
    private var frameEnded = false
    /// Bytes that arrived after the end of the frame (the caller decides if that is an error).
    public private(set) var trailingByteCount = 0
    private static let chunkBytes = 128 * 1024

    public init(maxDecompressedBytes: Int) throws {
        precondition(maxDecompressedBytes >= 0, "negative decompression limit \(maxDecompressedBytes)")
        guard let context = ZSTD_createDCtx() else { throw ZstdError.failed("cannot allocate a decompression context") }
        self.context = context
        self.maxDecompressedBytes = maxDecompressedBytes
    }

    deinit { ZSTD_freeDCtx(context) }

    public func decompress(_ chunk: [UInt8]) throws -> [UInt8] {
        var result: [UInt8] = []
        if frameEnded {
            trailingByteCount += chunk.count
            return result
        }
        var buffer = [UInt8](repeating: 0, count: Self.chunkBytes)
        try chunk.withUnsafeBytes { src in
            var input = ZSTD_inBuffer(src: src.baseAddress, size: src.count, pos: 0)
            while input.pos < input.size || !frameEnded {
                let (hint, produced) = try buffer.withUnsafeMutableBytes { dst in
                    var output = ZSTD_outBuffer(dst: dst.baseAddress, size: dst.count, pos: 0)
                    let hint = ZSTD_decompressStream(context, &output, &input)
                    try Zstd.check(hint)
                    return (hint, output.pos)
                }
                producedBytes += produced
                if producedBytes > maxDecompressedBytes {
                    throw ZstdError.tooLarge(limitBytes: maxDecompressedBytes)
                }
                result.append(contentsOf: buffer[..<produced])
                if hint == 0 {
                    frameEnded = true
                    trailingByteCount += input.size - input.pos
                    break
                }
                // No progress possible: the output buffer was not filled, so zstd wants input.
                if produced < buffer.count && input.pos == input.size { break }
            }
        }
        return result
    }

    /// Throws `.truncated` unless a whole frame has been decompressed.
    public func finish() throws {
        if !frameEnded { throw ZstdError.truncated }
    }
}
