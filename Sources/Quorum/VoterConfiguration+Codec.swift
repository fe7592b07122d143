import Basics

/// The compact binary form of a voter configuration, for the meta file, snapshot headers and
/// reconfiguration log entries. Those containers carry their own checksum, so this form has
/// none; it is strict instead: the exact length, known version and flags, ascending ids, and
/// every invariant of `VoterConfiguration.init` are checked, and any violation is a thrown
/// `VoterConfigurationError`, never a crash.
///
/// Layout, little-endian:
/// ```
/// u8  version (1)
/// u8  flags   (bit 0: an expected-votes override follows; other bits must be 0)
/// u32 expected votes override          (only when flag bit 0 is set)
/// u16 voter count (≤ VoteQuorum.nodesMax)
/// count × { u32 node id, u32 votes }   (node ids strictly ascending)
/// ```
extension VoterConfiguration {
    public static let formatVersion: UInt8 = 1
    private static let hasExpectedOverrideFlag: UInt8 = 0x01

    public func encoded() -> [UInt8] {
        var writer = ByteWriter(capacity: 8 + voters.count * 8)
        writer.write(Self.formatVersion)
        if let expected = expectedVotesOverride {
            writer.write(Self.hasExpectedOverrideFlag)
            writer.write(expected.rawValue)
        } else {
            writer.write(UInt8(0))
        }
        writer.write(UInt16(voters.count))  // ≤ nodesMax by the type's invariant
        for voter in voters {
            writer.write(voter.nodeID.rawValue)
            writer.write(voter.votes.rawValue)
        }
        return writer.bytes
    }

    public init(decoding bytes: [UInt8]) throws(VoterConfigurationError) {
        var reader = ByteReader(bytes)
        func truncated(_ more: Int) -> VoterConfigurationError {
            .truncated(neededBytes: reader.offset + more, availableBytes: bytes.count)
        }
        guard let version = reader.readUInt8() else { throw truncated(1) }
        guard version == Self.formatVersion else { throw .unsupportedVersion(version) }
        guard let flags = reader.readUInt8() else { throw truncated(1) }
        guard flags & ~Self.hasExpectedOverrideFlag == 0 else { throw .unknownFlags(flags) }
        var expected: Votes?
        if flags & Self.hasExpectedOverrideFlag != 0 {
            guard let raw = reader.readUInt32() else { throw truncated(4) }
            expected = Votes(raw)
        }
        guard let count = reader.readUInt16() else { throw truncated(2) }
        guard Int(count) <= VoteQuorum.nodesMax else { throw .tooManyVoters(Int(count)) }
        guard reader.remaining >= Int(count) * 8 else { throw truncated(Int(count) * 8) }
        var voters: [Voter] = []
        voters.reserveCapacity(Int(count))
        for _ in 0..<count {
            guard let id = reader.readUInt32(), let votes = reader.readUInt32() else {
                throw truncated(8)
            }
            let node = NodeID(id)
            if let last = voters.last, !(last.nodeID < node) { throw .votersOutOfOrder(node) }
            voters.append(Voter(node, votes: Votes(votes)))
        }
        guard reader.remaining == 0 else { throw .trailingBytes(reader.remaining) }
        try self.init(voters: voters, expectedVotes: expected)
    }
}
