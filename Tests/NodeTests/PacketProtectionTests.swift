import Basics
import Testing
@testable import Node

@Suite("Packet protection")
struct PacketProtectionTests {
    static let key = ClusterKey(bytes: (0..<128).map { UInt8($0) })
    static let otherKey = ClusterKey(bytes: (0..<128).map { UInt8(255 - $0) })
    static let packet: [UInt8] = Array("TK a packet with a recognisable payload".utf8)
    static let allSuites = PacketProtectionSuite.Cipher.allCases.flatMap { cipher in
        PacketProtectionSuite.Hash.allCases.map { PacketProtectionSuite(cipher: cipher, hash: $0) }
    }

    @Test("every suite round-trips, with exactly the advertised overhead", arguments: allSuites)
    func roundTrip(suite: PacketProtectionSuite) throws {
        var sender = try PacketProtection(suite: suite, key: Self.key)
        var receiver = try PacketProtection(suite: suite, key: Self.key)
        let datagram = sender.seal(Self.packet)
        #expect(datagram.count == Self.packet.count + suite.overheadByteCount)
        #expect(try receiver.open(datagram).get() == Self.packet)
        if suite.cipher != .none {
            #expect(!contains(datagram, Array("recognisable".utf8)), "the payload must not be readable")
        }
        if !suite.isEnabled {
            #expect(datagram == Self.packet)
        }
    }

    @Test("another key is rejected", arguments: allSuites.filter(\.isEnabled))
    func wrongKey(suite: PacketProtectionSuite) throws {
        var sender = try PacketProtection(suite: suite, key: Self.key)
        var receiver = try PacketProtection(suite: suite, key: Self.otherKey)
        #expect(receiver.open(sender.seal(Self.packet)) == .failure(.authenticationFailed))
    }

    @Test("flipping any bit of a sealed packet is detected",
          arguments: [PacketProtectionSuite(cipher: .aes256, hash: .sha1),
                      PacketProtectionSuite(cipher: .none, hash: .sha256)])
    func everyByteIsAuthenticated(suite: PacketProtectionSuite) throws {
        var sender = try PacketProtection(suite: suite, key: Self.key)
        var receiver = try PacketProtection(suite: suite, key: Self.key)
        let datagram = sender.seal(Self.packet)
        for index in datagram.indices {
            for bit in [0x01, 0x80] as [UInt8] {
                var tampered = datagram
                tampered[index] ^= bit
                let expected: ProtectionRejection = switch index {
                case 0, 3: .notProtected
                case 1, 2: .suiteMismatch
                default: .authenticationFailed
                }
                #expect(receiver.open(tampered) == .failure(expected), "byte \(index) bit \(bit)")
            }
        }
        // The untouched original still opens: failures do not poison the receiver.
        #expect(try receiver.open(datagram).get() == Self.packet)
    }

    @Test("short, unprotected and differently protected datagrams")
    func malformedDatagrams() throws {
        let suite = PacketProtectionSuite(cipher: .aes256, hash: .sha256)
        var receiver = try PacketProtection(suite: suite, key: Self.key)
        #expect(receiver.open([]) == .failure(.tooShort))
        #expect(receiver.open([UInt8](repeating: 0xE1, count: suite.overheadByteCount - 1)) == .failure(.tooShort))
        #expect(receiver.open(Self.packet + [UInt8](repeating: 0, count: 64)) == .failure(.notProtected))
        var hmacOnly = try PacketProtection(suite: .init(cipher: .none, hash: .sha256), key: Self.key)
        #expect(receiver.open(hmacOnly.seal(Self.packet + [UInt8](repeating: 0, count: 64)))
            == .failure(.suiteMismatch))
    }

    @Test("AEAD nonces come from a per-session counter; receivers learn many sessions")
    func sessionsAndCounters() throws {
        let suite = PacketProtectionSuite(cipher: .aes128, hash: .none)
        var first = try PacketProtection(suite: suite, key: Self.key)
        var second = try PacketProtection(suite: suite, key: Self.key)
        let a0 = first.seal(Self.packet)
        let a1 = first.seal(Self.packet)
        let b0 = second.seal(Self.packet)
        let saltRange = PacketProtection.headerByteCount..<(PacketProtection.headerByteCount + 16)
        let counterRange = saltRange.upperBound..<(saltRange.upperBound + 8)
        #expect(a0[saltRange] == a1[saltRange])
        #expect(a0[saltRange] != b0[saltRange], "each session draws its own salt")
        #expect(Array(a0[counterRange]) == [0, 0, 0, 0, 0, 0, 0, 0])
        #expect(Array(a1[counterRange]) == [1, 0, 0, 0, 0, 0, 0, 0])
        #expect(a0 != a1)

        var receiver = try PacketProtection(suite: suite, key: Self.key)
        for datagram in [a0, b0, a1, a0] {
            #expect(try receiver.open(datagram).get() == Self.packet)
        }
        // More senders than the cache holds: still every packet opens (keys are re-derived).
        var senders = try (0..<(PacketProtection.sessionCacheCapacity + 3)).map { _ in
            try PacketProtection(suite: suite, key: Self.key)
        }
        for index in senders.indices {
            #expect(try receiver.open(senders[index].seal(Self.packet)).get() == Self.packet)
        }
        #expect(try receiver.open(a1).get() == Self.packet)
    }

    @Test("random and mutated datagrams are rejected, never trapped",
          arguments: [PacketProtectionSuite(cipher: .aes192, hash: .sha384),
                      PacketProtectionSuite(cipher: .none, hash: .md5)])
    func fuzz(suite: PacketProtectionSuite) throws {
        var random = SeededGenerator(seed: 0x5EC_A07)
        var sender = try PacketProtection(suite: suite, key: Self.key)
        var receiver = try PacketProtection(suite: suite, key: Self.key)
        let valid = sender.seal(Self.packet)
        for round in 0..<2_000 {
            var datagram: [UInt8]
            if round % 2 == 0 {
                let count = Int.random(in: 0...200, using: &random)
                datagram = (0..<count).map { _ in UInt8.random(in: 0...255, using: &random) }
                // Give half of them a valid header, so the tag check is what rejects them.
                if round % 4 == 0 && count >= 3 {
                    datagram[0] = PacketProtection.formatMarker
                    datagram[1] = suite.cipher.rawValue
                    datagram[2] = suite.hash.rawValue
                    if count >= 4 { datagram[3] = 0 }
                }
            } else {
                datagram = valid
                let flips = Int.random(in: 1...4, using: &random)
                for _ in 0..<flips {
                    let index = Int.random(in: 0..<datagram.count, using: &random)
                    datagram[index] ^= UInt8.random(in: 1...255, using: &random)
                }
                if Bool.random(using: &random) {
                    datagram.removeLast(Int.random(in: 0...min(8, datagram.count), using: &random))
                }
            }
            if case .success = receiver.open(datagram) {
                Issue.record("round \(round): a forged datagram opened")
            }
        }
        #expect(try receiver.open(valid).get() == Self.packet)
    }

    @Test("configuration strings resolve as corosync's do")
    func suiteResolution() throws {
        #expect(try PacketProtectionSuite(cipher: "none", hash: "none", secauth: false) == .none)
        #expect(try PacketProtectionSuite(cipher: "none", hash: "none", secauth: true)
            == PacketProtectionSuite(cipher: .aes256, hash: .sha1))
        #expect(try PacketProtectionSuite(cipher: "aes192", hash: "md5", secauth: true)
            == PacketProtectionSuite(cipher: .aes192, hash: .md5))
        #expect(try PacketProtectionSuite(cipher: "none", hash: "sha512", secauth: false)
            == PacketProtectionSuite(cipher: .none, hash: .sha512))
        #expect(throws: PacketProtectionError.unknownCipher("aes512")) {
            try PacketProtectionSuite(cipher: "aes512", hash: "none", secauth: false)
        }
        #expect(throws: PacketProtectionError.unknownHash("sha3")) {
            try PacketProtectionSuite(cipher: "aes256", hash: "sha3", secauth: false)
        }
        #expect(throws: PacketProtectionError.keyRequired(PacketProtectionSuite(cipher: .aes256, hash: .none))) {
            try PacketProtection(suite: PacketProtectionSuite(cipher: .aes256, hash: .none), key: nil)
        }
        var passthrough = PacketProtection.passthrough
        #expect(passthrough.seal(Self.packet) == Self.packet)
        #expect(try passthrough.open([1, 2, 3]).get() == [1, 2, 3])
    }

    @Test("overheads are the documented sizes")
    func overheads() {
        #expect(PacketProtectionSuite(cipher: .aes256, hash: .sha512).overheadByteCount == 44)
        #expect(PacketProtectionSuite(cipher: .none, hash: .sha1).overheadByteCount == 24)
        #expect(PacketProtectionSuite(cipher: .none, hash: .md5).overheadByteCount == 20)
        #expect(PacketProtectionSuite.none.overheadByteCount == 0)
    }

    @Test("a key's description does not show its bytes")
    func keyDescription() {
        #expect(Self.key.description == "ClusterKey(128 bytes)")
    }
}

private func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
    guard needle.count <= haystack.count else { return false }
    return (0...(haystack.count - needle.count)).contains { Array(haystack[$0..<($0 + needle.count)]) == needle }
}
