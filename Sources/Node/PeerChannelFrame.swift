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
        let crc = checksum(from: from.rawValue, payload: payload)
        buffer.reserveCapacity(minimumWritableBytes: headerBytes + payload.count)
        buffer.writeInteger(UInt32(payload.count))
        buffer.writeInteger(crc)
        buffer.writeInteger(from.rawValue)
        buffer.writeBytes(payload)
        return true
    }

    /// CRC32C of the sender id (big-endian) followed by the payload; the id's bytes are
    /// built on the stack (an array for them cost an allocation per frame, both ways).
    static func checksum(from: UInt32, payload: UnsafeRawBufferPointer) -> UInt32 {
        var id = from.bigEndian
        let crc = withUnsafeBytes(of: &id) { CRC32C.checksum($0) }
        return CRC32C.checksum(payload, continuing: crc)
    }

    static func checksum(from: UInt32, payload: [UInt8]) -> UInt32 {
        payload.withUnsafeBytes { checksum(from: from, payload: $0) }
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
        guard PeerFrame.checksum(from: from, payload: payload) == crc else { throw PeerFrameError.checksumMismatch }
        context.fireChannelRead(NIOAny(PeerFrame(from: NodeID(from), payload: payload)))
        return .continue
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer,
                             seenEOF: Bool) throws -> DecodingState {
        try decode(context: context, buffer: &buffer)
    }
}
