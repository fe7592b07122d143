#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import RingLog
import Synchronization

/// `--fake-sync-us N`: a diagnostic disk with a fixed fdatasync latency. The files live on
/// tmpfs (where fdatasync returns at once) and every sync then sleeps N µs, blocking the
/// thread as a real disk flush does. Raw and log loops pay the same sleep, so the difference
/// between them is the log's own cost on the path between two syncs, free of the shared
/// disk's noise. Not a measurement of any disk.
func fakeSync(_ fd: Int32, micros: Int) -> Int32 {
    let entry = monotonicNanos()
    syncGaps.withLock { gaps in
        if gaps.lastExit != 0 { gaps.nanos.append(entry &- gaps.lastExit) }
    }
    defer {
        let exit = monotonicNanos()
        syncGaps.withLock {
            $0.lastExit = exit
            $0.syncNanos.append(exit &- entry)
        }
    }
    let result = fdatasync(fd)
    // Timer slack is per thread and 50 µs by default: it would blur the latency.
    if let setSlack = setTimerSlack { _ = setSlack(29, 1, 0, 0, 0) }  // PR_SET_TIMERSLACK
    var request = timespec(tv_sec: micros / 1_000_000, tv_nsec: (micros % 1_000_000) * 1000)
    var remaining = timespec()
    while nanosleep(&request, &remaining) != 0 && errno == EINTR { request = remaining }
    return result
}

/// The time from the end of one fake sync to the start of the next: the work on the path
/// between two syncs (for the raw loop, one pwrite).
struct SyncGaps {
    var lastExit: UInt64 = 0
    var nanos: [UInt64] = []
    /// How long each sync took (the sleep and the wake-up after it).
    var syncNanos: [UInt64] = []
}

let syncGaps = Mutex(SyncGaps())

func monotonicNanos() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}

/// prctl, which Swift cannot call directly (it is variadic).
private let setTimerSlack: (@convention(c) (Int32, UInt, UInt, UInt, UInt) -> Int32)? = {
    #if canImport(Glibc)
    guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "prctl") else { return nil }
    return unsafeBitCast(symbol, to: (@convention(c) (Int32, UInt, UInt, UInt, UInt) -> Int32).self)
    #else
    return nil
    #endif
}()

/// `FileDisk` with `fakeSync` as its data sync.
final class LatencyDisk: Disk {
    let file = FileDisk()
    let micros: Int

    init(micros: Int) { self.micros = micros }

    func open(_ path: String, mode: DiskOpenMode) throws -> DiskHandle { try file.open(path, mode: mode) }
    func close(_ handle: DiskHandle) { file.close(handle) }
    func size(of handle: DiskHandle) throws -> UInt64 { try file.size(of: handle) }
    func write(_ handle: DiskHandle, at offset: UInt64, _ bytes: UnsafeRawBufferPointer) throws {
        try file.write(handle, at: offset, bytes)
    }
    func read(_ handle: DiskHandle, at offset: UInt64, count: Int) throws -> [UInt8] {
        try file.read(handle, at: offset, count: count)
    }
    func sync(_ handle: DiskHandle) throws {
        guard fakeSync(handle.rawValue, micros: micros) == 0 else {
            throw DiskError(.sync, path: "fd \(handle.rawValue)", errno: errno, message: "fdatasync failed")
        }
    }
    func truncate(_ handle: DiskHandle, to size: UInt64) throws { try file.truncate(handle, to: size) }
    func rename(_ from: String, to: String) throws { try file.rename(from, to: to) }
    func remove(_ path: String) throws { try file.remove(path) }
    func list(directory: String) throws -> [String] { try file.list(directory: directory) }
    func createDirectory(_ path: String) throws { try file.createDirectory(path) }
    func syncDirectory(_ path: String) throws { try file.syncDirectory(path) }
}
