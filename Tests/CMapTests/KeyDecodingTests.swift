import Basics
import Testing
@testable import CMap

/// The operation decoder builds keys from the bytes in place (no array for short keys):
/// the keys must equal validated ones at every length and inline boundary, and bad keys
/// must fail with the errors validation gives.
@Suite struct KeyDecodingTests {
    @Test func decodedKeysEqualValidatedKeysAtEveryLength() throws {
        for length in 1...CMapKey.maxBytes {
            let bytes = (0..<length).map { UInt8(ascii: "a") + UInt8(($0 * 7 + length) % 26) }
            let key = try CMapKey(validating: bytes)
            let op = try CMapCodec.decodeOperation(CMapCodec.encode(.delete(key)))
            guard case .delete(let decoded) = op else {
                Issue.record("decoded \(op)")
                continue
            }
            #expect(decoded == key && decoded.hashValue == key.hashValue && decoded.bytes == bytes, "length \(length)")
            // Order against a neighbour differing in the last byte, which for some
            // lengths lies in the inline words and for others in the tail.
            var next = bytes
            next[length - 1] = bytes[length - 1] == UInt8(ascii: "z") ? UInt8(ascii: "a") : UInt8(ascii: "z")
            let other = try CMapKey(validating: next)
            #expect((decoded < other) == (key < other) && (other < decoded) == (other < key), "length \(length)")
        }
    }

    @Test func badKeysFailAsValidationDoes() {
        let cases: [(bytes: [UInt8], offset: Int, reason: String)] = [
            // version, tag delete, key length 3, "a b"
            ([1, 4, 3, UInt8(ascii: "a"), UInt8(ascii: " "), UInt8(ascii: "b")], 2,
             "key has byte 0x20 at offset 1; allowed are A-Z a-z 0-9 _ . / : -"),
            ([1, 4, 0], 2, "key is empty"),
            ([1, 4, 5, UInt8(ascii: "a")], 3, "5 bytes needed, 1 left"),
        ]
        for c in cases {
            #expect(throws: CMapDecodingError(offset: c.offset, reason: c.reason)) {
                try CMapCodec.decodeOperation(c.bytes)
            }
        }
    }
}
