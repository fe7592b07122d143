import Basics
import Testing
import Zstd

@Suite struct ZstdTests {
    private func sample(_ count: Int, seed: UInt64 = 1) -> [UInt8] {
        // Compressible but not trivial: words from a small alphabet.
        var rng = SeededGenerator(seed: seed)
        let words = ["totem", "ring", "token", "aru", "seq", "node", "commit", "key", "value"]
        var out: [UInt8] = []
        while out.count < count { out += Array(words.randomElement(using: &rng)!.utf8) + [32] }
        return Array(out.prefix(count))
    }

    @Test(arguments: [0, 1, 100, 65_536, 1_000_000])
    func oneShotRoundTrip(size: Int) throws {
        let input = sample(size)
        let compressed = try Zstd.compress(input)
        #expect(try Zstd.decompress(compressed, maxDecompressedBytes: size) == input)
        if size >= 65_536 { #expect(compressed.count < input.count / 2) }
    }

    @Test func levels() throws {
        let input = sample(200_000)
        for level: Int32 in [1, 3, 9, 19] {
            #expect(try Zstd.decompress(Zstd.compress(input, level: level), maxDecompressedBytes: input.count) == input)
        }
    }

    @Test func streamingRoundTripInChunks() throws {
        let input = sample(500_000, seed: 9)
        let compressor = try ZstdCompressor(level: 5)
        var compressed: [UInt8] = []
        for start in stride(from: 0, to: input.count, by: 70_001) {
            compressed += try compressor.compress(Array(input[start..<min(start + 70_001, input.count)]))
        }
        compressed += try compressor.finish()

        let decompressor = try ZstdDecompressor(maxDecompressedBytes: input.count)
        var output: [UInt8] = []
        for start in stride(from: 0, to: compressed.count, by: 997) {
            output += try decompressor.decompress(Array(compressed[start..<min(start + 997, compressed.count)]))
        }
        try decompressor.finish()
        #expect(output == input)
    }

    @Test func sizeLimitStopsABomb() throws {
        // 64 MiB of zeros compresses to a few KiB; a 1 MiB limit must refuse it.
        let bomb = try Zstd.compress([UInt8](repeating: 0, count: 64 << 20))
        #expect(bomb.count < 64 << 10)
        #expect(throws: ZstdError.tooLarge(limitBytes: 1 << 20)) {
            try Zstd.decompress(bomb, maxDecompressedBytes: 1 << 20)
        }
    }

    @Test func truncatedFrameIsAnError() throws {
        let compressed = try Zstd.compress(sample(10_000))
        for cut in [1, 4, compressed.count / 2, compressed.count - 1] {
            #expect(throws: ZstdError.self) {
                try Zstd.decompress(Array(compressed.prefix(cut)), maxDecompressedBytes: 1 << 20)
            }
        }
        #expect(throws: ZstdError.truncated) {
            try Zstd.decompress([], maxDecompressedBytes: 10)
        }
    }

    @Test func trailingBytesAreAnError() throws {
        let compressed = try Zstd.compress(sample(1000))
        #expect(throws: ZstdError.trailingBytes(count: 3)) {
            try Zstd.decompress(compressed + [1, 2, 3], maxDecompressedBytes: 1 << 20)
        }
    }

    /// Random bit flips and garbage: always a result or a thrown error, never a crash.
    @Test func corruptInputNeverCrashes() throws {
        let original = sample(20_000, seed: 3)
        let compressed = try Zstd.compress(original)
        var rng = SeededGenerator(seed: 77)
        var errors = 0
        for _ in 0..<2000 {
            var mutated = compressed
            for _ in 0..<Int.random(in: 1...4, using: &rng) {
                let i = Int.random(in: 0..<mutated.count, using: &rng)
                mutated[i] ^= UInt8(1 << Int.random(in: 0..<8, using: &rng))
            }
            do {
                let out = try Zstd.decompress(mutated, maxDecompressedBytes: 1 << 20)
                // The frame checksum is on, so a successful decode must be the original.
                #expect(out == original)
            } catch is ZstdError {
                errors += 1
            }
        }
        #expect(errors > 1900)
        for _ in 0..<500 {
            let garbage = (0..<Int.random(in: 0..<300, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            _ = try? Zstd.decompress(garbage, maxDecompressedBytes: 1 << 16)
        }
    }
}
