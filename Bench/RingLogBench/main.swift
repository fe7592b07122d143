// RingLog benchmark: the raw limit of this disk (a loop of pwrite + fdatasync of the same
// byte counts, no log code) against RingLog's append + sync, in the same run, for 256-byte
// and 4 KiB records, one record per fdatasync and 64 per fdatasync (group commit).
//
//     swift run -c release RingLogBench [directory] [seconds-per-case]
//
// The directory (default: the system temporary directory) must be on the file system under
// test. Each case runs twice, alternating raw and log, to expose drift; the table reports
// the better of the two runs of each.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Basics
import RingLog

let arguments = CommandLine.arguments
let baseDirectory = arguments.count > 1 ? arguments[1] : (getenv("TMPDIR").map { String(cString: $0) } ?? "/tmp")
let secondsPerCase = arguments.count > 2 ? Double(arguments[2]) ?? 3 : 3
let rounds = 2
let iterationsMax = 1_000_000

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

/// Records per second of a loop of pwrite(recordBytes * perSync bytes) + fdatasync on a
/// fresh file, appending as the log does.
func rawLoop(recordBytes: Int, perSync: Int) -> Double {
    let dir = freshDirectory("raw")
    defer { removeTree(dir) }
    let fd = open(dir + "/raw.dat", O_RDWR | O_CREAT | O_TRUNC, 0o644)
    precondition(fd >= 0, "open failed: errno \(errno)")
    defer { close(fd) }
    let chunk = [UInt8](repeating: 0x5A, count: recordBytes * perSync)
    var offset: off_t = 0
    var iterations = 0
    let start = now()
    while iterations < iterationsMax && now() - start < secondsPerCase {
        let written = chunk.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, offset) }
        precondition(written == chunk.count, "short write")
        precondition(fdatasync(fd) == 0, "fdatasync failed: errno \(errno)")
        offset += off_t(chunk.count)
        iterations += 1
    }
    return Double(iterations * perSync) / (now() - start)
}

/// Records per second of RingLog: append `perSync` records of `recordBytes` bytes on disk
/// (header included), then one sync.
func logLoop(recordBytes: Int, perSync: Int) throws -> Double {
    let dir = freshDirectory("log")
    defer { removeTree(dir) }
    let log = try RingLog(disk: FileDisk(), directory: dir)
    defer { log.close() }
    let payload = [UInt8](repeating: 0x5A, count: recordBytes - RecordCodec.headerBytes)
    var next: UInt64 = 1
    var iterations = 0
    var batch: [LogRecord] = []
    batch.reserveCapacity(perSync)
    let start = now()
    while iterations < iterationsMax && now() - start < secondsPerCase {
        batch.removeAll(keepingCapacity: true)
        for _ in 0..<perSync {
            batch.append(LogRecord(index: LogIndex(next), epoch: Epoch(1), type: 1, payload: payload))
            next += 1
        }
        try log.append(batch)
        let durable = try log.sync()
        precondition(durable == LogIndex(next - 1), "durable \(durable), expected \(next - 1)")
        iterations += 1
    }
    return Double(iterations * perSync) / (now() - start)
}

print("RingLogBench: \(secondsPerCase) s per case, \(rounds) rounds, directory \(baseDirectory)")
print("")
print("| record | per fdatasync | raw records/s | RingLog records/s | RingLog / raw | target |")
print("|---|---|---|---|---|---|")
for recordBytes in [256, 4096] {
    for perSync in [1, 64] {
        var raw: [Double] = []
        var logged: [Double] = []
        for _ in 0..<rounds {
            raw.append(rawLoop(recordBytes: recordBytes, perSync: perSync))
            logged.append(try logLoop(recordBytes: recordBytes, perSync: perSync))
        }
        let bestRaw = raw.max()!
        let bestLog = logged.max()!
        let ratio = bestLog / bestRaw
        let permille = Int((ratio * 1000).rounded())
        let target = perSync == 1 ? 0.80 : 0.90
        let size = recordBytes == 256 ? "256 B" : "4 KiB"
        let rawText = raw.map { String(Int($0)) }.joined(separator: " / ")
        let logText = logged.map { String(Int($0)) }.joined(separator: " / ")
        print(
            "| \(size) | \(perSync) | \(rawText) | \(logText) | \(permille / 10).\(permille % 10) % "
                + "| >= \(Int(target * 100)) % \(ratio >= target ? "met" : "NOT met") |")
    }
}
