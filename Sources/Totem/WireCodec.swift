import Basics

/// The binary wire format of `TotemPacket` (docs/wire-format.md describes it byte by byte).
///
/// TotemKV's own format, not corosync's: a fixed 20-byte header (magic, format version,
/// message type, redundant ring number, flags, sender, body length, CRC32C) and a body per
/// message type. Integers are fixed-width little-endian; every list has a count bounded by a
/// named limit; a recovered mcast nests exactly one old-ring mcast.
///
/// `encode` takes trusted values and traps on one that `decode` would reject (a programmer
/// error: a list over its limit, NodeID 0, nested recovery). `decode` takes untrusted bytes
/// and never traps: every defect is a `WireRejection`.
///
/// The hot path is mcast and token encode/decode: the encoder computes the exact size first
/// and writes into one buffer; the decoder reads in place and allocates only the lists and
/// payload it returns.
public enum WireCodec {
    /// "TK" in ASCII, little-endian on the wire (bytes 0x54 0x4B).
    public static let magic: UInt16 = 0x4B54
    /// Bumped on any incompatible change of the layout.
    public static let formatVersion: UInt8 = 1
    public static let headerBytes = 20
    /// Largest packet accepted: a 1 MiB payload plus headroom for the headers of the packing
    /// layer and of a recovered mcast. The packing layer keeps its packets at `netmtu`; the
    /// codec accepts up to this so that the limit lives in one place.
    public static let packetBytesMax = 1_048_576 + 4_096
    /// corosync's PROCESSOR_COUNT_MAX: members of a commit token, entries of a join's sets.
    public static let membersMax = 384
    /// corosync's RETRANSMIT_ENTRIES_MAX.
    public static let retransmitRequestsMax = OrderingToken.retransmitRequestsMax

    /// The message type byte. Values follow corosync's numbering where a type exists there.
    public enum MessageType: UInt8, Hashable, Sendable, CaseIterable {
        case token = 0
        case mcast = 1
        case mergeDetect = 2
        case join = 3
        case commitToken = 4
        case tokenHoldCancel = 5
        case ringTest = 6

        init(_ message: TotemMessage) {
            switch message {
            case .token: self = .token
            case .mcast: self = .mcast
            case .mergeDetect: self = .mergeDetect
            case .join: self = .join
            case .commitToken: self = .commitToken
            case .tokenHoldCancel: self = .tokenHoldCancel
            case .ringTest: self = .ringTest
            }
        }

        /// The flag bits this type defines; any other bit set is `.unknownFlags`.
        var definedFlags: UInt8 {
            switch self {
            case .token: Flags.isRetransmitting
            case .mcast: Flags.isRecovered
            case .join: Flags.isLeave
            case .mergeDetect, .commitToken, .tokenHoldCancel, .ringTest: 0
            }
        }
    }

    /// Header flag bits, meaning per message type.
    enum Flags {
        static let isRetransmitting: UInt8 = 0x01  // token
        static let isRecovered: UInt8 = 0x01  // mcast, and the inner flags of a recovered one
        static let isLeave: UInt8 = 0x01  // join
        static let hasReceivedAll: UInt8 = 0x01  // commit member info
    }

    enum Offset {
        static let magic = 0
        static let version = 2
        static let type = 3
        static let ringNumber = 4
        static let flags = 5
        static let reserved = 6
        static let sender = 8
        static let bodyLength = 12
        static let checksum = 16
    }

    static let ringIDBytes = 12
    static let tokenFixedBytes = ringIDBytes + 8 + 8 + 8 + 4 + 4 + 4 + 2
    static let retransmitRequestBytes = ringIDBytes + 8
    static let mcastFixedBytes = ringIDBytes + 4 + 8
    static let joinFixedBytes = 8 + 2 + 2
    static let commitFixedBytes = ringIDBytes + 8 + 4 + 2 + 2
    static let memberInfoBytes = ringIDBytes + 8 + 8 + 1
    static let ringTestBytes = 1 + 1 + 4

    // MARK: Encoding

    /// The packet as it goes on ring `ringNumber`. Traps if `validate(packet)` finds a defect.
    public static func encode(_ packet: TotemPacket, ringNumber: UInt8) -> [UInt8] {
        let total = encodedByteCount(packet)
        return [UInt8](unsafeUninitializedCapacity: total) { buffer, initialized in
            encode(packet, ringNumber: ringNumber, into: UnsafeMutableRawBufferPointer(buffer))
            initialized = total
        }
    }

    /// The size of `packet` encoded (what `encode(_:ringNumber:into:)` needs).
    public static func encodedByteCount(_ packet: TotemPacket) -> Int {
        headerBytes + bodyByteCount(packet.message)
    }

    /// Encodes `packet` into the first `encodedByteCount(packet)` bytes of `raw` (a send
    /// buffer, so the datagram is not built in an array and then copied); the same bytes as
    /// `encode(_:ringNumber:)`.
    public static func encode(_ packet: TotemPacket, ringNumber: UInt8, into raw: UnsafeMutableRawBufferPointer) {
        if let defect = validate(packet) {
            preconditionFailure("WireCodec.encode: packet would be rejected (\(defect)): \(packet)")
        }
        let bodyBytes = bodyByteCount(packet.message)
        let total = headerBytes + bodyBytes
        precondition(total <= packetBytesMax,
                     "WireCodec.encode: \(total) bytes exceeds packetBytesMax \(packetBytesMax)")
        precondition(raw.count >= total, "WireCodec.encode: \(raw.count) bytes of room for \(total)")
        let type = MessageType(packet.message)
        var w = WireWriter(raw)
        w.u16(magic)
        w.u8(formatVersion)
        w.u8(type.rawValue)
        w.u8(ringNumber)
        w.u8(flags(of: packet.message))
        w.u16(0)
        w.node(packet.sender)
        w.u32(UInt32(bodyBytes))
        w.u32(0)  // checksum, filled below
        writeBody(packet.message, into: &w)
        precondition(w.offset == total, "WireCodec.encode: wrote \(w.offset) of \(total) bytes")
        let crc = checksum(UnsafeRawBufferPointer(rebasing: raw[0..<total]))
        raw.storeBytes(of: crc.littleEndian, toByteOffset: Offset.checksum, as: UInt32.self)
    }

    static func checksum(_ packet: UnsafeRawBufferPointer) -> UInt32 {
        let head = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: packet[0..<Offset.checksum]))
        return CRC32C.checksum(UnsafeRawBufferPointer(rebasing: packet[headerBytes...]), continuing: head)
    }

    static func flags(of message: TotemMessage) -> UInt8 {
        switch message {
        case .token(let t): t.isRetransmitting ? Flags.isRetransmitting : 0
        case .mcast(let m): isRecovered(m) ? Flags.isRecovered : 0
        case .join(let j): j.isLeave ? Flags.isLeave : 0
        case .mergeDetect, .commitToken, .tokenHoldCancel, .ringTest: 0
        }
    }

    static func bodyByteCount(_ message: TotemMessage) -> Int {
        switch message {
        case .token(let t):
            return tokenFixedBytes + t.retransmitRequests.count * retransmitRequestBytes
        case .mcast(let m):
            switch m.body {
            case .application(let payload):
                return mcastFixedBytes + payload.count
            case .recovered(let inner):
                guard case .application(let payload) = inner.body else { return 0 }  // validated
                return mcastFixedBytes + 1 + mcastFixedBytes + payload.count
            }
        case .join(let j):
            return joinFixedBytes + 4 * (j.procSet.count + j.failedSet.count)
        case .commitToken(let c):
            let infoBytes = c.memberInfo.reduce(0) { $0 + ($1 == nil ? 1 : 1 + memberInfoBytes) }
            return commitFixedBytes + 4 * c.members.count + infoBytes
        case .mergeDetect, .tokenHoldCancel:
            return ringIDBytes
        case .ringTest:
            return ringTestBytes
        }
    }

    static func writeBody(_ message: TotemMessage, into w: inout WireWriter) {
        switch message {
        case .token(let t):
            w.ringID(t.ringID)
            w.u64(t.tokenSeq)
            w.u64(t.seq)
            w.u64(t.aru)
            w.u32(t.aruAddress?.rawValue ?? 0)
            w.u32(t.fcc)
            w.u32(t.backlog)
            w.u16(UInt16(t.retransmitRequests.count))
            for request in t.retransmitRequests {
                w.ringID(request.ringID)
                w.u64(request.seq)
            }
        case .mcast(let m):
            writeMcastFixed(m, into: &w)
            switch m.body {
            case .application(let payload):
                w.bytes(payload)
            case .recovered(let inner):
                w.u8(0)  // inner flags: an application mcast (validated)
                writeMcastFixed(inner, into: &w)
                if case .application(let payload) = inner.body { w.bytes(payload) }
            }
        case .join(let j):
            w.u64(j.ringSeq)
            w.u16(UInt16(j.procSet.count))
            w.u16(UInt16(j.failedSet.count))
            for node in j.procSet { w.node(node) }
            for node in j.failedSet { w.node(node) }
        case .commitToken(let c):
            w.ringID(c.ringID)
            w.u64(c.tokenSeq)
            w.u32(c.memberIndex)
            w.u16(UInt16(c.members.count))
            w.u16(UInt16(c.memberInfo.count))
            for node in c.members { w.node(node) }
            for info in c.memberInfo {
                guard let info else { w.u8(0); continue }
                w.u8(1)
                w.ringID(info.oldRingID)
                w.u64(info.aru)
                w.u64(info.highDelivered)
                w.u8(info.hasReceivedAll ? Flags.hasReceivedAll : 0)
            }
        case .mergeDetect(let m):
            w.ringID(m.ringID)
        case .tokenHoldCancel(let t):
            w.ringID(t.ringID)
        case .ringTest(let r):
            w.u8(r.kind.rawValue)
            w.u8(r.ringNumber)
            w.node(r.activator)
        }
    }

    static func isRecovered(_ m: Mcast) -> Bool {
        if case .recovered = m.body { return true }
        return false
    }

    private static func writeMcastFixed(_ m: Mcast, into w: inout WireWriter) {
        w.ringID(m.ringID)
        w.node(m.originator)
        w.u64(m.seq)
    }
}
