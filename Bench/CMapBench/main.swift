// CMap benchmarks (issue 6): apply throughput into a store of 1M keys, prefix scan of 10,000
// keys, snapshot of 1M keys with 100-byte values. Run: swift run -c release CMapBench
// (`CMapBench apply|scan|snapshot` runs one part after the fill; `get`, `overwrite`, `hot` and
// `decode` run one measurement of the apply part, for profiling; `overwrite N` runs N passes
// of the random overwrite and prints their median and best). Results are recorded by hand
// in Bench/results/cmap-<date>.md.
import Basics
import CMap
import Zstd
#if canImport(Glibc)
import Glibc
#endif

let keyCount = 1_000_000
let valueBytes = 100
let part = CommandLine.arguments.dropFirst().first
func runs(_ name: String) -> Bool { part == nil || part == name }
let applyParts: Set<String> = ["get", "overwrite", "hot", "decode"]
func runsApply(_ name: String) -> Bool { runs("apply") || part == name }

/// Wall and CPU seconds of `body`. On a machine shared with other builds the wall time
/// measures the neighbours too, so both are printed; the CPU time is this thread's.
struct Timing {
    var wall: Double
    var cpu: Double
    func rate(_ n: Int) -> String {
        "\(Int(Double(n) / wall))/s wall (\(fmt(wall)) s), \(Int(Double(n) / cpu))/s CPU (\(fmt(cpu)) s)"
    }
}
func cpuSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}
func measure<T>(_ body: () throws -> T) rethrows -> (T, Timing) {
    let clock = ContinuousClock()
    let cpu0 = cpuSeconds()
    let start = clock.now
    let result = try body()
    let d = clock.now - start
    let wall = Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    return (result, Timing(wall: wall, cpu: cpuSeconds() - cpu0))
}
func fmt(_ x: Double, _ digits: Int = 3) -> String {
    var s = String(Double(Int((x * pow(10, Double(digits))).rounded())) / pow(10, Double(digits)))
    if s.hasSuffix(".0") { s.removeLast(2) }
    return s
}

func key(_ i: Int) -> CMapKey {
    let digits = String(i)
    return CMapKey("bench.key." + String(repeating: "0", count: 7 - digits.count) + digits)
}

/// 100 bytes of compressible text, like a small record a service would store: a JSON-ish
/// line with the decimal id, two words from a 32-word vocabulary, a round number and a
/// random number below 100,000, padded with spaces to 100 bytes. (Random bytes would not
/// compress at all; this is what "values that compress" means here.)
let words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
             "juliet", "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo",
             "sierra", "tango", "uniform", "victor", "whiskey", "xray", "yankee", "zulu",
             "north", "south", "east", "west", "up", "down"]
func value(_ i: Int, _ round: Int, _ rng: inout SeededGenerator) -> [UInt8] {
    let a = words[Int(rng.next() % 32)]
    let b = words[Int(rng.next() % 32)]
    var s = "{\"id\":\(i),\"name\":\"\(a)-\(b)\",\"round\":\(round),\"state\":\"active\",\"n\":\(rng.next() % 100000)}"
    if s.utf8.count < valueBytes { s += String(repeating: " ", count: valueBytes - s.utf8.count) }
    return Array(s.utf8.prefix(valueBytes))
}

var rng = SeededGenerator(seed: 2026)
print("CMapBench: \(keyCount) keys, \(valueBytes)-byte values")

// 1. Fill (sequential new keys), then random overwrites: apply throughput of decoded
// operations, and of operations decoded from their log encoding with a duplicate table.
var state = CMapState()
var index: UInt64 = 0
var fillOps: [CMapOperation] = (0..<keyCount).map { .set(key($0), .string(value($0, 0, &rng))) }
let (_, fill) = measure {
    for op in fillOps {
        index += 1
        _ = state.apply(op, at: LogIndex(index))
    }
}
fillOps = []
print("fill: \(keyCount) new keys in key order: \(fill.rate(keyCount))")

if runs("apply") || applyParts.contains(part ?? "") {
    let n = 1_000_000
    let ops: [CMapOperation] = (0..<n).map { _ in
        let i = Int(rng.next() % UInt64(keyCount))
        return .set(key(i), .string(value(i, 1, &rng)))
    }
    // Lookups of the same random keys: the cost of the tree walk alone.
    if runsApply("get") {
        let (found, lookups) = measure {
            var found = 0
            for case .set(let k, _) in ops where state.entry(for: k) != nil { found += 1 }
            return found
        }
        print("get: \(found) lookups of random existing keys: \(lookups.rate(n))")
    }

    if runsApply("overwrite") {
        let (_, overwrite) = measure {
            for op in ops {
                index += 1
                _ = state.apply(op, at: LogIndex(index))
            }
        }
        print("overwrite: \(n) sets of random existing keys (store of \(state.count)): \(overwrite.rate(n))")
        // `CMapBench overwrite N`: N - 1 more passes of fresh random sets, then the median
        // and best CPU rate of all N (on a shared machine one pass is noisy).
        let passes = part == "overwrite" ? min(max(Int(CommandLine.arguments.dropFirst(2).first ?? "") ?? 1, 1), 50) : 1
        var rates = [Double(n) / overwrite.cpu]
        for pass in 1..<passes {
            let more: [CMapOperation] = (0..<n).map { _ in
                let i = Int(rng.next() % UInt64(keyCount))
                return .set(key(i), .string(value(i, 10 + pass, &rng)))
            }
            let (_, timing) = measure {
                for op in more {
                    index += 1
                    _ = state.apply(op, at: LogIndex(index))
                }
            }
            print("overwrite pass \(pass + 1): \(timing.rate(n))")
            rates.append(Double(n) / timing.cpu)
        }
        if passes > 1 {
            rates.sort()
            print("overwrite, \(passes) passes: median \(Int(rates[passes / 2]))/s CPU, best \(Int(rates[passes - 1]))/s CPU")
        }
    }

    // The same sets confined to 10,000 keys: what an apply costs when the keys in use fit
    // in the CPU caches (the 1M-key case above is dominated by cache misses).
    if runsApply("hot") {
        let hot: [CMapOperation] = (0..<n).map { _ in
            let i = Int(rng.next() % 10_000)
            return .set(key(i), .string(value(i, 2, &rng)))
        }
        let (_, hotTiming) = measure {
            for op in hot {
                index += 1
                _ = state.apply(op, at: LogIndex(index))
            }
        }
        print("overwrite: \(n) sets of random keys among 10,000 of the 1M: \(hotTiming.rate(n))")
    }

    if runsApply("decode") {
        let encoded = ops.map { CMapCodec.encode($0) }
        let (failures, decoded) = measure {
            var failures = 0
            for bytes in encoded {
                index += 1
                guard let op = try? CMapCodec.decodeOperation(bytes) else { failures += 1; continue }
                _ = state.apply(op, at: LogIndex(index), client: ClientID(index % 64), requestID: index)
            }
            return failures
        }
        print("decode + apply with client ids (64 clients in the duplicate table): \(decoded.rate(n)), \(failures) failures")
    }
}

// 2. Prefix scan of 10,000 keys ("bench.key.001" holds keys 0010000...0019999).
if runs("scan") {
    let prefix = CMapPrefix("bench.key.001")
    let scans = 50
    let (scanned, scan) = measure {
        var scanned = 0
        for _ in 0..<scans { scanned += state.list(prefix: prefix, after: nil, limit: 10_000).items.count }
        return scanned / scans
    }
    let (counted, count) = measure {
        var counted = 0
        for _ in 0..<1000 { counted = state.count(prefix: prefix) }
        return counted
    }
    print("prefix scan of \(scanned) keys: \(fmt(scan.wall * 1000 / Double(scans))) ms wall, \(fmt(scan.cpu * 1000 / Double(scans))) ms CPU per scan; count(prefix) = \(counted) in \(fmt(count.cpu * 1e6 / 1000, 2)) µs CPU")
}

// 3. Snapshot of the 1M-key state: O(1) capture, encode (serialise + zstd), decode.
if runs("snapshot") {
    let (captured, capture) = measure { state }
    var payloadBytes = 0
    captured.forEach { k, e in payloadBytes += k.count + e.value.byteCount; return true }
    for level: Int32 in [1, 3] {
        let (bytes, encode) = try measure {
            try CMapSnapshot.encode(captured, epoch: Epoch(1), voters: [SnapshotVoter(nodeID: NodeID(1), votes: 1)], compressionLevel: level)
        }
        let header = try CMapSnapshot.decodeHeader(bytes).header
        let ((_, loaded), decode) = try measure { try CMapSnapshot.decode(bytes) }
        precondition(loaded.stateHash == captured.stateHash && loaded.count == captured.count, "snapshot round trip differs")
        print("snapshot, zstd level \(level): encode \(fmt(encode.wall)) s wall / \(fmt(encode.cpu)) s CPU; \(bytes.count) bytes = \(fmt(100 * Double(bytes.count) / Double(header.rawBodyBytes), 1)) % of the raw body (\(header.rawBodyBytes) bytes), \(fmt(100 * Double(bytes.count) / Double(payloadBytes), 1)) % of the key+value bytes (\(payloadBytes)); decode + verify + rebuild \(fmt(decode.wall)) s wall / \(fmt(decode.cpu)) s CPU")
    }
    print("capture (O(1) copy of the state): \(fmt(capture.wall * 1e6, 1)) µs")
}
