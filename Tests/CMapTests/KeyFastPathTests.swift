import Basics
import Testing
@testable import CMap

/// The word-at-a-time key paths (building, appending, validating, comparing) against
/// byte-by-byte definitions.
@Suite struct KeyFastPathTests {
    @Test func keyByteBitSetMatchesTheDefinition() {
        for b in UInt8.min...UInt8.max {
            #expect(CMapKey.isKeyByte(b) == CMapKey.isKeyByteSlow(b), "byte \(b)")
        }
    }

    static let alphabet = Array("abcXYZ019_./:-".utf8)

    /// Every byte value at every position of buffers of 1...17 bytes (whole words, partial
    /// words, an overlapping last word), the other bytes valid.
    @Test func allKeyBytesMatchesTheDefinitionInEveryLane() {
        for length in 1...17 {
            for position in 0..<length {
                for b in UInt8.min...UInt8.max {
                    var bytes = (0..<length).map { Self.alphabet[($0 &* 5) % Self.alphabet.count] }
                    bytes[position] = b
                    let all = bytes.withUnsafeBytes { CMapKey.allKeyBytes($0) }
                    #expect(all == CMapKey.isKeyByteSlow(b), "length \(length), byte \(b) at \(position)")
                }
            }
        }
        #expect([UInt8]().withUnsafeBytes { CMapKey.allKeyBytes($0) })
    }

    /// Random buffers of 1...40 bytes, some with several bad bytes, against a byte loop.
    @Test func allKeyBytesMatchesAByteLoop() {
        var rng = SeededGenerator(seed: 9)
        for _ in 0..<3000 {
            let length = Int(rng.next() % 40) + 1
            let bytes: [UInt8] = (0..<length).map { _ in
                rng.chance(0.03) ? UInt8(truncatingIfNeeded: rng.next()) : Self.alphabet[Int(rng.next() % UInt64(Self.alphabet.count))]
            }
            let all = bytes.withUnsafeBytes { CMapKey.allKeyBytes($0) }
            #expect(all == bytes.allSatisfy(CMapKey.isKeyByteSlow), "\(bytes)")
        }
    }

    /// Big-endian word `at` of `bytes`, zero past the end, one byte at a time.
    func referenceWord(_ bytes: [UInt8], _ at: Int) -> UInt64 {
        var w: UInt64 = 0
        for i in at..<(at + 8) { w = (w << 8) | UInt64(i < bytes.count ? bytes[i] : 0) }
        return w
    }

    @Test func wordsBytesAndValidationOfEveryLength() throws {
        var rng = SeededGenerator(seed: 7)
        for length in 1...CMapKey.maxBytes {
            let bytes = (0..<length).map { _ in Self.alphabet[Int(rng.next() % UInt64(Self.alphabet.count))] }
            let key = try CMapKey(validating: bytes)
            #expect(key.w0 == referenceWord(bytes, 0) && key.w1 == referenceWord(bytes, 8) && key.w2 == referenceWord(bytes, 16))
            #expect(key.count == length)
            #expect(key.bytes == bytes)
            var out: [UInt8] = [7]
            key.appendBytes(to: &out)
            #expect(out == [7] + bytes)
            // Equality and order agree with the bytes, also for keys that differ only in
            // their last byte or length (inline or in the tail).
            var other = bytes
            other[length - 1] = other[length - 1] == UInt8(ascii: "a") ? UInt8(ascii: "b") : UInt8(ascii: "a")
            let k2 = CMapKey(unchecked: other)
            #expect(key != k2)
            #expect((key < k2) == bytes.lexicographicallyPrecedes(other))
            #expect(key == CMapKey(unchecked: bytes))
            let shorter = CMapKey(unchecked: Array(bytes.dropLast()))
            if length > 1 { #expect(shorter < key && shorter != key) }
        }
    }

    @Test func validationNamesTheFirstBadByte() {
        var rng = SeededGenerator(seed: 8)
        for _ in 0..<500 {
            let length = Int(rng.next() % 40) + 1
            var bytes = (0..<length).map { _ in Self.alphabet[Int(rng.next() % UInt64(Self.alphabet.count))] }
            let bad = rng.chance(0.5)
            var firstBad = -1
            if bad {
                firstBad = Int(rng.next() % UInt64(length))
                bytes[firstBad] = [0, 32, 0x7F, 0x80, 0xFF, UInt8(ascii: "*")][Int(rng.next() % 6)]
            }
            let problem = CMapKey.problem(with: bytes, allowEmpty: false)
            if bad {
                #expect(problem?.contains("at offset \(firstBad);") == true, "\(problem ?? "nil")")
            } else {
                #expect(problem == nil)
            }
        }
    }
}
