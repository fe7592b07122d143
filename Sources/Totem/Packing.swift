import Basics

/// Packing and fragmentation, the job of corosync's `totempg.c`.
///
/// The upper layer submits payloads of any size up to `payloadBytesMax`. The ring carries
/// *frames*: the application body of one Mcast, at most `frameBytesMax` bytes so that a
/// Mcast fits one datagram of `netmtu` bytes. A frame is a sequence of records:
///
///     record = kind u8 | length u32 little-endian | bytes[length]
///     kind   = 0 whole payload | 1 first fragment | 2 middle fragment | 3 last fragment
///
/// Small payloads are packed: a payload is appended to the newest queued frame while it
/// fits, so many writes share one broadcast. A payload that cannot fit a frame of its own is
/// split into fragments, one frame each; fragment frames are never shared, which lets a
/// configuration change cut a fragmented payload cleanly (below).
///
/// Reassembly is per originator: an originator's frames are delivered in the order it sent
/// them, whatever other originators interleave.
///
/// Configuration changes: a fragmented payload is delivered only if all of its fragments are
/// delivered in the same configuration. When the regular configuration is delivered every
/// receiver drops its incomplete reassemblies (as corosync does), and the sender drops the
/// fragments of a partly sent payload that are still queued; a fragment that arrives
/// without its first fragment is dropped and counted. So every member that moves through
/// the change sees the same outcome: the whole payload, or nothing.
public enum Packing {
    /// corosync's MESSAGE_SIZE_MAX (1 MiB) plus 8 KiB, so that one write of the store's
    /// largest value (1 MiB, with a key of at most 255 bytes and the message envelope) fits
    /// in one payload; at exactly 1 MiB such a write was refused.
    public static let payloadBytesMax = (1 << 20) + 8192
    /// Room left in a datagram for the Mcast header, the packet header and the checksum.
    public static let headerRoomBytes = 96
    /// The smallest frame allowed, whatever netmtu says.
    public static let frameBytesMin = 128
    static let recordHeaderBytes = 5

    public static func frameBytesMax(netmtu: UInt32) -> Int {
        max(frameBytesMin, Int(netmtu) - headerRoomBytes)
    }

    enum RecordKind: UInt8 {
        case whole = 0, first = 1, middle = 2, last = 3
    }
}

/// One frame waiting for the token.
struct QueuedFrame: Sendable {
    var bytes: [UInt8]
    /// The frame is a middle or last fragment: dropped at a configuration change because
    /// the payload's start went out on the old ring.
    var isContinuation: Bool
    /// Only whole payloads may be appended.
    var acceptsMore: Bool
}

/// The send side: packs and fragments submitted payloads into frames.
struct Packer: Sendable {
    let frameBytesMax: Int
    /// Bounds the send queue (corosync's MESSAGE_QUEUE_MAX: 4 MiB / netmtu entries).
    let framesMax: Int
    private(set) var frames: [QueuedFrame] = []
    private var head = 0

    init(frameBytesMax: Int, framesMax: Int) {
        precondition(frameBytesMax > Packing.recordHeaderBytes * 2, "frame too small: \(frameBytesMax)")
        self.frameBytesMax = frameBytesMax
        // Room for one largest payload and a few small ones, whatever netmtu gives.
        self.framesMax = max(framesMax, (Packing.payloadBytesMax / (frameBytesMax - Packing.recordHeaderBytes)) + 8)
    }

    var count: Int { frames.count - head }
    var isEmpty: Bool { head == frames.count }

    /// Frames needed for `payloadBytes`, if it does not join the newest frame.
    private func framesNeeded(_ payloadBytes: Int) -> Int {
        let room = frameBytesMax - Packing.recordHeaderBytes
        return payloadBytes <= room ? 1 : (payloadBytes + room - 1) / room
    }

    /// `submit` of a payload of `payloadBytes` would not be refused as `.queueFull`. True
    /// for any smaller payload too (a shell reserves room with an upper bound).
    func hasRoom(payloadBytes: Int) -> Bool {
        joinsNewestFrame(payloadBytes) || count + framesNeeded(payloadBytes) <= framesMax
    }

    private func joinsNewestFrame(_ payloadBytes: Int) -> Bool {
        count > 0 && frames[frames.count - 1].acceptsMore
            && frames[frames.count - 1].bytes.count + Packing.recordHeaderBytes + payloadBytes <= frameBytesMax
    }

    mutating func submit(_ payload: [UInt8]) -> SubmitRefusal? {
        guard payload.count <= Packing.payloadBytesMax else { return .tooLarge }
        let recordBytes = Packing.recordHeaderBytes + payload.count
        if joinsNewestFrame(payload.count) {
            Packer.appendRecord(.whole, payload[...], to: &frames[frames.count - 1].bytes)
            return nil
        }
        guard count + framesNeeded(payload.count) <= framesMax else { return .queueFull }
        compactIfNeeded()
        if recordBytes <= frameBytesMax {
            var bytes: [UInt8] = []
            bytes.reserveCapacity(frameBytesMax)
            Packer.appendRecord(.whole, payload[...], to: &bytes)
            frames.append(QueuedFrame(bytes: bytes, isContinuation: false, acceptsMore: true))
            return nil
        }
        let room = frameBytesMax - Packing.recordHeaderBytes
        var offset = 0
        while offset < payload.count {
            let end = min(payload.count, offset + room)
            let kind: Packing.RecordKind = offset == 0 ? .first : (end == payload.count ? .last : .middle)
            var bytes: [UInt8] = []
            bytes.reserveCapacity(end - offset + Packing.recordHeaderBytes)
            Packer.appendRecord(kind, payload[offset..<end], to: &bytes)
            frames.append(QueuedFrame(bytes: bytes, isContinuation: offset != 0, acceptsMore: false))
            offset = end
        }
        return nil
    }

    mutating func popFirst() -> [UInt8]? {
        guard head < frames.count else { return nil }
        let bytes = frames[head].bytes
        frames[head].bytes = []
        head += 1
        if head == frames.count { frames.removeAll(keepingCapacity: true); head = 0 }
        return bytes
    }

    /// Drops the queued rest of a payload whose first fragments were already sent.
    /// Returns how many frames were dropped.
    mutating func dropLeadingContinuations() -> Int {
        var dropped = 0
        while head < frames.count, frames[head].isContinuation {
            frames[head].bytes = []
            head += 1
            dropped += 1
        }
        if head == frames.count { frames.removeAll(keepingCapacity: true); head = 0 }
        return dropped
    }

    private mutating func compactIfNeeded() {
        if head > 1024 && head * 2 > frames.count {
            frames.removeFirst(head)
            head = 0
        }
    }

    static func appendRecord(_ kind: Packing.RecordKind, _ bytes: ArraySlice<UInt8>, to frame: inout [UInt8]) {
        let n = UInt32(bytes.count)
        frame.append(kind.rawValue)
        frame.append(UInt8(truncatingIfNeeded: n))
        frame.append(UInt8(truncatingIfNeeded: n >> 8))
        frame.append(UInt8(truncatingIfNeeded: n >> 16))
        frame.append(UInt8(truncatingIfNeeded: n >> 24))
        frame.append(contentsOf: bytes)
    }
}

/// The receive side: unpacks frames and reassembles fragments per originator.
struct Reassembler: Sendable {
    enum Problem: Hashable, Sendable {
        /// A record header or length runs past the frame.
        case malformedFrame
        /// A middle or last fragment without a first one (its start was on another
        /// configuration, or was lost with a departed member).
        case orphanFragment
        /// A first fragment while another payload of the same originator was incomplete.
        case interruptedPayload
        /// Reassembly would exceed `Packing.payloadBytesMax`.
        case oversizedPayload
    }

    private var partial: [NodeID: [UInt8]] = [:]

    var incompleteCount: Int { partial.count }

    /// Calls `deliver` for every complete payload of `frame`, in frame order, and `problem`
    /// for everything dropped. A whole payload is a slice of `frame` (no copy); a reassembled
    /// one is a slice of its own buffer.
    mutating func unpack(_ frame: [UInt8], from originator: NodeID,
                         deliver: (ArraySlice<UInt8>) -> Void, problem: (Problem) -> Void) {
        var offset = 0
        let n = frame.count
        while offset < n {
            guard n - offset >= Packing.recordHeaderBytes,
                  let kind = Packing.RecordKind(rawValue: frame[offset]) else {
                problem(.malformedFrame)
                return
            }
            let length = Int(frame[offset + 1]) | Int(frame[offset + 2]) << 8
                | Int(frame[offset + 3]) << 16 | Int(frame[offset + 4]) << 24
            let start = offset + Packing.recordHeaderBytes
            guard length <= n - start else {
                problem(.malformedFrame)
                return
            }
            let bytes = frame[start..<(start + length)]
            offset = start + length
            switch kind {
            case .whole:
                deliver(bytes)
            case .first:
                if partial[originator] != nil { problem(.interruptedPayload) }
                partial[originator] = Array(bytes)
            case .middle, .last:
                guard var buffer = partial.removeValue(forKey: originator) else {
                    problem(.orphanFragment)
                    continue
                }
                guard buffer.count + bytes.count <= Packing.payloadBytesMax else {
                    problem(.oversizedPayload)
                    continue
                }
                buffer.append(contentsOf: bytes)
                if kind == .last { deliver(buffer[...]) } else { partial[originator] = buffer }
            }
        }
    }

    /// Drops every incomplete payload (at a configuration change); returns how many.
    mutating func dropIncomplete() -> Int {
        let n = partial.count
        partial.removeAll()
        return n
    }
}
