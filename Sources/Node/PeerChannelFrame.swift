import Basics
import NIOCore

/// One peer-channel frame: `length u32 | crc32c u32 | from u32 | payload`, big-endian.
/// `length` counts the payload only; the CRC covers the sender id and the payload, so a
/// frame torn or corrupted in a buggy proxy is refused instead of being decoded.
struct PeerFrame: Sendable {
    /// Entries messages carry up to a fetch batch (the runtime caps it well below this).
    static let payloadBytesMax = 16 << 20
    static let headerBytes = 12

    var from: NodeID
    var payload: [UInt8]

    /// Appends the frame; false (nothing written) when the payload is too large.
    static func write(_ payload: [UInt8], from: NodeID, into buffer: inout ByteBuffer) -> Bool {
        guard payload.count <= payloadBytesMax else { return false }
        var crc = CRC32C.checksum(bigEndianBytes(from.rawValue))
        crc = CRC32C.checksum(payload, continuing: crc)
        buffer.reserveCapacity(minimumWritableBytes: headerBytes + payload.count)
        buffer.writeInteger(UInt32(payload.count))
        buffer.writeInteger(crc)
        buffer.writeInteger(from.rawValue)
        buffer.writeBytes(payload)
        return true
    }

    static func bigEndianBytes(_ value: UInt32) -> [UInt8] {
        [UInt8(truncatingIfNeeded: value >> 24), UInt8(truncatingIfNeeded: value >> 16),
         UInt8(truncatingIfNeeded: value >> 8), UInt8(truncatingIfNeeded: value)]
    }
}

enum PeerFrameError: Error, Sendable {
    case tooLarge(Int)
    case checksumMismatch
}

/// Splits the TCP byte stream into frames; throws (and the connection is closed) on a frame
/// that is too large or fails its checksum.
struct PeerFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = PeerFrame

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return .needMoreData }
        guard length <= UInt32(PeerFrame.payloadBytesMax) else { throw PeerFrameError.tooLarge(Int(length)) }
        guard buffer.readableBytes >= PeerFrame.headerBytes + Int(length) else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: 4)
        guard let crc = buffer.readInteger(as: UInt32.self), let from = buffer.readInteger(as: UInt32.self),
              let payload = buffer.readBytes(length: Int(length)) else { return .needMoreData }
        var expected = CRC32C.checksum(PeerFrame.bigEndianBytes(from))
        expected = CRC32C.checksum(payload, continuing: expected)
        guard expected == crc else { throw PeerFrameError.checksumMismatch }
        context.fireChannelRead(NIOAny(PeerFrame(from: NodeID(from), payload: payload)))
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer,
                             seenEOF: Bool) throws -> DecodingState {
        try decode(context: context, buffer: &buffer)
    }
}
