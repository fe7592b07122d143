/// FNV-1a over the run's events and outputs. Swift's `Hasher` is seeded per process, so a
/// trace hash must not use it.
public struct TraceHash: Hashable, Sendable, CustomStringConvertible {
    public private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325

    public init() {}

    public mutating func mix(_ word: UInt64) {
        var w = word
        for _ in 0..<8 {
            value ^= w & 0xFF
            value = value &* 0x0000_0100_0000_01B3
            w >>= 8
        }
    }

    public var description: String { String(value, radix: 16) }
}
