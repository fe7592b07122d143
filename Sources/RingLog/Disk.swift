/// Every file operation the log performs goes through `Disk`, so the same log code runs on
/// real files (`FileDisk`) and on the simulator's faulty disk (`SimulatedDisk`), where a seed
/// decides which unsynced writes survive a crash.
///
/// Paths are plain strings joined with "/". A handle is only valid on the disk that issued
/// it. Every failure is a thrown `DiskError` naming the operation, the path and the errno.
public protocol Disk: AnyObject {
    /// Opens a file for reading and writing.
    func open(_ path: String, mode: DiskOpenMode) throws -> DiskHandle
    func close(_ handle: DiskHandle)
    /// The current size of the file in bytes (including writes not yet synced).
    func size(of handle: DiskHandle) throws -> UInt64
    /// Writes all of `bytes` at `offset` (pwrite), extending the file when needed.
    func write(_ handle: DiskHandle, at offset: UInt64, _ bytes: UnsafeRawBufferPointer) throws
    /// Reads up to `count` bytes at `offset`; fewer only at the end of the file.
    func read(_ handle: DiskHandle, at offset: UInt64, count: Int) throws -> [UInt8]
    /// Makes every write to the file durable (fdatasync). Returns only once they are.
    func sync(_ handle: DiskHandle) throws
    /// Sets the file's size (ftruncate). Durable only after `sync`.
    func truncate(_ handle: DiskHandle, to size: UInt64) throws
    /// Atomically replaces `to` with `from` (rename). Durable only after `syncDirectory`.
    func rename(_ from: String, to: String) throws
    /// Removes a file (unlink). Durable only after `syncDirectory`.
    func remove(_ path: String) throws
    /// The names (not paths) of the entries of a directory, sorted.
    func list(directory: String) throws -> [String]
    /// Creates a directory; succeeds if it already exists.
    func createDirectory(_ path: String) throws
    /// Makes the creations, renames and removals in a directory durable (fsync on the directory).
    func syncDirectory(_ path: String) throws
}

extension Disk {
    public func write(_ handle: DiskHandle, at offset: UInt64, _ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write(handle, at: offset, $0) }
    }

    /// Whether `name` is an entry of `directory`.
    public func exists(_ name: String, in directory: String) throws -> Bool {
        try list(directory: directory).contains(name)
    }
}

/// How `Disk.open` treats an existing file.
public enum DiskOpenMode: Sendable, Equatable {
    /// The file must exist.
    case existing
    /// Create the file, or truncate it to zero bytes if it exists.
    case createOrTruncate
}

/// An open file on a `Disk`: a file descriptor for `FileDisk`, a counter for the simulator.
public struct DiskHandle: Hashable, Sendable, CustomStringConvertible {
    public var rawValue: Int32
    public init(_ rawValue: Int32) { self.rawValue = rawValue }
    public var description: String { "handle \(rawValue)" }
}

/// A failed file operation: which, on which path, and the errno it failed with.
public struct DiskError: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Operation: String, Sendable {
        case open, close, size, write, read, sync, truncate, rename, remove, list
        case createDirectory, syncDirectory
    }

    public var operation: Operation
    public var path: String
    public var errno: Int32
    /// A short explanation (strerror for real errors, the injected fault for simulated ones).
    public var message: String

    public init(_ operation: Operation, path: String, errno: Int32, message: String) {
        self.operation = operation
        self.path = path
        self.errno = errno
        self.message = message
    }

    public var description: String { "\(operation.rawValue) \(path): \(message) (errno \(errno))" }
}

/// Joins a directory and a name.
@inlinable
public func diskPath(_ directory: String, _ name: String) -> String {
    directory.hasSuffix("/") ? directory + name : directory + "/" + name
}
