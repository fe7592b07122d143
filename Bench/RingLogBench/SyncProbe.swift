// `--sync-probe`: the latency of one pwrite + fdatasync by how the file's blocks were
// prepared, with no log code: what decided how RingLog preallocates
// (RingLog+Preallocation.swift). Modes, each on a fresh file:
//
// - append: every write extends the file (RingLog before preallocation);
// - fallocate: posix_fallocate (fallocate(2), mode 0) 1 MiB at a time ahead of the writes (unwritten extents);
// - zero-step: 1 MiB of zeros written ahead whenever the writes reach the end, carried by
//   the next fdatasync (RingLog's inline path);
// - zeroed: the whole file written with zeros and synced first (the ideal: data only).
//
// The modes alternate in rounds of `probeWrites` writes, so a change of machine load hits
// all of them. Run it under `chrt -f 10` on a busy machine: otherwise the wake-up after
// fdatasync waits for a CPU and the figures are the scheduler's, not the disk's.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

let probeWrites = 500
let probeStep = 1 << 20

enum ProbeMode: String, CaseIterable {
    case append, fallocate, zeroStep = "zero-step", zeroed
}

/// Latencies in milliseconds of `probeWrites` writes of `bytes` each + fdatasync.
func probeRound(_ mode: ProbeMode, bytes: Int, directory: String) -> [Double] {
    let path = directory + "/probe.dat"
    let fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0o644)
    precondition(fd >= 0, "open \(path) failed: errno \(errno)")
    defer {
        close(fd)
        unlink(path)
    }
    let zeros = [UInt8](repeating: 0, count: probeStep)
    let total = probeWrites * bytes + probeStep
    func writeZeros(at offset: Int) {
        let n = zeros.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(offset)) }
        precondition(n == zeros.count, "short write")
    }
    if mode == .zeroed {
        var offset = 0
        while offset < total {
            writeZeros(at: offset)
            offset += probeStep
        }
        precondition(fdatasync(fd) == 0, "fdatasync failed")
    }
    let record = [UInt8](repeating: 0x5A, count: bytes)
    var prepared = 0
    var latencies: [Double] = []
    latencies.reserveCapacity(probeWrites)
    for k in 0..<probeWrites {
        let offset = k * bytes
        let start = now()
        if offset + bytes > prepared && (mode == .fallocate || mode == .zeroStep) {
            if mode == .fallocate {
                // posix_fallocate is fallocate(2) with mode 0 where the file system has it.
                let result = posix_fallocate(fd, off_t(prepared), off_t(probeStep))
                precondition(result == 0, "posix_fallocate failed: \(result)")
            } else {
                writeZeros(at: prepared)
            }
            prepared += probeStep
        }
        let n = record.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(offset)) }
        precondition(n == bytes, "short write")
        precondition(fdatasync(fd) == 0, "fdatasync failed")
        latencies.append((now() - start) * 1000)
    }
    return latencies
}

func syncProbe(rounds: Int) {
    print("RingLogBench --sync-probe: directory \(baseDirectory), load average \(loadAverage())")
    print("pwrite + fdatasync latency in ms, \(rounds) rounds of \(probeWrites) writes per mode, modes alternating.")
    print("")
    print("| write | file prepared by | mean | p50 | p90 | p99 | max |")
    print("|---|---|---|---|---|---|---|")
    let directory = freshDirectory("probe")
    defer { removeTree(directory) }
    for bytes in [256, 16 << 10] {
        var all: [ProbeMode: [Double]] = [:]
        for round in 0..<rounds {
            let modes = round % 2 == 0 ? ProbeMode.allCases : ProbeMode.allCases.reversed()
            for mode in modes { all[mode, default: []] += probeRound(mode, bytes: bytes, directory: directory) }
        }
        for mode in ProbeMode.allCases {
            let sorted = (all[mode] ?? []).sorted()
            guard !sorted.isEmpty else { continue }
            func at(_ q: Double) -> String { fixed(sorted[min(sorted.count - 1, Int(Double(sorted.count) * q))], digits: 3) }
            let mean = sorted.reduce(0, +) / Double(sorted.count)
            let size = bytes == 256 ? "256 B" : "16 KiB"
            print("| \(size) | \(mode.rawValue) | \(fixed(mean, digits: 3)) | \(at(0.5)) | \(at(0.9)) | \(at(0.99)) "
                + "| \(fixed(sorted[sorted.count - 1], digits: 3)) |")
        }
    }
    print("")
    print("load average at the end: \(loadAverage())")
}
