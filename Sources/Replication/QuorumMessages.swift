import Basics
import CMap
import Quorum

/// The quorum service's bytes inside the replication layer: the NODEINFO ring message, the
/// reconfiguration log entry and the reserved store key that keeps the voter configuration
/// in snapshots.
extension RingMessage {
    /// Far from the small tags the other ring messages use, so services added later can
    /// keep counting up without meeting it.
    static let nodeInfoTag: UInt8 = 0x51

    /// Whether a delivered payload is the quorum service's, by its first byte (no decoding:
    /// the check runs on every delivery).
    static func isNodeInfo<Bytes: Collection<UInt8>>(_ payload: Bytes) -> Bool { payload.first == nodeInfoTag }

    /// `tag ringRepresentative(4) ringSeq(8) nodeinfo(17)`.
    static func encodeNodeInfo(ringID: RingID, _ info: NodeInfo, into w: inout ByteWriter) {
        w.u8(nodeInfoTag)
        w.u32(ringID.representative.rawValue)
        w.u64(ringID.seq)
        w.bytes.append(contentsOf: info.encoded())
    }

    static func decodeNodeInfo(from r: inout ByteReader) throws -> RingMessage {
        let ringID = RingID(representative: NodeID(try r.u32("ring representative")), seq: try r.u64("ring seq"))
        try r.need(NodeInfo.encodedBytes, "nodeinfo")
        var raw: [UInt8] = []
        raw.reserveCapacity(NodeInfo.encodedBytes)
        for _ in 0..<NodeInfo.encodedBytes { raw.append(try r.u8("nodeinfo")) }
        do {
            return .nodeInfo(ringID: ringID, try NodeInfo(decoding: raw))
        } catch {
            throw DecodeError(reason: error.description, offset: 13)
        }
    }
}

/// A committed change of the voter configuration (`setexpected`, `setvotes`): a log entry of
/// its own kind. Its op bytes start with a marker CMap's operation codec never writes (CMap
/// ops start with their codec version, 1), so existing CMap entries keep their encoding and
/// a reconfiguration can never be mistaken for a CMap operation, nor the reverse.
public enum ReconfigurationEntry {
    static let marker: UInt8 = 0xC5
    static let version: UInt8 = 1

    /// `marker version reconfigure(10)`.
    public static func encode(_ change: Reconfiguration) -> [UInt8] {
        [marker, version] + change.encoded()
    }

    /// Whether an entry's op is a reconfiguration (by its first byte).
    public static func isReconfiguration<Bytes: Collection<UInt8>>(_ op: Bytes) -> Bool { op.first == marker }

    /// nil when `op` is not a reconfiguration; throws when it is one but malformed.
    public static func decode(_ op: [UInt8]) throws -> Reconfiguration? { try decode(op[...]) }

    /// nil when `op` is not a reconfiguration; throws when it is one but malformed.
    public static func decode(_ op: ArraySlice<UInt8>) throws -> Reconfiguration? {
        guard isReconfiguration(op) else { return nil }
        guard op.count == 2 + Reconfiguration.encodedBytes else {
            throw DecodeError(reason: "reconfiguration entry of \(op.count) bytes", offset: 0)
        }
        let versionByte = op[op.startIndex + 1]
        guard versionByte == version else {
            throw DecodeError(reason: "reconfiguration entry version \(versionByte)", offset: 1)
        }
        do {
            return try Reconfiguration(decoding: Array(op.dropFirst(2)))
        } catch {
            throw DecodeError(reason: error.description, offset: 2)
        }
    }

    /// The configuration after `change`, or why it is refused: the same checks
    /// `VoteQuorumState` makes when a reconfiguration is delivered, so the replica's commit
    /// voters and the quorum service's configuration follow the same chain.
    public static func applying(_ change: Reconfiguration, to configuration: VoterConfiguration)
        -> Result<VoterConfiguration, QuorumRefusal>
    {
        let next: VoterConfiguration
        do {
            switch change {
            case .expectedVotes(let expected): next = try configuration.settingExpectedVotes(expected)
            case .nodeVotes(let node, let votes): next = try configuration.settingVotes(votes, for: node)
            case .cancelWaitForAll: return .success(configuration)
            }
        } catch {
            return .failure(QuorumRefusal(.invalidParameter, error.description))
        }
        if let refusal = configuration.refusalOfChange(to: next) {
            return .failure(QuorumRefusal(.unsafeForStore, refusal.reason))
        }
        // corosync refuses a quorum above the votes present when the request is made; two
        // requests checked at once on different nodes can still add up to one, so the
        // configuration in force when it is applied is checked too: no set of nodes could
        // ever commit again.
        if next.majorityVotes > next.totalVotes {
            return .failure(QuorumRefusal(
                .invalidParameter,
                "\(change) would need \(next.majorityVotes) votes to commit but the voters hold only "
                    + "\(next.totalVotes): nothing could ever be written again"))
        }
        return .success(next)
    }

    /// The reserved store key holding the voter configuration in force at the applied
    /// index (binary, `VoterConfiguration.encoded()`), written when a reconfiguration is
    /// applied. It travels in snapshots with the rest of the state, so a node that installs
    /// or restarts from a snapshot knows the voters the snapshot's history set. Clients
    /// cannot write under `reservedPrefix`.
    public static let configurationKey = CMapKey("totemkv.quorum.voters")
    public static let reservedPrefix: [UInt8] = Array("totemkv.quorum.".utf8)

    /// The voter configuration recorded in `state`, nil when none was ever applied (the
    /// configured nodelist is then in force) or when it does not decode.
    public static func configuration(in state: CMapState) -> VoterConfiguration? {
        guard let entry = state.entry(for: configurationKey), case .binary(let bytes) = entry.value else { return nil }
        return try? VoterConfiguration(decoding: bytes)
    }

    /// Whether a client write touches the reserved keys.
    public static func touchesReservedKey(_ op: CMapOperation) -> Bool {
        let key: CMapKey
        switch op {
        case .set(let k, _), .delete(let k), .adjust(let k, _), .incrementBy(let k, _), .compareAndSet(let k, _, _):
            key = k
        case .get, .getOrDefault, .count, .list:
            return false
        }
        // On the key in place: `key.bytes` built an array for every client write.
        return key.hasPrefix(reservedCMapPrefix)
    }

    private static let reservedCMapPrefix = CMapPrefix(String(decoding: reservedPrefix, as: UTF8.self))
}

extension Voters {
    /// The replica's voters for a voter configuration (its override raises the majority).
    public init(_ configuration: VoterConfiguration) {
        self.init(configuration.voters.map { ($0.nodeID, $0.votes.rawValue) })
        expectedVotesOverride = configuration.expectedVotesOverride.map { UInt64($0.rawValue) }
    }

    /// The same voters as a `VoterConfiguration`; nil when they hold no vote at all.
    public var voterConfiguration: VoterConfiguration? {
        try? VoterConfiguration(
            voters: votes.map { VoterConfiguration.Voter($0.node, votes: Votes($0.votes)) },
            expectedVotes: expectedVotesOverride.map { Votes(UInt32(clamping: $0)) })
    }
}
