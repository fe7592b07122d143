// RingLog benchmark: the raw limit of this disk (a loop of pwrite + fdatasync of the same
// byte counts, no log code) against RingLog's append + sync, in the same run, for 256-byte
// and 4 KiB records, one record per fdatasync and 64 per fdatasync (group commit).
//
//     swift run -c release RingLogBench [directory] [seconds-per-case]
//
// The directory (default: the system temporary directory) must be on the file system under
// test. Raw and log alternate in short slices so both see the same disk conditions.
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

/// The raw limit: pwrite(recordBytes * perSync bytes) + fdatasync on a fresh file,
/// appending as the log does.
final class RawLoop {
    let directory = freshDirectory("raw")
    let fd: Int32
    let chunk: [UInt8]
    let perSync: Int
    var offset: off_t = 0

    init(recordBytes: Int, perSync: Int) {
        fd = open(directory + "/raw.dat", O_RDWR | O_CREAT | O_TRUNC, 0o644)
        precondition(fd >= 0, "open failed: errno \(errno)")
        chunk = [UInt8](repeating: 0x5A, count: recordBytes * perSync)
        self.perSync = perSync
    }

    deinit {
        close(fd)
        removeTree(directory)
    }

    /// Runs for `seconds`; returns the records written.
    func run(seconds: Double) -> Int {
        var records = 0
        let start = now()
        while now() - start < seconds {
            let written = chunk.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, offset) }
            precondition(written == chunk.count, "short write")
            precondition(fdatasync(fd) == 0, "fdatasync failed: errno \(errno)")
            offset += off_t(chunk.count)
            records += perSync
        }
        return records
    }
}

/// RingLog: append `perSync` records of `recordBytes` bytes on disk (header included),
/// then one sync.
final class LogLoop {
    let directory = freshDirectory("log")
    let log: RingLog
    let payload: [UInt8]
    let perSync: Int
    var next: UInt64 = 1
    var batch: [LogRecord] = []

    init(recordBytes: Int, perSync: Int) throws {
        log = try RingLog(disk: FileDisk(), directory: directory)
        payload = [UInt8](repeating: 0x5A, count: recordBytes - RecordCodec.headerBytes)
        self.perSync = perSync
        batch.reserveCapacity(perSync)
    }

    deinit {
        log.close()
        removeTree(directory)
    }

    func run(seconds: Double) throws -> Int {
        var records = 0
        let start = now()
        while now() - start < seconds {
            batch.removeAll(keepingCapacity: true)
            for _ in 0..<perSync {
                batch.append(LogRecord(index: LogIndex(next), epoch: Epoch(1), type: 1, payload: payload))
                next += 1
            }
            try log.append(batch)
            let durable = try log.sync()
            precondition(durable == LogIndex(next - 1), "durable \(durable), expected \(next - 1)")
            records += perSync
        }
        return records
    }
}

// The disk is shared with other work, so its fdatasync latency drifts: raw and log run in
// alternating 250 ms slices and each total is divided by its own running time.
let sliceSeconds = 0.25
let slices = max(1, Int(secondsPerCase / sliceSeconds))
print("RingLogBench: \(secondsPerCase) s per loop per case, in alternating \(sliceSeconds) s slices, directory \(baseDirectory)")
print("")
print("| record | records per fdatasync | raw records/s | RingLog records/s | RingLog / raw | target |")
print("|---|---|---|---|---|---|")
for recordBytes in [256, 4096] {
    for perSync in [1, 64] {
        let raw = RawLoop(recordBytes: recordBytes, perSync: perSync)
        let logLoop = try LogLoop(recordBytes: recordBytes, perSync: perSync)
        var rawRecords = 0
        var logRecords = 0
        var rawSeconds = 0.0
        var logSeconds = 0.0
        for _ in 0..<slices {
            var t = now()
            rawRecords += raw.run(seconds: sliceSeconds)
            rawSeconds += now() - t
            t = now()
            logRecords += try logLoop.run(seconds: sliceSeconds)
            logSeconds += now() - t
        }
        let rawRate = Double(rawRecords) / rawSeconds
        let logRate = Double(logRecords) / logSeconds
        let ratio = logRate / rawRate
        let permille = Int((ratio * 1000).rounded())
        let target = perSync == 1 ? 0.80 : 0.90
        let size = recordBytes == 256 ? "256 B" : "4 KiB"
        print(
            "| \(size) | \(perSync) | \(Int(rawRate)) | \(Int(logRate)) | \(permille / 10).\(permille % 10) % "
                + "| >= \(Int(target * 100)) % \(ratio >= target ? "met" : "NOT met") |")
    }
}
