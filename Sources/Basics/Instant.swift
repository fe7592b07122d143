/// A point in (virtual or real) monotonic time, in nanoseconds. The cores never read a
/// clock: every event carries the instant it happened at (STYLE.md, "time comes from outside").
public struct Instant: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var nanoseconds: UInt64
    public init(nanoseconds: UInt64) { self.nanoseconds = nanoseconds }
    public static let zero = Instant(nanoseconds: 0)
    public static func milliseconds(_ ms: UInt64) -> Instant { Instant(nanoseconds: ms * 1_000_000) }
    public static func < (a: Instant, b: Instant) -> Bool { a.nanoseconds < b.nanoseconds }
    public static func + (a: Instant, ms: Milliseconds) -> Instant {
        Instant(nanoseconds: a.nanoseconds + UInt64(ms.rawValue) * 1_000_000)
    }
    /// Whole milliseconds from `earlier` to `self` (0 if `earlier` is later).
    public func milliseconds(since earlier: Instant) -> UInt64 {
        nanoseconds >= earlier.nanoseconds ? (nanoseconds - earlier.nanoseconds) / 1_000_000 : 0
    }
    public var description: String { "\(nanoseconds / 1_000_000)ms" }
}

/// A duration in milliseconds: the unit of every corosync timer option.
public struct Milliseconds: Hashable, Comparable, Sendable, CustomStringConvertible,
    ExpressibleByIntegerLiteral
{
    public var rawValue: UInt32
    public init(_ rawValue: UInt32) { self.rawValue = rawValue }
    public init(integerLiteral value: UInt32) { self.rawValue = value }
    public static func < (a: Milliseconds, b: Milliseconds) -> Bool { a.rawValue < b.rawValue }
    public var description: String { "\(rawValue) ms" }
}
