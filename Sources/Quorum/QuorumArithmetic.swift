/// corosync's quorum formula as a pure function (`calculate_quorum`, minus the node table):
///
///     quorum = max(floor(highestExpected / 2) + 1, floor(totalVotes / 2) + 1)
///     unless decrease is allowed: quorum = max(previousQuorum, quorum)
///     two_node with at most 2 members: quorum = 1
///
/// The first term is the classic majority of expected votes; the second keeps a partition
/// that has seen more votes than it expected from being satisfied with too few; the third
/// makes quorum a ratchet that only an administrator (setexpected/setvotes),
/// last_man_standing or allow_downscale may lower. two_node relies on fencing to break the
/// tie, so it is a service decision the store never follows.
public enum QuorumArithmetic {
    public static func quorum(
        highestExpected: Votes, totalVotes: Votes, memberCount: Int, previousQuorum: Votes,
        allowDecrease: Bool, twoNode: Bool
    ) -> Votes {
        var quorum = max(highestExpected.majority, totalVotes.majority)
        if !allowDecrease { quorum = max(previousQuorum, quorum) }
        if twoNode && memberCount <= 2 { quorum = 1 }
        return quorum
    }
}
