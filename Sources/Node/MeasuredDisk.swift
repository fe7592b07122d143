import Basics
import NIOCore
import RingLog

/// A `Disk` that times every `sync` (fdatasync of a log segment) into the node's fsync
/// latency histogram and passes everything else through. It wraps the log's `FileDisk`, so
/// it runs on the log's queue like the disk itself; the histogram is thread-safe.
final class MeasuredDisk: Disk {
    private let base: any Disk
    private let metrics: NodeMetrics

    init(_ base: any Disk, metrics: NodeMetrics) {
        self.base = base
        self.metrics = metrics
    }

    func sync(_ handle: DiskHandle) throws {
        let start = NIODeadline.now().uptimeNanoseconds
        defer {
            let end = NIODeadline.now().uptimeNanoseconds
            metrics.recordFsync(nanoseconds: end >= start ? end - start : 0)
        }
        try base.sync(handle)
    }

    func open(_ path: String, mode: DiskOpenMode) throws -> DiskHandle { try base.open(path, mode: mode) }
    func close(_ handle: DiskHandle) { base.close(handle) }
    func size(of handle: DiskHandle) throws -> UInt64 { try base.size(of: handle) }
    func write(_ handle: DiskHandle, at offset: UInt64, _ bytes: UnsafeRawBufferPointer) throws {
        try base.write(handle, at: offset, bytes)
    }
    func read(_ handle: DiskHandle, at offset: UInt64, count: Int) throws -> [UInt8] {
        try base.read(handle, at: offset, count: count)
    }
    func truncate(_ handle: DiskHandle, to size: UInt64) throws { try base.truncate(handle, to: size) }
    func rename(_ from: String, to: String) throws { try base.rename(from, to: to) }
    func remove(_ path: String) throws { try base.remove(path) }
    func list(directory: String) throws -> [String] { try base.list(directory: directory) }
    func createDirectory(_ path: String) throws { try base.createDirectory(path) }
    func syncDirectory(_ path: String) throws { try base.syncDirectory(path) }
}
