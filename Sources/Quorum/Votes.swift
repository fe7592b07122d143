import Basics

/// A number of votes: a node's `quorum_votes`, expected votes, a total, a quorum.
/// A distinct type so a vote count is never mixed up with a node count (STYLE.md).
///
/// Addition saturates at `UInt32.max` instead of trapping: votes arrive in NODEINFO messages
/// from other nodes and a sum of hostile values must not crash the node. A configuration can
/// never reach the ceiling (`VoterConfiguration` refuses totals above it), so saturation only
/// ever affects garbage input.
public struct Votes: Hashable, Comparable, Sendable, ExpressibleByIntegerLiteral,
    CustomStringConvertible
{
    public var rawValue: UInt32
    public init(_ rawValue: UInt32) { self.rawValue = rawValue }
    public init(integerLiteral value: UInt32) { self.rawValue = value }

    public static let zero = Votes(0)

    public static func < (a: Votes, b: Votes) -> Bool { a.rawValue < b.rawValue }

    /// Saturating sum (see the type's comment).
    public static func + (a: Votes, b: Votes) -> Votes {
        let (sum, overflow) = a.rawValue.addingReportingOverflow(b.rawValue)
        return Votes(overflow ? .max : sum)
    }

    public static func += (a: inout Votes, b: Votes) { a = a + b }

    /// The smallest strict majority of `self` votes: floor(self / 2) + 1. corosync writes it
    /// `(x + 2) / 2` (the OpenVMS formula); both are the same for every x.
    public var majority: Votes { Votes(rawValue / 2 + 1) }

    /// floor(self / 2): an exact half when `self` is even (auto_tie_breaker's test).
    public var half: Votes { Votes(rawValue / 2) }

    public var description: String { String(rawValue) }
}

extension Votes {
    /// A node count used as expected votes: corosync's last_man_standing and allow_downscale
    /// set expected votes to the number of members (they require one vote per node).
    init(count: Int) {
        precondition(count >= 0, "negative node count \(count)")
        self.init(UInt32(clamping: count))
    }
}
