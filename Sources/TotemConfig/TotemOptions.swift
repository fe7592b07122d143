/// The effective totem options: every value resolved, defaults applied and derivations done,
/// as corosync's `totem_volatile_config_read` leaves them (totem-notes 6.2). All durations are
/// milliseconds, as in corosync.conf. The Totem core reads only this struct.
///
/// Defaults are corosync 2.x's (token 1000 ms, transport udpu: TotemKV's decision, see the
/// issue "Foundations").
public struct TotemOptions: Hashable, Sendable {
    public enum Transport: String, Hashable, Sendable, CaseIterable { case udpu, udp, knet }
    public enum RRPMode: String, Hashable, Sendable, CaseIterable { case none, active, passive }

    /// One redundant ring (`interface { ringnumber ... }`).
    public struct Interface: Hashable, Sendable {
        public var ringNumber: UInt8
        public var bindNetAddr: String?
        public var mcastAddr: String?
        public var mcastPort: UInt16
        public var ttl: UInt8
        public init(ringNumber: UInt8, bindNetAddr: String? = nil, mcastAddr: String? = nil,
                    mcastPort: UInt16 = 5405, ttl: UInt8 = 1) {
            self.ringNumber = ringNumber
            self.bindNetAddr = bindNetAddr
            self.mcastAddr = mcastAddr
            self.mcastPort = mcastPort
            self.ttl = ttl
        }
    }

    /// Effective token timeout T: `token` plus `token_coefficient` per node beyond two.
    public var token: UInt32
    /// The configured `token` before the coefficient.
    public var configuredToken: UInt32
    public var tokenCoefficient: UInt32
    public var tokenRetransmit: UInt32
    public var tokenRetransmitsBeforeLossConst: UInt32
    /// `token_warning` (corosync 3.x): a percentage of the effective token timeout; a token
    /// later than this after the previous one, or an event loop stalled this long, is logged
    /// and shown in status. 0 disables the warnings. Default 75.
    public var tokenWarning: UInt32
    /// How long an idle ring's token is kept before it goes round once more, as in corosync;
    /// kept by the node that broadcast last rather than always the representative
    /// (docs/totem.md).
    public var hold: UInt32
    public var join: UInt32
    public var sendJoin: UInt32
    public var consensus: UInt32
    public var merge: UInt32
    public var downcheck: UInt32
    public var failRecvConst: UInt32
    public var seqnoUnchangedConst: UInt32
    public var heartbeatFailuresAllowed: UInt32
    public var maxNetworkDelay: UInt32
    public var windowSize: UInt32
    public var maxMessages: UInt32
    public var missCountConst: UInt32
    public var cancelTokenHoldOnRetransmit: Bool
    public var netmtu: UInt32
    public var transport: Transport
    public var rrpMode: RRPMode
    public var rrpTokenExpiredTimeout: UInt32
    public var rrpProblemCountTimeout: UInt32
    public var rrpProblemCountThreshold: UInt32
    public var rrpProblemCountMcastThreshold: UInt32
    public var rrpAutorecoveryCheckTimeout: UInt32
    public var secauth: Bool
    public var cryptoCipher: String
    public var cryptoHash: String
    public var clusterName: String
    public var interfaces: [Interface]
    /// `keyfile`: the cluster key used when `cryptoCipher` or `cryptoHash` is not "none".
    public var keyFile: String

    /// The options explicitly set in a file; `nil` means "use the default or derivation".
    public struct Settings: Hashable, Sendable {
        public var token: UInt32?
        public var tokenCoefficient: UInt32?
        public var tokenRetransmit: UInt32?
        public var tokenRetransmitsBeforeLossConst: UInt32?
        public var tokenWarning: UInt32?
        public var hold: UInt32?
        public var join: UInt32?
        public var sendJoin: UInt32?
        public var consensus: UInt32?
        public var merge: UInt32?
        public var downcheck: UInt32?
        public var failRecvConst: UInt32?
        public var seqnoUnchangedConst: UInt32?
        public var heartbeatFailuresAllowed: UInt32?
        public var maxNetworkDelay: UInt32?
        public var windowSize: UInt32?
        public var maxMessages: UInt32?
        public var missCountConst: UInt32?
        public var cancelTokenHoldOnRetransmit: Bool?
        public var netmtu: UInt32?
        public var transport: Transport?
        public var rrpMode: RRPMode?
        public var rrpTokenExpiredTimeout: UInt32?
        public var rrpProblemCountTimeout: UInt32?
        public var rrpProblemCountThreshold: UInt32?
        public var rrpProblemCountMcastThreshold: UInt32?
        public var rrpAutorecoveryCheckTimeout: UInt32?
        public var secauth: Bool?
        public var cryptoCipher: String?
        public var cryptoHash: String?
        public var clusterName: String?
        public var interfaces: [Interface]?
        public var keyFile: String?
        public init() {}
    }

    /// Resolves `settings` for a cluster of `nodeCount` nodes, with corosync's defaults and
    /// derivations. Validation (ranges, consensus >= 1.2 x token...) is the parser's job.
    public init(_ settings: Settings = Settings(), nodeCount: Int) {
        configuredToken = settings.token ?? 1000
        tokenCoefficient = settings.tokenCoefficient ?? 650
        // corosync applies the coefficient even when token is set explicitly.
        if nodeCount >= 3 && tokenCoefficient > 0 {
            token = configuredToken + UInt32(nodeCount - 2) * tokenCoefficient
        } else {
            token = configuredToken
        }
        tokenRetransmitsBeforeLossConst = settings.tokenRetransmitsBeforeLossConst ?? 4
        tokenWarning = settings.tokenWarning ?? 75
        // token / (const + 0.2), truncated: 238 for T = 1000. Computed in tenths to stay exact.
        tokenRetransmit = settings.tokenRetransmit
            ?? UInt32((UInt64(token) * 10) / (UInt64(tokenRetransmitsBeforeLossConst) * 10 + 2))
        // token_retransmit x 0.8 - 1000/HZ (HZ = 100), truncated: 180 for token_retransmit 238.
        hold = settings.hold ?? UInt32(max(0, (Int64(tokenRetransmit) * 8 - 100) / 10))
        join = settings.join ?? 50
        sendJoin = settings.sendJoin ?? 0
        consensus = settings.consensus ?? UInt32((UInt64(token) * 12) / 10)
        merge = settings.merge ?? 200
        downcheck = settings.downcheck ?? 1000
        failRecvConst = settings.failRecvConst ?? 2500
        seqnoUnchangedConst = settings.seqnoUnchangedConst ?? 30
        heartbeatFailuresAllowed = settings.heartbeatFailuresAllowed ?? 0
        maxNetworkDelay = settings.maxNetworkDelay ?? 50
        windowSize = settings.windowSize ?? 50
        maxMessages = settings.maxMessages ?? 17
        missCountConst = settings.missCountConst ?? 5
        cancelTokenHoldOnRetransmit = settings.cancelTokenHoldOnRetransmit ?? false
        netmtu = settings.netmtu ?? 1500
        transport = settings.transport ?? .udpu
        rrpMode = settings.rrpMode ?? .none
        // The issue follows corosync.conf(5), which documents 47 ms.
        rrpTokenExpiredTimeout = settings.rrpTokenExpiredTimeout ?? 47
        rrpProblemCountTimeout = settings.rrpProblemCountTimeout ?? 2000
        rrpProblemCountThreshold = settings.rrpProblemCountThreshold ?? 10
        rrpProblemCountMcastThreshold = settings.rrpProblemCountMcastThreshold
            ?? rrpProblemCountThreshold * 10
        rrpAutorecoveryCheckTimeout = settings.rrpAutorecoveryCheckTimeout ?? 1000
        secauth = settings.secauth ?? false
        cryptoCipher = settings.cryptoCipher ?? "none"
        cryptoHash = settings.cryptoHash ?? "none"
        clusterName = settings.clusterName ?? ""
        interfaces = settings.interfaces ?? [Interface(ringNumber: 0)]
        // corosync 2.x's COROSYSCONFDIR "/authkey".
        keyFile = settings.keyFile ?? "/etc/corosync/authkey"
    }
}
