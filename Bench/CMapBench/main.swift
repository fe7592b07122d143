// CMap benchmarks (issue 6): apply throughput into a store of 1M keys, prefix scan of 10,000
// keys, snapshot of 1M keys with 100-byte values. Run: swift run -c release CMapBench
// Results go to Bench/results/cmap-<date>.md by hand.
import Basics
import CMap
import Zstd

let keyCount = 1_000_000
let valueBytes = 100
let clock = ContinuousClock()

func seconds(_ d: Duration) -> Double {
    Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
}

func key(_ i: Int) -> CMapKey {
    let digits = String(i)
    return CMapKey("bench.key." + String(repeating: "0", count: 7 - digits.count) + digits)
}

/// 100 bytes of compressible text, like a small record a service would store: a JSON-ish
/// line with a decimal id, two words from a 32-word vocabulary and a counter, padded with
/// spaces. (Random bytes would not compress at all; this is what "compressible" means here.)
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

/// `CMapBench [apply|scan|snapshot]` runs one part (after the fill); no argument runs all.
let part = CommandLine.arguments.dropFirst().first
func runs(_ name: String) -> Bool { part == nil || part == name }

var rng = SeededGenerator(seed: 2026)
print("CMapBench: \(keyCount) keys, \(valueBytes)-byte values")

// 1. Fill, then overwrite: apply throughput of pre-decoded operations, and of operations
// decoded from their log encoding (what a replica does per entry).
var state = CMapState()
var index: UInt64 = 0
var fillOps: [CMapOperation] = []
fillOps.reserveCapacity(keyCount)
for i in 0..<keyCount { fillOps.append(.set(key(i), .string(value(i, 0, &rng)))) }
var start = clock.now
for op in fillOps {
    index += 1
    _ = state.apply(op, at: LogIndex(index))
}
let fillSeconds = seconds(clock.now - start)
fillOps = []
print(String(format: "fill: %d new keys in %.3f s = %.0f sets/s", keyCount, fillSeconds, Double(keyCount) / fillSeconds))

if runs("apply") {
let overwriteCount = 1_000_000
var overwriteOps: [CMapOperation] = []
overwriteOps.reserveCapacity(overwriteCount)
for _ in 0..<overwriteCount {
    let i = Int(rng.next() % UInt64(keyCount))
    overwriteOps.append(.set(key(i), .string(value(i, 1, &rng))))
}
start = clock.now
for op in overwriteOps {
    index += 1
    _ = state.apply(op, at: LogIndex(index))
}
let overwriteSeconds = seconds(clock.now - start)
print(String(format: "overwrite: %d random sets into %d keys in %.3f s = %.0f sets/s",
             overwriteCount, state.count, overwriteSeconds, Double(overwriteCount) / overwriteSeconds))

let encodedOps = overwriteOps.map { CMapCodec.encode($0) }
overwriteOps = []
start = clock.now
var decodeFailures = 0
for bytes in encodedOps {
    index += 1
    guard let op = try? CMapCodec.decodeOperation(bytes) else { decodeFailures += 1; continue }
    _ = state.apply(op, at: LogIndex(index), client: ClientID(index % 64), requestID: index)
}
let decodedSeconds = seconds(clock.now - start)
print(String(format: "decode+apply with duplicate table (64 clients): %d sets in %.3f s = %.0f sets/s (%d failures)",
             encodedOps.count, decodedSeconds, Double(encodedOps.count) / decodedSeconds, decodeFailures))

}

// 2. Prefix scan of 10,000 keys ("bench.key.001" holds keys 0010000...0019999).
if runs("scan") {
let prefix = CMapPrefix("bench.key.001")
let scans = 50
start = clock.now
var scanned = 0
for _ in 0..<scans {
    let page = state.list(prefix: prefix, after: nil, limit: 10_000)
    scanned += page.items.count
}
let scanSeconds = seconds(clock.now - start) / Double(scans)
start = clock.now
var counted = 0
for _ in 0..<1000 { counted = state.count(prefix: prefix) }
let countSeconds = seconds(clock.now - start) / 1000
print(String(format: "prefix scan: %d keys in %.3f ms (%.1f ns/key); count(prefix) = %d in %.2f µs",
             scanned / scans, scanSeconds * 1e3, scanSeconds * 1e9 / Double(scanned / scans), counted, countSeconds * 1e6))

}

// 3. Snapshot of the 1M-key state: O(1) capture, encode (serialise + zstd), decode.
if runs("snapshot") {
start = clock.now
let captured = state
let captureSeconds = seconds(clock.now - start)
var payloadBytes = 0
captured.forEach { k, e in payloadBytes += k.bytes.count + e.value.byteCount; return true }
for level: Int32 in [1, 3] {
    start = clock.now
    let bytes = try CMapSnapshot.encode(captured, epoch: Epoch(1), voters: [Voter(nodeID: NodeID(1), votes: 1)], compressionLevel: level)
    let encodeSeconds = seconds(clock.now - start)
    let header = try CMapSnapshot.decodeHeader(bytes).header
    start = clock.now
    let (_, loaded) = try CMapSnapshot.decode(bytes)
    let decodeSeconds = seconds(clock.now - start)
    precondition(loaded.stateHash == captured.stateHash && loaded.count == captured.count, "snapshot round trip differs")
    print(String(format: "snapshot zstd level %d: encode %.3f s, %d bytes = %.1f %% of the raw body (%d bytes), %.1f %% of key+value bytes (%d); decode %.3f s",
                 level, encodeSeconds, bytes.count, 100 * Double(bytes.count) / Double(header.rawBodyBytes), Int(header.rawBodyBytes),
                 100 * Double(bytes.count) / Double(payloadBytes), payloadBytes, decodeSeconds))
}
print(String(format: "capture (O(1) copy of the state): %.6f ms", captureSeconds * 1e3))
}
