import Basics
import Totem

/// One life of a node: a crash ends it, a restart begins the next.
public struct NodeIncarnation: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var node: NodeID
    public var incarnation: UInt32
    public init(node: NodeID, incarnation: UInt32) {
        self.node = node
        self.incarnation = incarnation
    }
    public static func < (a: NodeIncarnation, b: NodeIncarnation) -> Bool {
        (a.node.rawValue, a.incarnation) < (b.node.rawValue, b.incarnation)
    }
    public var description: String { "n\(node)#\(incarnation)" }
}

/// What a node's upper layer saw, in order.
public enum TotemRecordEntry: Hashable, Sendable {
    case delivered(ringID: RingID, seq: UInt64, originator: NodeID, payloadID: UInt64, isIntact: Bool)
    case configuration(ConfigurationChange)
}

public struct TotemRecord: Hashable, Sendable {
    public var time: Instant
    public var entry: TotemRecordEntry
}

/// A payload the workload submitted.
public struct Submission: Hashable, Sendable {
    public var id: UInt64
    public var by: NodeIncarnation
    public var time: Instant
    public var byteCount: Int
    /// Larger than one frame: it may be cut by a configuration change.
    public var isFragmented: Bool
    public var wasRefused: Bool
}

/// A checker's finding.
public struct Violation: Hashable, Sendable, CustomStringConvertible {
    public var rule: String
    public var node: NodeIncarnation?
    public var time: Instant?
    public var detail: String
    public init(rule: String, node: NodeIncarnation? = nil, time: Instant? = nil, detail: String) {
        self.rule = rule
        self.node = node
        self.time = time
        self.detail = detail
    }
    public var description: String {
        "[\(rule)] \(node.map { "\($0) " } ?? "")\(time.map { "at \($0) " } ?? "")\(detail)"
    }
}

/// Workload payloads: 8 bytes of id, 4 bytes of length, then bytes derived from the id, so
/// that a checker can tell a corrupted or mis-reassembled payload.
public enum WorkloadPayload {
    public static func make(id: UInt64, byteCount: Int) -> [UInt8] {
        let n = max(12, byteCount)
        var bytes = [UInt8](repeating: 0, count: n)
        for i in 0..<8 { bytes[i] = UInt8(truncatingIfNeeded: id >> (8 * UInt64(i))) }
        for i in 0..<4 { bytes[8 + i] = UInt8(truncatingIfNeeded: UInt64(n) >> (8 * UInt64(i))) }
        for i in 12..<n { bytes[i] = UInt8(truncatingIfNeeded: id &+ UInt64(i)) }
        return bytes
    }

    /// The id, and whether the bytes are exactly what `make` produced for it.
    public static func parse(_ bytes: [UInt8]) -> (id: UInt64, isIntact: Bool)? {
        guard bytes.count >= 12 else { return nil }
        var id: UInt64 = 0
        for i in 0..<8 { id |= UInt64(bytes[i]) << (8 * UInt64(i)) }
        var length: UInt64 = 0
        for i in 0..<4 { length |= UInt64(bytes[8 + i]) << (8 * UInt64(i)) }
        var intact = length == UInt64(bytes.count)
        if intact {
            for i in 12..<bytes.count where bytes[i] != UInt8(truncatingIfNeeded: id &+ UInt64(i)) {
                intact = false
                break
            }
        }
        return (id, intact)
    }
}
