import Foundation
import NIOCore
import Synchronization

/// A debug timeline of the CPG delivery path, for latency work only: with
/// `TOTEMKV_CPG_TRACE=<prefix>` in the environment each node process appends records
/// (`UInt64` time on the `NIODeadline`/`DispatchTime` clock, point, detail: 24 bytes,
/// little-endian) to `<prefix>.<pid>`, in batches, so that tracing adds a few hundred ns per
/// point rather than a syscall (the last partial batch is not written). Off (one load and a
/// branch per point) otherwise.
/// Bench/results/cpg-2026-11-26d.md reads these files (Bench/cpgtrace.py).
final class CPGTrace: Sendable {
    enum Point: UInt64 {
        /// detail: this node's id (written once, when a member joins).
        case nodeID = 0
        /// A CPG.MCAST admitted on this node's loop; detail: the bench's send stamp.
        case mcastAdmitted = 1
        /// That multicast's drain (Totem step, UDP send) returned; detail: Totem's
        /// `heldTokenBroadcasts` (it grew: the message left on the held token).
        case mcastStepped = 2
        /// A flush at once returned (`sendmmsg` done): a token or other unicast, or a
        /// broadcast that waits for no token (hold cancel, join).
        case unicastFlushed = 3
        /// A Totem timer's loop task fired the core; detail: `TotemTimerKind.rawValue`.
        case totemTimerFired = 4
        /// A message delivered to a member of this node; detail: the bench's send stamp.
        case delivered = 5
        /// The gathered deliveries handed to the members' streams.
        case handedOver = 6
        /// A push task resumed with a batch; detail: its size.
        case pushResumed = 7
        /// The push written and flushed (the `write` returned).
        case pushWritten = 8
        /// A datagram passed the checks; detail: 1 token, 2 message, 3 other.
        case packetReceived = 9
        /// The deferred flush of broadcasts (end of the loop turn) ran.
        case broadcastsFlushed = 10
        /// A client connection's read began; detail: the bytes read.
        case clientRead = 11
        /// A flush at once is about to call the channels' `flush` (`sendmmsg`).
        case unicastFlushing = 12
    }

    static let shared: CPGTrace? = ProcessInfo.processInfo.environment["TOTEMKV_CPG_TRACE"].map {
        CPGTrace(path: "\($0).\(getpid())")
    }

    private static let batchRecords = 2048
    private let path: String
    private let buffer = Mutex<[UInt64]>([])

    private init(path: String) {
        self.path = path
        _ = FileManager.default.createFile(atPath: path, contents: nil)
    }

    func record(_ point: Point, _ detail: UInt64 = 0) {
        let time = NIODeadline.now().uptimeNanoseconds
        let full: [UInt64]? = buffer.withLock { words in
            words.append(time)
            words.append(point.rawValue)
            words.append(detail)
            guard words.count >= Self.batchRecords * 3 else { return nil }
            defer { words.removeAll(keepingCapacity: true) }
            return words
        }
        if let full { write(full) }
    }

    private func write(_ words: [UInt64]) {
        guard let handle = FileHandle(forWritingAtPath: path) else { return }
        defer { try? handle.close() }
        _ = try? handle.seekToEnd()
        let data = words.withUnsafeBytes { Data($0) }
        try? handle.write(contentsOf: data)
    }

    /// The bench's send stamp in a latency payload (`t<decimal ns>x...`), or 0.
    static func stamp<C: Collection>(_ bytes: C) -> UInt64 where C.Element == UInt8 {
        var index = bytes.startIndex
        guard index != bytes.endIndex, bytes[index] == UInt8(ascii: "t") else { return 0 }
        index = bytes.index(after: index)
        var value: UInt64 = 0
        var digits = 0
        while index != bytes.endIndex, digits < 20, bytes[index] >= 0x30, bytes[index] <= 0x39 {
            value = value &* 10 &+ UInt64(bytes[index] &- 0x30)
            digits += 1
            index = bytes.index(after: index)
        }
        return value
    }
}
