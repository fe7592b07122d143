/// Counters of one instance (corosync's `stats.srp.*`), for status output and tests.
/// Every "dropped" counter is a packet or record the instance refused without acting on it.
public struct TotemStats: Hashable, Sendable {
    public var tokensReceived: UInt64 = 0
    public var tokensForwarded: UInt64 = 0
    public var tokensDroppedStale: UInt64 = 0
    public var tokensDroppedForeign: UInt64 = 0
    public var tokensDroppedDiscarding: UInt64 = 0
    public var tokenRetransmits: UInt64 = 0
    public var mcastsSent: UInt64 = 0
    public var mcastsRetransmitted: UInt64 = 0
    public var mcastsReceived: UInt64 = 0
    public var mcastsDroppedDuplicate: UInt64 = 0
    public var mcastsDroppedForeign: UInt64 = 0
    public var mcastsDroppedOutOfWindow: UInt64 = 0
    public var retransmitRequestsAdded: UInt64 = 0
    public var joinsSent: UInt64 = 0
    public var joinsReceived: UInt64 = 0
    public var joinsIgnored: UInt64 = 0
    public var commitTokensIgnored: UInt64 = 0
    public var packetsFromStrangers: UInt64 = 0
    public var gatherEntered: UInt64 = 0
    public var commitEntered: UInt64 = 0
    public var recoveryEntered: UInt64 = 0
    public var operationalEntered: UInt64 = 0
    public var tokenLostOperational: UInt64 = 0
    public var tokenLostGather: UInt64 = 0
    public var tokenLostCommit: UInt64 = 0
    public var tokenLostRecovery: UInt64 = 0
    public var consensusTimeouts: UInt64 = 0
    public var failedToReceive: UInt64 = 0
    public var mergeDetectsSent: UInt64 = 0
    public var tokenHoldCancelsSent: UInt64 = 0
    public var tokensHeld: UInt64 = 0
    /// Held tokens released with messages this node queued while holding them
    /// (`broadcastOnHeldToken`).
    public var heldTokenBroadcasts: UInt64 = 0
    public var payloadsSubmitted: UInt64 = 0
    public var payloadsRefused: UInt64 = 0
    public var payloadsDelivered: UInt64 = 0
    public var framesDroppedAtConfigurationChange: UInt64 = 0
    public var incompletePayloadsDropped: UInt64 = 0
    public var malformedFrames: UInt64 = 0
    public var orphanFragments: UInt64 = 0
    /// Encapsulated old-ring messages that new-ring delivery passed over.
    public var recoveredMessagesSkipped: UInt64 = 0
    /// Old-ring messages queued for rebroadcast on RECOVERY entry.
    public var oldRingMessagesQueued: UInt64 = 0
    public var staleTimerFirings: UInt64 = 0
    public init() {}
}
