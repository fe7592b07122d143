import Basics
import Foundation

/// Decides whether a node hands its gathered CPG deliveries to their members at once, right
/// after the step that delivered them, rather than at the end of the loop turn.
///
/// Why: the end-of-turn hand-over batches what one read of up to 16 datagrams delivered into
/// one write per member, which a flood needs. But at a low rate the message and the token
/// usually arrive in the same read (the sender broadcasts both in one `sendmmsg`), so the
/// member's push waited for the token's step and its forwarding `sendmmsg` (a wake-up of the
/// next node, ~60 µs on the bench VM: Bench/results/cpg-2026-11-26f.md). When no token has
/// reached this node for `quietNanoseconds`, the ring was idle (or held the token): there is
/// no flood to batch, and pushing first costs the token one socket write.
///
/// A shell-side ordering choice, not a protocol change: Totem sees the same events in the
/// same order; only when the runtime writes the pushes moves. Value type owned by the
/// runtime's loop; time is passed in.
struct ProcessGroupQuietRing: Equatable, Sendable {
    /// A flood rotates the token in well under 1 ms; after a message at 100 msgs/s the ring
    /// rotates ~30 times (`seqno_unchanged_const`) and then holds for milliseconds.
    static let quietNanoseconds: UInt64 = 1_000_000

    /// `TOTEMKV_CPG_QUIET_PUSH=0` keeps the end-of-turn hand-over always, for A/B runs.
    static let isEnabledByEnvironment = ProcessInfo.processInfo.environment["TOTEMKV_CPG_QUIET_PUSH"] != "0"

    var isEnabled: Bool
    /// When the last token reached this node; nil before the first.
    private(set) var lastTokenArrival: Instant?

    init(isEnabled: Bool = Self.isEnabledByEnvironment) {
        self.isEnabled = isEnabled
    }

    mutating func tokenArrived(at now: Instant) {
        lastTokenArrival = now
    }

    /// Whether deliveries made at `now` go to their members at once.
    func handsOverAtOnce(at now: Instant) -> Bool {
        guard isEnabled else { return false }
        guard let last = lastTokenArrival else { return true }
        // A clock that went backwards counts as busy: batching is always correct.
        guard now >= last else { return false }
        return now.nanoseconds &- last.nanoseconds >= Self.quietNanoseconds
    }
}
