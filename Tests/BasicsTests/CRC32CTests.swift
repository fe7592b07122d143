import Basics
import Foundation
import Testing

@Suite struct CRC32CTests {
    // Test vectors from RFC 3720 appendix B.4 and the usual "123456789" check value.
    @Test func checkValue() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
    }

    @Test func rfc3720Vectors() {
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
        #expect(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)) == 0x62A8_AB43)
        #expect(CRC32C.checksum((0..<32).map { UInt8($0) }) == 0x46DD_794E)
        #expect(CRC32C.checksum((0..<32).map { UInt8(31 - $0) }) == 0x113F_DB5C)
    }

    @Test func emptyIsZero() {
        #expect(CRC32C.checksum([UInt8]()) == 0)
    }

    /// Slicing-by-8 against the bytewise definition, at every length and split point.
    @Test func matchesBytewiseOracle() {
        var rng = SeededGenerator(seed: 42)
        for length in 0..<80 {
            let data = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
            let expected = bytewise(data)
            #expect(CRC32C.checksum(data) == expected)
            let split = length / 3
            let continued = CRC32C.checksum(data[split...], continuing: CRC32C.checksum(data[..<split]))
            #expect(continued == expected)
        }
    }

    private func bytewise(_ data: [UInt8]) -> UInt32 {
        var c: UInt32 = 0xFFFF_FFFF
        for b in data {
            c ^= UInt32(b)
            for _ in 0..<8 { c = (c & 1) != 0 ? (c >> 1) ^ 0x82F6_3B78 : c >> 1 }
        }
        return ~c
    }
}

@Suite struct CRC32CHardwareTests {
    /// The hardware path (when this CPU has it) against the table code, on every length
    /// 0...300 at every start offset 0...7 (alignment and tail handling), and in pieces.
    @Test func hardwareMatchesSoftware() {
        var generator = SeededGenerator(seed: 7)
        let data = (0..<320).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
        data.withUnsafeBytes { raw in
            for start in 0..<8 {
                for length in 0...300 {
                    let slice = UnsafeRawBufferPointer(rebasing: raw[start..<(start + length)])
                    let software = CRC32C.softwareChecksum(slice, continuing: 0x1234_5678)
                    #expect(CRC32C.checksum(slice, continuing: 0x1234_5678) == software, "start \(start) length \(length)")
                }
            }
            let whole = CRC32C.softwareChecksum(raw)
            let first = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[0..<101]))
            #expect(CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[101...]), continuing: first) == whole)
        }
    }

    /// On a CPU whose /proc/cpuinfo lists sse4_2, the detection (run from a C constructor)
    /// must find it: otherwise every other hardware test here compares software with itself.
    @Test func detectsTheInstructionWhenTheCPUHasIt() throws {
        #if arch(x86_64) && os(Linux)
        let cpuinfo = try String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)
        let flags = cpuinfo.split(separator: "\n").first { $0.hasPrefix("flags") } ?? ""
        if flags.split(separator: " ").contains("sse4_2") {
            #expect(CRC32C.isHardwareAccelerated)
        }
        #endif
    }

    @Test func softwareKnownValue() {
        let bytes = Array("123456789".utf8)
        #expect(bytes.withUnsafeBytes { CRC32C.softwareChecksum($0) } == 0xE306_9283)
    }
}

@Suite struct CRC32CThreeStreamTests {
    /// Buffers of 384 bytes and more take the three interleaved chains joined by the shift
    /// tables; every length 0...1024 at every start 0...15 crosses each path and tail.
    @Test func everyLengthTo1024AtEveryAlignment() {
        var generator = SeededGenerator(seed: 11)
        let data = (0..<1040).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
        var mismatches: [String] = []
        data.withUnsafeBytes { raw in
            for start in 0..<16 {
                for length in 0...1024 {
                    let slice = UnsafeRawBufferPointer(rebasing: raw[start..<(start + length)])
                    let seed = UInt32(truncatingIfNeeded: length &* 2_654_435_761)
                    if CRC32C.checksum(slice, continuing: seed) != CRC32C.softwareChecksum(slice, continuing: seed) {
                        mismatches.append("start \(start) length \(length)")
                    }
                }
            }
        }
        #expect(mismatches.isEmpty, "\(mismatches.prefix(10))")
    }

    /// Random lengths up to 200 KiB (several long blocks, then short blocks, then the tail) at
    /// random starts, whole and split at a random point.
    @Test func randomLargeBuffersAndSplits() {
        var generator = SeededGenerator(seed: 12)
        let data = (0..<(200 << 10) + 64).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
        data.withUnsafeBytes { raw in
            for _ in 0..<60 {
                let start = Int(generator.next() % 64)
                let length = Int(generator.next() % UInt64(200 << 10))
                let slice = UnsafeRawBufferPointer(rebasing: raw[start..<(start + length)])
                let expected = CRC32C.softwareChecksum(slice)
                #expect(CRC32C.checksum(slice) == expected, "start \(start) length \(length)")
                let split = length == 0 ? 0 : Int(generator.next() % UInt64(length))
                let first = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: slice[0..<split]))
                let joined = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: slice[split...]), continuing: first)
                #expect(joined == expected, "start \(start) length \(length) split \(split)")
            }
        }
    }

    /// A fixed value for a long buffer, so a wrong shift table on both paths is caught too:
    /// 4096 bytes of 0xA5, computed with the bytewise definition.
    @Test func longBufferKnownValue() {
        let bytes = [UInt8](repeating: 0xA5, count: 4096)
        var c: UInt32 = 0xFFFF_FFFF
        for b in bytes {
            c ^= UInt32(b)
            for _ in 0..<8 { c = (c & 1) != 0 ? (c >> 1) ^ 0x82F6_3B78 : c >> 1 }
        }
        #expect(CRC32C.checksum(bytes) == ~c)
    }
}
