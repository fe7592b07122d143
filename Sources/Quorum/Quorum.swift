import Basics

/// votequorum, as a pure deterministic core (DESIGN.md sections 4 rule 8 and 7;
/// reference/totem-notes.md section 7; corosync `exec/votequorum.c`, `man/votequorum.5`).
///
/// Two questions are answered here, and they are kept apart on purpose:
/// - *Is the store allowed to commit?* `VoterConfiguration.isMajority(of:)`: members holding a
///   strict majority of the configured votes. No flag ever relaxes it, and a change of the
///   voter configuration is accepted only when every old majority meets every new majority
///   (`VoterConfiguration+Change.swift`).
/// - *What would corosync's votequorum report?* `VoteQuorumState`: the per-node table fed by
///   NODEINFO messages, `calculate_quorum` / `recalculate_quorum` / `are_we_quorate` and the
///   flags (`two_node`, `wait_for_all`, `last_man_standing`, `auto_tie_breaker`,
///   `allow_downscale`), driven by events the replication layer delivers in Totem order.
///
/// Deviations from corosync, each for a reason:
/// - no quorum device (qdevice) and no `expected_votes_tracking` file: the durable voter
///   configuration replaces the `ev_tracking` barrier;
/// - a node that is not in the voter configuration has 0 votes (corosync would give it
///   `quorum.votes`, default 1): a vote the store does not count must not count here either;
/// - NODEINFO about a node outside the current ring, or sent by a different node, is ignored
///   (corosync would mark such a node a member);
/// - notifications are pushed whenever their content changes, not only when the quorate bit
///   flips (issue 9: "a push on every change of quorate state, members or votes");
/// - setvotes is durable (it changes the voter configuration), so when it changes the
///   configured expected votes every member's expected votes follow, as after setexpected.
///
/// docs/quorum.md explains the flags and why the store's rule differs from the service's.
public enum VoteQuorum {
    /// At most this many nodes in a voter configuration or in the node table
    /// (corosync's PROCESSOR_COUNT_MAX).
    public static let nodesMax = 384

    /// corosync's default `last_man_standing_window`.
    public static let lastManStandingWindowDefault: Milliseconds = 10_000
}
