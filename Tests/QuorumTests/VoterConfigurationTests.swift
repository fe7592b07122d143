import Basics
import Quorum
import Testing

@Suite("voter configuration")
struct VoterConfigurationTests {
    @Test("voters are sorted by node id whatever the input order")
    func sorted() throws {
        let c = try VoterConfiguration(voters: [.init(id(3), votes: 2), .init(id(1)), .init(id(2), votes: 0)])
        #expect(c.voters.map(\.nodeID) == ids(1, 2, 3))
        #expect(c.totalVotes == 3 && c.expectedVotes == 3 && c.majorityVotes == 2)
        #expect(c.description == "voters[1:1 2:0 3:2] majority=2")
    }

    @Test("expected votes: the override when configured, else the sum; majority over the larger")
    func expectedAndMajority() throws {
        let five = ids(1, 2, 3, 4, 5)
        #expect(try VoterConfiguration(nodes: five).majorityVotes == 3)
        #expect(try VoterConfiguration(nodes: five, expectedVotes: 8).majorityVotes == 5)
        let low = try VoterConfiguration(nodes: five, expectedVotes: 3)
        #expect(low.expectedVotes == 3 && low.majorityVotes == 3)  // never below the sum's majority
        #expect(try VoterConfiguration(nodes: ids(1, 2, 3, 4)).majorityVotes == 3)
    }

    @Test("isMajority counts each configured member once and non-voters as zero")
    func isMajority() throws {
        let c = try VoterConfiguration(voters: [.init(id(1), votes: 3), .init(id(2)), .init(id(3))])
        #expect(c.majorityVotes == 3)
        #expect(c.isMajority(of: ids(1)))
        #expect(!c.isMajority(of: ids(2, 3, 9)))
        #expect(!c.isMajority(of: ids(2, 2, 2, 3)))
        #expect(!c.isMajority(of: []))
    }

    @Test("invalid configurations are refused with a clear error")
    func invalid() {
        #expect(throws: VoterConfigurationError.noVotes) { try VoterConfiguration(voters: [.init(id(1), votes: 0)]) }
        #expect(throws: VoterConfigurationError.reservedNodeID) { try VoterConfiguration(nodes: ids(0, 1)) }
        #expect(throws: VoterConfigurationError.duplicateNode(id(2))) { try VoterConfiguration(nodes: ids(2, 1, 2)) }
        #expect(throws: VoterConfigurationError.expectedVotesZero) { try VoterConfiguration(nodes: ids(1), expectedVotes: 0) }
        #expect(throws: VoterConfigurationError.tooManyVoters(385)) {
            try VoterConfiguration(nodes: (1...385).map { NodeID(UInt32($0)) })
        }
        #expect(throws: VoterConfigurationError.totalVotesTooLarge(UInt64(UInt32.max) + 1)) {
            try VoterConfiguration(voters: [.init(id(1), votes: Votes(.max)), .init(id(2))])
        }
    }

    @Test("settingVotes and settingExpectedVotes")
    func changes() throws {
        let c = try VoterConfiguration(nodes: ids(1, 3))
        let added = try c.settingVotes(2, for: id(2))
        #expect(added.voters == [.init(id(1)), .init(id(2), votes: 2), .init(id(3))])
        #expect(try added.settingVotes(0, for: id(2)).voters.count == 3)
        #expect(try c.settingExpectedVotes(4).expectedVotes == 4)
        #expect(try c.settingExpectedVotes(4).settingExpectedVotes(nil) == c)
    }

    @Test("codec: round trip, known bytes")
    func codecKnownBytes() throws {
        let c = try VoterConfiguration(voters: [.init(id(2), votes: 3), .init(id(1))], expectedVotes: 7)
        let bytes = c.encoded()
        #expect(bytes == [1, 1, 7, 0, 0, 0, 2, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0])
        #expect(try VoterConfiguration(decoding: bytes) == c)
        let plain = try VoterConfiguration(nodes: ids(5))
        #expect(plain.encoded() == [1, 0, 1, 0, 5, 0, 0, 0, 1, 0, 0, 0])
    }

    @Test("codec: round trip of random configurations")
    func codecRoundTrip() throws {
        var rng = SeededGenerator(seed: 0x51)
        for _ in 0..<500 {
            let c = randomConfiguration(&rng)
            #expect(try VoterConfiguration(decoding: c.encoded()) == c)
        }
    }

    @Test("codec: bad bytes give the named error")
    func codecErrors() throws {
        let good = try VoterConfiguration(nodes: ids(1, 2), expectedVotes: 3).encoded()
        #expect(throws: VoterConfigurationError.truncated(neededBytes: 1, availableBytes: 0)) { try VoterConfiguration(decoding: []) }
        #expect(throws: VoterConfigurationError.unsupportedVersion(2)) { try VoterConfiguration(decoding: [2] + good.dropFirst()) }
        #expect(throws: VoterConfigurationError.unknownFlags(3)) { try VoterConfiguration(decoding: [1, 3] + good.dropFirst(2)) }
        #expect(throws: VoterConfigurationError.trailingBytes(1)) { try VoterConfiguration(decoding: good + [0]) }
        #expect(throws: VoterConfigurationError.votersOutOfOrder(id(1))) {
            try VoterConfiguration(decoding: [1, 0, 2, 0, 2, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0])
        }
        #expect(throws: VoterConfigurationError.tooManyVoters(0xFFFF)) { try VoterConfiguration(decoding: [1, 0, 0xFF, 0xFF]) }
        #expect(throws: VoterConfigurationError.noVotes) { try VoterConfiguration(decoding: [1, 0, 0, 0]) }
        #expect(throws: VoterConfigurationError.reservedNodeID) {
            try VoterConfiguration(decoding: [1, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0, 0])
        }
    }

    @Test("codec: every truncation of a valid encoding throws")
    func codecTruncations() throws {
        let bytes = try VoterConfiguration(nodes: ids(1, 2, 3), expectedVotes: 4).encoded()
        for length in 0..<bytes.count {
            #expect(throws: VoterConfigurationError.self) { try VoterConfiguration(decoding: Array(bytes.prefix(length))) }
        }
    }

    @Test("codec: random and mutated bytes never crash; what decodes re-encodes to the same bytes")
    func codecFuzz() throws {
        var rng = SeededGenerator(seed: 0xF022)
        for round in 0..<3_000 {
            var bytes: [UInt8]
            if round % 2 == 0 {
                bytes = randomConfiguration(&rng).encoded()
                for _ in 0..<Int.random(in: 1...3, using: &rng) where !bytes.isEmpty {
                    bytes[Int.random(in: 0..<bytes.count, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
                }
            } else {
                bytes = (0..<Int.random(in: 0...40, using: &rng)).map { _ in UInt8.random(in: 0...3, using: &rng) }
            }
            if let decoded = try? VoterConfiguration(decoding: bytes) {
                #expect(decoded.encoded() == bytes)
            }
        }
    }

    @Test("NODEINFO and RECONFIGURE codecs: round trip and bad bytes")
    func messageCodecs() throws {
        let info = NodeInfo(nodeID: id(7), votes: 2, expectedVotes: 9, flags: [.quorate, .first])
        #expect(try NodeInfo(decoding: info.encoded()) == info)
        for change in [Reconfiguration.expectedVotes(5), .nodeVotes(id(3), 0), .cancelWaitForAll] {
            #expect(try Reconfiguration(decoding: change.encoded()) == change)
        }
        var bad = info.encoded()
        bad[13] = 0x80
        #expect(throws: QuorumMessageError.unknownFlags(0x80)) { try NodeInfo(decoding: bad) }
        #expect(throws: QuorumMessageError.wrongLength(expectedBytes: 17, actualBytes: 16)) { try NodeInfo(decoding: Array(info.encoded().dropLast())) }
        #expect(throws: QuorumMessageError.unknownTag(0x52)) { try NodeInfo(decoding: [0x52] + info.encoded().dropFirst()) }
        var param = Reconfiguration.cancelWaitForAll.encoded()
        param[1] = 9
        #expect(throws: QuorumMessageError.unknownParameter(9)) { try Reconfiguration(decoding: param) }
        #expect(throws: QuorumMessageError.reservedNodeID) { try Reconfiguration(decoding: [0x52, 2, 0, 0, 0, 0, 1, 0, 0, 0]) }
        var rng = SeededGenerator(seed: 0xAB)
        for _ in 0..<2_000 {
            let bytes = (0..<Int.random(in: 0...20, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            if let decoded = try? NodeInfo(decoding: bytes) { #expect(decoded.encoded() == bytes) }
            if let decoded = try? Reconfiguration(decoding: bytes) { #expect(try Reconfiguration(decoding: decoded.encoded()) == decoded) }
        }
    }

    @Test("auto_tie_breaker_node parsing")
    func tieBreakerParsing() {
        #expect(TieBreakerRule(parsing: "lowest") == .lowest)
        #expect(TieBreakerRule(parsing: "highest") == .highest)
        #expect(TieBreakerRule(parsing: "3 1  2") == .list(ids(3, 1, 2)))
        #expect(TieBreakerRule(parsing: "") == nil)
        #expect(TieBreakerRule(parsing: "lowest 1") == nil)
        #expect(TieBreakerRule(parsing: "1 x") == nil)
        #expect(TieBreakerRule(parsing: "0") == nil)
    }
}

func randomConfiguration(_ rng: inout SeededGenerator, maxVoters: Int = 12, maxVotes: UInt32 = 5) -> VoterConfiguration {
    for _ in 0..<1_000 {
        var candidates = (1...UInt32(maxVoters * 3)).map { NodeID($0) }
        candidates.shuffle(using: &rng)
        let voters = candidates.prefix(Int.random(in: 1...maxVoters, using: &rng)).map {
            VoterConfiguration.Voter($0, votes: Votes(UInt32.random(in: 0...maxVotes, using: &rng)))
        }
        let expected: Votes? = rng.chance(0.3) ? Votes(UInt32.random(in: 1...UInt32(maxVoters) * maxVotes + 2, using: &rng)) : nil
        if let c = try? VoterConfiguration(voters: voters, expectedVotes: expected) { return c }
    }
    preconditionFailure("no valid random configuration in 1000 draws")
}
