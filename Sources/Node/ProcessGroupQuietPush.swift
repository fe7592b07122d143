import Basics
import Foundation

/// Decides whether a node hands its gathered CPG deliveries to their members at once, right
/// after the step that delivered them, rather than at the end of the loop turn.
///
/// Why: the end-of-turn hand-over batches what one read of up to 16 datagrams delivered into
/// one write per member, which a flood needs. But at a low rate a message and the token
/// usually arrive in the same read (the sender broadcasts both in one `sendmmsg`), so the
/// member's push waited for the token's step and its forwarding `sendmmsg`: 15-35 µs more
/// from delivery to push (p50) on each receiving node of the bench VM
/// (Bench/results/cpg-2026-11-26f.md).
///
/// When: the last hand-over was at least `quietNanoseconds` ago. Deliveries, not tokens,
/// are what is measured: a flood on a loaded machine can rotate the token slower than 1 ms
/// (at most 17 messages a visit; a 1 ms token gate cost 1 KiB floods half their throughput),
/// but it hands over at every read. So a flood batches
/// as before, and whatever the load, at most one hand-over per `quietNanoseconds` goes
/// early: one more socket write, not a change of the batching.
///
/// A shell-side ordering choice, not a protocol change: Totem sees the same events in the
/// same order, and each member gets its deliveries in order; only the moment the runtime
/// writes a push moves. A value type owned by the runtime's loop; time is passed in.
struct ProcessGroupQuietPush: Equatable, Sendable {
    /// At 100 msgs/s a node hands over every 10 ms; a flood far more often than every 4 ms.
    static let quietNanoseconds: UInt64 = 4_000_000

    /// `TOTEMKV_CPG_QUIET_PUSH=0` keeps the end-of-turn hand-over always, for A/B runs.
    static let isEnabledByEnvironment = ProcessInfo.processInfo.environment["TOTEMKV_CPG_QUIET_PUSH"] != "0"

    var isEnabled: Bool
    /// When deliveries were last handed over; nil before the first.
    private(set) var lastHandOver: Instant?

    init(isEnabled: Bool = Self.isEnabledByEnvironment) {
        self.isEnabled = isEnabled
    }

    mutating func handedOver(at now: Instant) {
        lastHandOver = now
    }

    /// Whether deliveries gathered at `now` go to their members at once.
    func handsOverAtOnce(at now: Instant) -> Bool {
        guard isEnabled else { return false }
        guard let last = lastHandOver else { return true }
        // A clock behind the last hand-over counts as busy: batching is always correct.
        guard now >= last else { return false }
        return now.nanoseconds &- last.nanoseconds >= Self.quietNanoseconds
    }
}
