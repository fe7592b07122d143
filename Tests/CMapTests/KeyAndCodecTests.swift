import Basics
import Testing
@testable import CMap

@Suite struct KeyTests {
    @Test func validKeys() throws {
        for k in ["a", "totem.token", "nodelist.node.0.ring0_addr", "A-Z_0:9/x", String(repeating: "k", count: 255)] {
            #expect(try CMapKey(validating: k).description == k)
        }
    }

    @Test func invalidKeysAreRefusedWithAReason() throws {
        #expect(throws: CMapError.invalidKey("key is empty")) { try CMapKey(validating: "") }
        #expect(throws: CMapError.invalidKey("key is 256 bytes long, the maximum is 255")) {
            try CMapKey(validating: String(repeating: "k", count: 256))
        }
        #expect(throws: CMapError.invalidKey("key has byte 0x20 at offset 1; allowed are A-Z a-z 0-9 _ . / : -")) {
            try CMapKey(validating: "a b")
        }
        for bad in ["é", "a\0", "a*", "a\n", "{x}"] {
            #expect(throws: CMapError.self) { try CMapKey(validating: bad) }
        }
        #expect(throws: CMapError.self) { try CMapPrefix(validating: "a b") }
        #expect(try CMapPrefix(validating: "").bytes.isEmpty)
    }

    @Test func keysOrderBytewiseAndBeforeTheirExtensions() {
        let keys = ["b", "a.b.c", "a", "a.b", "A", "a-", "abcdefghij.k", "abcdefghij.j", "abcdefghi"].map { CMapKey($0) }
        let sorted = keys.sorted().map(\.description)
        #expect(sorted == ["A", "a", "a-", "a.b", "a.b.c", "abcdefghi", "abcdefghij.j", "abcdefghij.k", "b"])
    }

    @Test func bytewiseCompareAgreesWithLexicographicOrder() {
        var rng = SeededGenerator(seed: 5)
        for _ in 0..<2000 {
            let a = (0..<Int.random(in: 0...20, using: &rng)).map { _ in UInt8.random(in: 0...3, using: &rng) }
            let b = (0..<Int.random(in: 0...20, using: &rng)).map { _ in UInt8.random(in: 0...3, using: &rng) }
            let expected = a.lexicographicallyPrecedes(b) ? -1 : (a == b ? 0 : 1)
            #expect(compareBytes(a, b) == expected)
        }
    }

    /// Keys keep 24 bytes inline and the rest in a tail; order, equality, hashing and the
    /// bytes must be those of the plain byte strings, across the 24-byte boundary.
    @Test func inlineKeysBehaveLikeByteStrings() {
        var rng = SeededGenerator(seed: 6)
        let alphabet = Array("ab.Z".utf8)
        func randomKey() -> [UInt8] {
            let n = [Int.random(in: 1...30, using: &rng), Int.random(in: 22...26, using: &rng), 255][Int.random(in: 0...2, using: &rng)]
            let shared = Array(repeating: UInt8(ascii: "a"), count: Int.random(in: 0...n, using: &rng))
            return shared + (0..<(n - shared.count)).map { _ in alphabet[Int.random(in: 0...3, using: &rng)] }
        }
        for _ in 0..<5000 {
            let a = randomKey()
            let b = Bool.random(using: &rng) ? a : randomKey()
            let ka = CMapKey(unchecked: a)
            let kb = CMapKey(unchecked: b)
            #expect(ka.bytes == a && ka.count == a.count)
            #expect((ka < kb) == a.lexicographicallyPrecedes(b))
            #expect((ka == kb) == (a == b))
            if a == b { #expect(ka.hashValue == kb.hashValue) }
            let p = Array(a.prefix(Int.random(in: 0...a.count, using: &rng)))
            #expect(ka.hasPrefix(CMapPrefix(unchecked: p)))
            #expect(kb.hasPrefix(CMapPrefix(unchecked: p)) == b.starts(with: p))
        }
    }
}

@Suite struct CodecTests {
    @Test func operationsRoundTrip() throws {
        var r = RandomOps(seed: 1)
        for _ in 0..<3000 {
            let op = r.operation()
            #expect(try CMapCodec.decodeOperation(CMapCodec.encode(op)) == op)
        }
    }

    @Test func resultsRoundTrip() throws {
        var r = RandomOps(seed: 2)
        var s = r.state(steps: 300)
        var index = s.appliedIndex.rawValue
        let fixed: [CMapResult] = [
            .ok, .notFound, .integer(-5), .count(7), .versionMismatch(current: LogIndex(3)),
            .error(.invalidKey("x")), .error(.valueTooLarge(bytes: 5, limitBytes: 4)),
            .error(.wrongType(key: CMapKey("k"), type: .float, operation: "increment")),
            .error(.notAnInteger(key: CMapKey("k"))), .error(.incrementOverflow(key: CMapKey("k"))),
            .error(.staleRequest(client: ClientID(1), requestID: 2, lastRequestID: 3)),
            .error(.badPageSize(requested: 0, maximum: 10)),
            .error(.badValue(type: .uint8, reason: "'300' is not an integer between 0 and 255")),
            .list([], nextCursor: nil),
        ]
        for result in fixed { #expect(try CMapCodec.decodeResult(CMapCodec.encode(result)) == result) }
        for _ in 0..<1000 {
            index += 1
            let result = s.apply(r.operation(), at: LogIndex(index)).result
            #expect(try CMapCodec.decodeResult(CMapCodec.encode(result)) == result)
        }
    }

    @Test func badOperationBytesAreRefused() {
        let good = CMapCodec.encode(.set(CMapKey("a.b"), .string("hello")))
        #expect(throws: CMapDecodingError.self) { try CMapCodec.decodeOperation([]) }
        #expect(throws: CMapDecodingError.self) { try CMapCodec.decodeOperation([2] + good.dropFirst()) }
        #expect(throws: CMapDecodingError.self) { try CMapCodec.decodeOperation(good + [0]) }
        for n in 0..<good.count {
            #expect(throws: CMapDecodingError.self) { try CMapCodec.decodeOperation(Array(good[..<n])) }
        }
        // A key with a forbidden byte.
        let badKey: [UInt8] = [1, 4, 3, UInt8(ascii: "a"), UInt8(ascii: " "), UInt8(ascii: "b")]
        #expect(throws: CMapDecodingError.self) { try CMapCodec.decodeOperation(badKey) }
        // A string claiming 4 GiB.
        let huge: [UInt8] = [1, 3, 1, UInt8(ascii: "a"), 11, 0xFF, 0xFF, 0xFF, 0xFF]
        #expect(throws: CMapDecodingError.self) { try CMapCodec.decodeOperation(huge) }
    }

    /// Random and mutated bytes never crash the decoders; an operation that decodes
    /// re-encodes to the same bytes (the operation codec is canonical).
    @Test func fuzzOperationAndResultDecoders() {
        var r = RandomOps(seed: 3)
        var decoded = 0
        for i in 0..<20_000 {
            var bytes: [UInt8]
            if i % 2 == 0 {
                bytes = CMapCodec.encode(r.operation())
                for _ in 0..<r.int(1...3) where !bytes.isEmpty {
                    let at = r.int(0...(bytes.count - 1))
                    bytes[at] ^= UInt8(1 << r.int(0...7))
                }
                if r.int(0...3) == 0 { bytes = Array(bytes.prefix(r.int(0...bytes.count))) }
            } else {
                bytes = r.bytes(maxCount: 30)
            }
            if let op = try? CMapCodec.decodeOperation(bytes) {
                decoded += 1
                #expect(CMapCodec.encode(op) == bytes)
            }
            // Results hold texts, which invalid UTF-8 does not survive, so only no-crash here.
            _ = try? CMapCodec.decodeResult(bytes)
        }
        #expect(decoded > 0)
    }
}

@Suite struct ValueTextTests {
    @Test func typeNames() {
        for type in CMapValueType.allCases { #expect(CMapValueType(name: type.description) == type) }
        #expect(CMapValueType(name: "U32") == .uint32 && CMapValueType(name: "double") == .double)
        #expect(CMapValueType(name: "u128") == nil)
    }

    @Test func parsingAndPrinting() throws {
        let cases: [(String, CMapValueType, CMapValue)] = [
            ("-128", .int8, .int8(-128)), ("255", .uint8, .uint8(255)), ("-2", .int16, .int16(-2)),
            ("65535", .uint16, .uint16(65535)), ("7", .int32, .int32(7)), ("4000000000", .uint32, .uint32(4_000_000_000)),
            ("-9223372036854775808", .int64, .int64(.min)), ("18446744073709551615", .uint64, .uint64(.max)),
            ("1.5", .float, .float(1.5)), ("-2.25", .double, .double(-2.25)),
            ("a b\u{0}", .string, .string(Array("a b\u{0}".utf8))), ("xyz", .binary, .binary(Array("xyz".utf8))),
        ]
        for (text, type, value) in cases {
            #expect(try CMapValue(parsing: Array(text.utf8), as: type) == value)
            #expect(try CMapValue(parsing: value.textBytes, as: type) == value)
        }
        #expect(throws: CMapError.badValue(type: .uint8, reason: "'256' is not an integer between 0 and 255")) {
            try CMapValue(parsing: Array("256".utf8), as: .uint8)
        }
        for (text, type) in [("-1", CMapValueType.uint32), ("1.5", .int64), ("", .int8), ("x", .double), ("1e", .float)] {
            #expect(throws: CMapError.self) { try CMapValue(parsing: Array(text.utf8), as: type) }
        }
    }
}
