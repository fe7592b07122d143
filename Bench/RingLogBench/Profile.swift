#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import RingLog
import Synchronization

/// `--profile raw|rawpair|ringlog|gcl RECORD_BYTES PER_SYNC BATCHES`: runs one loop alone for a fixed
/// number of batches and prints its wall and CPU time per batch, for `perf stat`, `strace -c -f`
/// and `perf sched` to attribute what one loop costs.
/// `rawpair` alternates raw batches from offset 0 and after a segment header, to measure what
/// the file layout costs.
func profileMode(_ rest: [String]) throws {
    guard rest.count >= 4, let recordBytes = Int(rest[1]), let perSync = Int(rest[2]), let batches = Int(rest[3]) else {
        print("usage: RingLogBench [directory] --profile raw|rawpair|ringlog|gcl RECORD_BYTES PER_SYNC BATCHES")
        exit(2)
    }
    var tally = Tally()
    switch rest[0] {
    case "raw":
        let raw = RawLoop(recordBytes: recordBytes, perSync: perSync)
        tally.add { raw.run(batches: batches) }
    case "ringlog":
        let direct = try LogLoop(recordBytes: recordBytes, perSync: perSync)
        try tally.add {
            for _ in 0..<batches { _ = try direct.runBatch() }
            return batches * perSync
        }
    case "rawpair":
        // Aligned batches (offset 0) and batches after a segment-sized header, alternating.
        let aligned = RawLoop(recordBytes: recordBytes, perSync: perSync, headerBytes: 0)
        let shifted = RawLoop(recordBytes: recordBytes, perSync: perSync)
        var a = Tally()
        var b = Tally()
        for k in 0..<batches {
            if k % 2 == 0 {
                a.add { aligned.runBatch() }
                b.add { shifted.runBatch() }
            } else {
                b.add { shifted.runBatch() }
                a.add { aligned.runBatch() }
            }
        }
        print(
            "raw at offset 0: \(fixed(a.seconds * 1e6 / Double(batches), digits: 1)) µs/batch; "
                + "after a \(segmentHeaderBytes)-byte header: \(fixed(b.seconds * 1e6 / Double(batches), digits: 1)) µs/batch")
        tally.merge(a)
        tally.merge(b)
    case "gcl":
        let pipelined = try PipelinedLoop(recordBytes: recordBytes, perSync: perSync)
        try tally.add { try pipelined.run(batches: batches) }
    default:
        print("unknown loop \(rest[0])")
        exit(2)
    }
    print(
        "\(rest[0]) \(recordBytes) B x \(perSync): \(batches) batches, "
            + "\(fixed(tally.seconds * 1e6 / Double(batches), digits: 1)) µs/batch wall, "
            + "\(fixed(tally.cpuSeconds * 1e6 / Double(batches), digits: 1)) µs/batch CPU; load \(loadAverage())")
    let syncTimes = syncGaps.withLock { $0.syncNanos }.map { Double($0) / 1000 }
    if !syncTimes.isEmpty {
        print("  sync µs: p50 \(fixed(median(syncTimes), digits: 1)), mean \(fixed(syncTimes.reduce(0, +) / Double(syncTimes.count), digits: 1))")
    }
    let gaps = syncGaps.withLock { $0.nanos }.sorted()
    if !gaps.isEmpty {
        func at(_ q: Double) -> String { fixed(Double(gaps[Int(Double(gaps.count - 1) * q)]) / 1000, digits: 1) }
        let mean = Double(gaps.reduce(0, &+)) / Double(gaps.count) / 1000
        print("  gap between syncs µs: p10 \(at(0.1)), p50 \(at(0.5)), p90 \(at(0.9)), p99 \(at(0.99)), mean \(fixed(mean, digits: 1))")
    }
}
