import CZstd

/// One-shot compression over libzstd. Decompression always goes through the streaming API
/// with a hard output limit: the frame header's content size is attacker-controlled and is
/// never trusted to size an allocation.
public enum Zstd {
    public static let defaultLevel: Int32 = 3
    public static var maxLevel: Int32 { ZSTD_maxCLevel() }

    /// Compresses `input` into one frame with a content checksum, so corruption that still
    /// parses is caught on decompression.
    public static func compress(_ input: [UInt8], level: Int32 = defaultLevel) throws -> [UInt8] {
        guard let context = ZSTD_createCCtx() else { throw ZstdError.failed("cannot allocate a compression context") }
        defer { ZSTD_freeCCtx(context) }
        try check(ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, level))
        try check(ZSTD_CCtx_setParameter(context, ZSTD_c_checksumFlag, 1))
        var output = [UInt8](repeating: 0, count: ZSTD_compressBound(input.count))
        let written = input.withUnsafeBytes { src in
            output.withUnsafeMutableBytes { dst in
                ZSTD_compress2(context, dst.baseAddress, dst.count, src.baseAddress, src.count)
            }
        }
        try check(written)
        output.removeSubrange(written...)
        return output
    }

    /// Decompresses exactly one frame. Throws if the frame is corrupt or truncated, if bytes
    /// follow it, or if it would expand beyond `maxDecompressedBytes`.
    public static func decompress(_ input: [UInt8], maxDecompressedBytes: Int) throws -> [UInt8] {
        let decompressor = try ZstdDecompressor(maxDecompressedBytes: maxDecompressedBytes)
        var output = try decompressor.decompress(input)
        try decompressor.finish()
        if decompressor.trailingByteCount > 0 {
            throw ZstdError.trailingBytes(count: decompressor.trailingByteCount)
        }
        output.reserveCapacity(output.count)
        return output
    }

    static func check(_ code: Int) throws {
        if ZSTD_isError(code) != 0 {
            let name = String(cString: ZSTD_getErrorName(code))
            switch ZSTD_getErrorCode(code) {
            case ZSTD_error_memory_allocation, ZSTD_error_parameter_outOfBound,
                 ZSTD_error_parameter_unsupported:
                throw ZstdError.failed(name)
            default:
                throw ZstdError.corrupt(name)
            }
        }
    }
}
