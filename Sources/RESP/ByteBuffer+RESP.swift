import NIOCore

/// Fast paths for writing replies straight into an outbound buffer, with no intermediate
/// `RESPValue`. Each writes one complete RESP2 value (or, for `writeRESPArrayHeader`, the
/// header that the caller follows with `count` values).
extension ByteBuffer {
    /// `+OK\r\n`
    public mutating func writeRESPOK() {
        writeStaticString("+OK\r\n")
    }

    /// `+<text>\r\n`. CR and LF in `text` become spaces, so the value cannot break framing.
    public mutating func writeRESPSimpleString(_ text: String) {
        writeInteger(UInt8(ascii: "+"))
        writeRESPLine(text)
    }

    /// `-<message>\r\n`, where the message starts with an error code (`ERR`, `WRONGTYPE`,
    /// `NOQUORUM`…). CR and LF become spaces, as Redis does.
    public mutating func writeRESPError(_ message: String) {
        writeInteger(UInt8(ascii: "-"))
        writeRESPLine(message)
    }

    /// `:<n>\r\n`
    public mutating func writeRESPInteger(_ value: Int64) {
        writeInteger(UInt8(ascii: ":"))
        writeRESPDecimal(value)
        writeRESPCRLF()
    }

    /// `$<length>\r\n<bytes>\r\n`
    public mutating func writeRESPBulkString(_ bytes: ByteBuffer) {
        writeInteger(UInt8(ascii: "$"))
        writeRESPDecimal(Int64(bytes.readableBytes))
        writeRESPCRLF()
        writeImmutableBuffer(bytes)
        writeRESPCRLF()
    }

    /// `$<length>\r\n<bytes>\r\n`
    public mutating func writeRESPBulkString(_ bytes: some Collection<UInt8>) {
        writeInteger(UInt8(ascii: "$"))
        writeRESPDecimal(Int64(bytes.count))
        writeRESPCRLF()
        writeBytes(bytes)
        writeRESPCRLF()
    }

    /// `$<length>\r\n<UTF-8 of text>\r\n`
    public mutating func writeRESPBulkString(_ text: String) {
        writeInteger(UInt8(ascii: "$"))
        writeRESPDecimal(Int64(text.utf8.count))
        writeRESPCRLF()
        writeString(text)
        writeRESPCRLF()
    }

    /// `$-1\r\n`, the null bulk string (`GET` of a missing key).
    public mutating func writeRESPNullBulkString() {
        writeStaticString("$-1\r\n")
    }

    /// `*-1\r\n`, the null array.
    public mutating func writeRESPNullArray() {
        writeStaticString("*-1\r\n")
    }

    /// `*<count>\r\n`; the caller then writes `count` values.
    public mutating func writeRESPArrayHeader(count: Int) {
        writeInteger(UInt8(ascii: "*"))
        writeRESPDecimal(Int64(count))
        writeRESPCRLF()
    }

    @inline(__always)
    mutating func writeRESPCRLF() {
        writeInteger(UInt16(0x0d0a), endianness: .big)
    }

    /// The text, with CR and LF replaced by spaces, then CRLF.
    private mutating func writeRESPLine(_ text: String) {
        if text.utf8.contains(where: { $0 == RESP.cr || $0 == RESP.lf }) {
            writeBytes(text.utf8.lazy.map { $0 == RESP.cr || $0 == RESP.lf ? UInt8(ascii: " ") : $0 })
        } else {
            writeString(text)
        }
        writeRESPCRLF()
    }

    /// The decimal digits of `value`, written in place without a String.
    mutating func writeRESPDecimal(_ value: Int64) {
        var magnitude = value.magnitude
        var digits = 1
        var probe = magnitude
        while probe >= 10 {
            probe /= 10
            digits &+= 1
        }
        let length = digits &+ (value < 0 ? 1 : 0)
        writeWithUnsafeMutableBytes(minimumWritableBytes: length) { out in
            var index = length &- 1
            repeat {
                out[index] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: magnitude % 10)
                magnitude /= 10
                index &-= 1
            } while magnitude > 0
            if value < 0 { out[0] = UInt8(ascii: "-") }
            return length
        }
    }
}
