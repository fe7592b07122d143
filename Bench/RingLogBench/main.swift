// RingLog benchmark: the raw limit of this disk (a loop of pwrite + fdatasync of the same
// byte counts, no log code) against the log, in the same run, for 256-byte and 4 KiB
// records, one record per fdatasync and 64 per fdatasync (group commit). Two ways of using
// the log are measured:
//
// - RingLog: `append` + `sync()` on the calling thread, as the simulator drives it; all the
//   framing, CRC32C and bookkeeping is on the thread that then waits for the disk.
// - GroupCommitLog: the node's path. The producer appends batch k+1 as soon as batch k-1 is
//   durable, so at most two batches are in flight; `recordsPerSyncMax` keeps each fdatasync
//   to one batch, as in the raw loop (the table reports the measured records per
//   fdatasync). The framing and CRC of batch k+1 run while batch k is synced.
//
// The raw loop writes its batches at the offsets the log writes them: after a segment
// header's worth of bytes (32), so each 16 KiB batch touches five pages, not four. Before
// 2026-11-26b it wrote from offset 0, which on ext4 here was 1-11 % faster per 256 B x 64
// batch (ringlog-2026-11-26b.md): part of the gap was the file layout, not the log code.
// `--raw-aligned` restores that loop for comparison.
//
//     swift build -c release --product RingLogBench && .build/release/RingLogBench [directory] [seconds]
//         [--raw-aligned] [--case 256x64] [--prealloc BYTES]
//     .build/release/RingLogBench [directory] --sync-probe ROUNDS
//
// The raw loop appends (the file grows with every write); the log preallocates its segments
// (RingLog+Preallocation.swift) unless `--prealloc 0`, so since 2026-11-26e the log can beat
// the raw loop. `--sync-probe` measures fdatasync latency by file preparation alone.
//
// Each case runs for 3 × seconds (default 3), at least 5 rounds. `--case BYTESxPER` runs one
// case only. Diagnostics: `--profile raw|rawpair|ringlog|gcl BYTES PER BATCHES` (one loop
// alone, for perf and strace) and `--fake-sync-us N` (see LatencyDisk.swift).
//
// The directory (default: the system temporary directory) must be on the file system under
// test. The loops run in rounds: 16 raw and 16 RingLog batches alternate one by one, then
// 16 GroupCommitLog and 16 raw batches run (in alternating order). The result is
// the median over rounds of each round's ratio, so a change of disk speed or machine load
// shifts a few rounds, not the result. Process CPU time per record is reported too: on a
// shared machine it says more about the log's own cost than wall-clock rates do.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Basics
import Dispatch
import RingLog
import Synchronization

var arguments = CommandLine.arguments
/// `--cpu`: no fdatasync at all (tmpfs, `fsync: .off`), only the CPU time of each loop per
/// batch; the log's own cost, free of the disk's noise.
let cpuOnly = arguments.contains("--cpu")
arguments.removeAll { $0 == "--cpu" }
/// `--fake-sync-us N`: see `LatencyDisk` (diagnostic only).
let fakeSyncMicros: Int? = arguments.firstIndex(of: "--fake-sync-us").flatMap { k in
    k + 1 < arguments.count ? Int(arguments[k + 1]) : nil
}
if let k = arguments.firstIndex(of: "--fake-sync-us") { arguments.removeSubrange(k...min(k + 1, arguments.count - 1)) }
func benchDisk() -> any Disk { fakeSyncMicros.map { LatencyDisk(micros: $0) } ?? FileDisk() }
/// `--raw-aligned`: the raw loop writes from offset 0 (the benchmark before 2026-11-26b).
let rawAligned = arguments.contains("--raw-aligned")
arguments.removeAll { $0 == "--raw-aligned" }
/// `--case 256x64`: only that record size and batch.
let onlyCase: String? = arguments.firstIndex(of: "--case").flatMap { k in k + 1 < arguments.count ? arguments[k + 1] : nil }
if let k = arguments.firstIndex(of: "--case") { arguments.removeSubrange(k...min(k + 1, arguments.count - 1)) }
/// `--prealloc N`: the logs' `preallocationBytes` (default: RingLogOptions' default; 0 is
/// the log before preallocation, for an A/B in the same minute).
let preallocationBytes: Int = arguments.firstIndex(of: "--prealloc").flatMap { k in
    k + 1 < arguments.count ? Int(arguments[k + 1]) : nil
} ?? RingLogOptions().preallocationBytes
if let k = arguments.firstIndex(of: "--prealloc") { arguments.removeSubrange(k...min(k + 1, arguments.count - 1)) }
/// `--sync-probe ROUNDS`: fdatasync latency by file preparation (SyncProbe.swift).
let probeRounds: Int? = arguments.firstIndex(of: "--sync-probe").map { k in
    k + 1 < arguments.count ? Int(arguments[k + 1]) ?? 4 : 4
}
if let k = arguments.firstIndex(of: "--sync-probe") { arguments.removeSubrange(k...min(k + 1, arguments.count - 1)) }
let logOptions = RingLogOptions(fsync: cpuOnly ? .off : .on, preallocationBytes: preallocationBytes)
let defaultDirectory = cpuOnly ? "/dev/shm" : (getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp")
let baseDirectory = arguments.count > 1 ? arguments[1] : defaultDirectory
let secondsPerCase = arguments.count > 2 ? Double(arguments[2]) ?? 3 : 3

func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

func freshDirectory(_ name: String) -> String {
    let path = "\(baseDirectory)/ringlog-bench-\(getpid())-\(name)"
    removeTree(path)
    mkdir(path, 0o755)
    return path
}

func removeTree(_ path: String) {
    guard let dir = opendir(path) else {
        unlink(path)
        return
    }
    var names: [String] = []
    while let entry = readdir(dir) {
        let name = withUnsafePointer(to: &entry.pointee.d_name) {
            $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
        }
        if name != "." && name != ".." { names.append(name) }
    }
    closedir(dir)
    for name in names { removeTree(path + "/" + name) }
    rmdir(path)
}

/// Where the first record of a segment starts (the segment header's size), read from a
/// real log rather than assumed.
let segmentHeaderBytes: Int = {
    let directory = freshDirectory("header")
    defer { removeTree(directory) }
    do {
        let log = try RingLog(disk: FileDisk(), directory: directory, options: RingLogOptions(fsync: .off))
        defer { log.close() }
        try log.append(LogRecord(index: LogIndex(1), epoch: Epoch(1), payload: []))
        try log.sync()
        return Int(log.location(of: LogIndex(1))?.offset ?? 0)
    } catch {
        fatalError("cannot open a log in \(directory): \(error)")
    }
}()

/// The raw limit: pwrite(recordBytes * perSync bytes) + fdatasync on a fresh file,
/// appending as the log does.
final class RawLoop {
    let directory = freshDirectory("raw")
    let fd: Int32
    let chunk: [UInt8]
    let perSync: Int
    var offset: off_t = 0

    /// `headerBytes`: bytes written (and synced) at the start of the file before the first
    /// batch, so that the batches lie at the same offsets as in a segment file.
    init(recordBytes: Int, perSync: Int, headerBytes: Int = segmentHeaderBytes) {
        fd = open(directory + "/raw.dat", O_RDWR | O_CREAT | O_TRUNC, 0o644)
        precondition(fd >= 0, "open failed: errno \(errno)")
        chunk = [UInt8](repeating: 0x5A, count: recordBytes * perSync)
        self.perSync = perSync
        if headerBytes > 0 {
            let header = [UInt8](repeating: 0xA5, count: headerBytes)
            precondition(header.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) } == headerBytes, "short write")
            precondition(fdatasync(fd) == 0, "fdatasync failed: errno \(errno)")
            offset = off_t(headerBytes)
        }
    }

    deinit {
        close(fd)
        removeTree(directory)
    }

    /// Runs for `seconds`; returns the records written.
    func run(batches: Int) -> Int {
        var records = 0
        for _ in 0..<batches { records += runBatch() }
        return records
    }

    /// One pwrite + fdatasync; returns the records it stands for.
    func runBatch() -> Int {
        let written = chunk.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, offset) }
        precondition(written == chunk.count, "short write")
        if !cpuOnly {
            let synced = fakeSyncMicros.map { fakeSync(fd, micros: $0) } ?? fdatasync(fd)
            precondition(synced == 0, "fdatasync failed: errno \(errno)")
        }
        offset += off_t(chunk.count)
        return perSync
    }
}

/// RingLog: append `perSync` records of `recordBytes` bytes on disk (header included),
/// then one sync.
final class LogLoop {
    let directory = freshDirectory("ringlog")
    let log: RingLog
    let payload: [UInt8]
    let perSync: Int
    var next: UInt64 = 1
    var batch: [LogRecord] = []

    init(recordBytes: Int, perSync: Int) throws {
        log = try RingLog(disk: benchDisk(), directory: directory, options: logOptions)
        payload = [UInt8](repeating: 0x5A, count: recordBytes - RecordCodec.headerBytes)
        self.perSync = perSync
        batch.reserveCapacity(perSync)
    }

    deinit {
        log.close()
        removeTree(directory)
    }

    /// One batch: `perSync` records appended (framing, CRC32C, offsets, epochs) and one
    /// `sync()`, which writes them and advances the durable index after fdatasync.
    func runBatch() throws -> Int {
        batch.removeAll(keepingCapacity: true)
        for _ in 0..<perSync {
            batch.append(LogRecord(index: LogIndex(next), epoch: Epoch(1), type: 1, payload: payload))
            next += 1
        }
        try log.append(batch)
        let durable = try log.sync()
        precondition(durable == LogIndex(next - 1), "durable \(durable), expected \(next - 1)")
        return perSync
    }
}

/// GroupCommitLog with a window of two batches: batch k+1 is appended once batch k-1 is
/// durable. Every slice starts and ends with nothing in flight.
final class PipelinedLoop {
    /// What the log's queue reports back: the durable index and the number of syncs.
    final class Progress: Sendable {
        let durable = Atomic<UInt64>(0)
        let syncs = Atomic<Int>(0)
        let failed = Atomic<Bool>(false)
        let signal = DispatchSemaphore(value: 0)
    }

    let directory = freshDirectory("groupcommit")
    let log: GroupCommitLog
    let progress = Progress()
    let payload: [UInt8]
    let perSync: Int
    var next: UInt64 = 1

    init(recordBytes: Int, perSync: Int) throws {
        let progress = self.progress
        log = GroupCommitLog(try RingLog(disk: benchDisk(), directory: directory, options: logOptions), recordsPerSyncMax: perSync) { result in
            switch result {
            case .success(let index):
                progress.durable.store(index.rawValue, ordering: .releasing)
                progress.syncs.add(1, ordering: .relaxed)
            case .failure:
                progress.failed.store(true, ordering: .releasing)
            }
            progress.signal.signal()
        }
        payload = [UInt8](repeating: 0x5A, count: recordBytes - RecordCodec.headerBytes)
        self.perSync = perSync
    }

    deinit {
        _ = try? log.performSync { $0.close() }
        removeTree(directory)
    }

    var syncCount: Int { progress.syncs.load(ordering: .relaxed) }

    private func waitDurable(_ index: UInt64) {
        while progress.durable.load(ordering: .acquiring) < index {
            precondition(!progress.failed.load(ordering: .acquiring), "GroupCommitLog failed: \(String(describing: log.failure))")
            progress.signal.wait()
        }
    }

    /// Runs `batches` batches of `perSync` records; returns the records, all durable.
    func run(batches: Int) throws -> Int {
        var previousLast: UInt64? = nil
        for _ in 0..<batches {
            var batch: [LogRecord] = []
            batch.reserveCapacity(perSync)
            for _ in 0..<perSync {
                batch.append(LogRecord(index: LogIndex(next), epoch: Epoch(1), type: 1, payload: payload))
                next += 1
            }
            try log.append(batch)
            if let previousLast { waitDurable(previousLast) }
            previousLast = next - 1
        }
        if let previousLast { waitDurable(previousLast) }
        return batches * perSync
    }
}

func processCPUSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// Records, wall seconds and process CPU seconds of one loop over the rounds.
struct Tally {
    var records = 0
    var seconds = 0.0
    var cpuSeconds = 0.0

    mutating func add(_ body: () throws -> Int) rethrows {
        let t = now()
        let c = processCPUSeconds()
        let n = try body()
        let elapsed = now() - t
        records += n
        seconds += elapsed
        cpuSeconds += processCPUSeconds() - c
    }

    mutating func merge(_ other: Tally) {
        records += other.records
        seconds += other.seconds
        cpuSeconds += other.cpuSeconds
    }

    var rate: Double { Double(records) / seconds }
    var cpuMicrosPerRecord: Double { cpuSeconds * 1e6 / Double(records) }
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    let n = sorted.count
    return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2
}

func quartiles(_ values: [Double]) -> (Double, Double) {
    let sorted = values.sorted()
    return (sorted[sorted.count / 4], sorted[(sorted.count * 3) / 4])
}

func percent(_ ratio: Double) -> String {
    fixed(ratio * 100, digits: 1) + " %"
}

func loadAverage() -> String {
    var loads = [Double](repeating: 0, count: 3)
    guard getloadavg(&loads, 3) == 3 else { return "?" }
    return loads.map { fixed($0, digits: 2) }.joined(separator: " ")
}

/// `value` with `digits` decimals (no Foundation).
func fixed(_ value: Double, digits: Int) -> String {
    var scale = 1
    for _ in 0..<digits { scale *= 10 }
    let n = Int((value * Double(scale)).rounded())
    let fraction = String(n % scale)
    return "\(n / scale)." + String(repeating: "0", count: digits - fraction.count) + fraction
}

/// `batches` raw and RingLog batches strictly alternating (which goes first alternates too),
/// each timed on its own: consecutive fdatasyncs see the same disk, so the ratio of the two
/// sums is as fair as a shared disk allows.
func pairedRun(_ raw: RawLoop, _ direct: LogLoop, batches: Int, raws: inout Tally, directs: inout Tally) throws {
    for k in 0..<batches {
        if k % 2 == 0 {
            raws.add { raw.runBatch() }
            try directs.add { try direct.runBatch() }
        } else {
            try directs.add { try direct.runBatch() }
            raws.add { raw.runBatch() }
        }
    }
}

func threadCPUSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// `--cpu`: the thread CPU time of a batch of raw pwrites and of RingLog append + sync
/// (`fsync: .off`, so sync only writes) on tmpfs. Reports the minimum over runs of 200
/// batches, the estimate least disturbed by other processes on the cores.
func cpuMode() throws {
    print("RingLogBench --cpu: directory \(baseDirectory), load average \(loadAverage())")
    print("Thread CPU µs per batch, minimum over runs of 200 batches; no fdatasync (tmpfs, fsync off).")
    print("")
    print("| record | per batch | raw pwrite | RingLog append + sync | RingLog's own cost per record |")
    print("|---|---|---|---|---|")
    for recordBytes in [256, 4096] {
        for perSync in [1, 64] {
            let raw = RawLoop(recordBytes: recordBytes, perSync: perSync)
            let direct = try LogLoop(recordBytes: recordBytes, perSync: perSync)
            var rawBest = Double.infinity
            var logBest = Double.infinity
            let start = now()
            var runs = 0
            while runs < 5 || now() - start < secondsPerCase {
                var c = threadCPUSeconds()
                for _ in 0..<200 { _ = raw.runBatch() }
                rawBest = min(rawBest, (threadCPUSeconds() - c) / 200)
                c = threadCPUSeconds()
                for _ in 0..<200 { _ = try direct.runBatch() }
                logBest = min(logBest, (threadCPUSeconds() - c) / 200)
                runs += 1
            }
            let size = recordBytes == 256 ? "256 B" : "4 KiB"
            print(
                "| \(size) | \(perSync) | \(fixed(rawBest * 1e6, digits: 2)) | \(fixed(logBest * 1e6, digits: 2)) "
                    + "| \(fixed((logBest - rawBest) * 1e6 / Double(perSync), digits: 3)) |")
        }
    }
}

if cpuOnly {
    try cpuMode()
    exit(0)
}

if let probeRounds {
    syncProbe(rounds: probeRounds)
    exit(0)
}

if let k = arguments.firstIndex(of: "--profile") {
    try profileMode(Array(arguments[(k + 1)...]))
    exit(0)
}

/// Batches per loop per round: enough for the pipeline to run (its first batch is not
/// overlapped), few enough that the two loops of a round see nearly the same disk.
let batchesPerRound = 16
let caseSeconds = 3 * secondsPerCase
print("RingLogBench: \(caseSeconds) s per case; directory \(baseDirectory); load average \(loadAverage()); log preallocationBytes \(preallocationBytes)")
print(
    "Raw loop: pwrite + fdatasync per batch, "
        + (rawAligned ? "from offset 0 (--raw-aligned)." : "after a \(segmentHeaderBytes)-byte header, at the log's offsets."))
print(
    "Each round: \(batchesPerRound) raw and \(batchesPerRound) RingLog batches alternating one by one, then "
        + "\(batchesPerRound) GroupCommitLog batches and \(batchesPerRound) raw batches (that order reversed every other round).")
print(
    "Ratios: the median over rounds of the round's (log records/s) / (raw records/s), RingLog against the raw "
        + "batches it alternated with, GroupCommitLog against the raw batches next to it; [p25-p75] in brackets.")
print("")
print(
    "| record | per fdatasync | rounds | raw records/s | RingLog / raw | GroupCommitLog / raw "
        + "| GCL records per fdatasync | CPU µs/record raw, RingLog, GCL | target |")
print("|---|---|---|---|---|---|---|---|---|")
for recordBytes in [256, 4096] {
    for perSync in [1, 64] where onlyCase == nil || onlyCase == "\(recordBytes)x\(perSync)" {
        let raw = RawLoop(recordBytes: recordBytes, perSync: perSync, headerBytes: rawAligned ? 0 : segmentHeaderBytes)
        let direct = try LogLoop(recordBytes: recordBytes, perSync: perSync)
        let pipelined = try PipelinedLoop(recordBytes: recordBytes, perSync: perSync)
        var pairedRaw = Tally()
        var directTally = Tally()
        var aloneRaw = Tally()
        var pipelinedTally = Tally()
        var directRatios: [Double] = []
        var pipelinedRatios: [Double] = []
        let start = now()
        var round = 0
        while round < 5 || now() - start < caseSeconds {
            var r = Tally()
            var d = Tally()
            try pairedRun(raw, direct, batches: batchesPerRound, raws: &r, directs: &d)
            directRatios.append(d.rate / r.rate)
            pairedRaw.merge(r)
            directTally.merge(d)
            var a = Tally()
            var p = Tally()
            if round % 2 == 0 {
                try p.add { try pipelined.run(batches: batchesPerRound) }
                a.add { raw.run(batches: batchesPerRound) }
            } else {
                a.add { raw.run(batches: batchesPerRound) }
                try p.add { try pipelined.run(batches: batchesPerRound) }
            }
            pipelinedRatios.append(p.rate / a.rate)
            aloneRaw.merge(a)
            pipelinedTally.merge(p)
            round += 1
        }
        let target = perSync == 1 ? 0.80 : 0.90
        let size = recordBytes == 256 ? "256 B" : "4 KiB"
        func cell(_ ratios: [Double]) -> String {
            let (p25, p75) = quartiles(ratios)
            return "\(percent(median(ratios))) [\(percent(p25))-\(percent(p75))]"
        }
        let perFsync = Double(pipelinedTally.records) / Double(max(pipelined.syncCount, 1))
        let cpu = [pairedRaw, directTally, pipelinedTally].map { fixed($0.cpuMicrosPerRecord, digits: 1) }
        let met = [median(directRatios), median(pipelinedRatios)].map { $0 >= target ? "met" : "NOT met" }
        print(
            "| \(size) | \(perSync) | \(round) | \(Int(pairedRaw.rate)) | \(cell(directRatios)) | \(cell(pipelinedRatios)) "
                + "| \(fixed(perFsync, digits: 1)) | \(cpu.joined(separator: ", ")) "
                + "| >= \(Int(target * 100)) %: RingLog \(met[0]), GCL \(met[1]) |")
    }
}
print("")
print("load average at the end: \(loadAverage())")
