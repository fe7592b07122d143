import Basics
import RingLog

/// A deterministic in-memory disk for the simulator and the log's tests, modelled on
/// tigerbeetle's testing storage: every file has a durable image and a list of writes not
/// yet synced; every directory has durable entries and a list of creations, renames and
/// removals not yet synced. A crash (`crash(_:)`) decides, from the disk's seed, which of
/// those survive: all lost, all kept, the last one torn at any byte, or each one kept,
/// lost or torn. Directory changes survive as an ordered prefix, as a journaling file
/// system commits them.
///
/// Faults it can also inject: a write or sync that fails with EIO (with a probability, or
/// the next N), a power failure after a given number of operations (to crash at every step
/// of a procedure), and bit flips in stored data (`flipBit`).
///
/// Directories themselves are created durably at once (a simplification: the log never
/// relies on a directory it just created).
public final class SimulatedDisk: Disk {
    /// What survives of the unsynced state at a crash.
    public enum CrashMode: Sendable, CaseIterable, Equatable {
        /// Every unsynced write and directory change is lost.
        case loseUnsynced
        /// Every unsynced write and directory change survives.
        case keepUnsynced
        /// Every unsynced write survives except the last of each file, which is torn at a
        /// random byte; a random prefix of the directory changes survives.
        case tearLast
        /// Each unsynced write is kept, lost or torn independently; a random prefix of the
        /// directory changes survives.
        case random
    }

    /// Injected error rates, drawn from the disk's generator on every call.
    public struct Faults: Sendable, Equatable {
        public var writeErrorProbability: Double
        public var syncErrorProbability: Double
        public init(writeErrorProbability: Double = 0, syncErrorProbability: Double = 0) {
            self.writeErrorProbability = writeErrorProbability
            self.syncErrorProbability = syncErrorProbability
        }
    }

    static let eio: Int32 = 5
    static let enoent: Int32 = 2
    static let ebadf: Int32 = 9
    static let exdev: Int32 = 18

    var generator: SeededGenerator
    public var faults: Faults
    /// The next this-many writes (syncs) fail with EIO.
    public var failingWrites = 0
    public var failingSyncs = 0
    /// When set, the power fails on that many further changing operations from now: the
    /// operation that would exceed it fails, and so does everything until `crash(_:)`.
    public var operationsUntilPowerFailure: Int?
    public internal(set) var isPoweredOff = false
    /// Changing operations performed (writes, syncs, truncations, directory changes).
    public private(set) var operationCount = 0
    /// Crashes so far.
    public internal(set) var crashCount = 0

    var inodes: [Int: Inode] = [:]
    var directories: [String: Directory] = [:]
    /// Open handles: the file each refers to and the path it was opened by (for errors).
    var handles: [Int32: (inode: Int, path: String)] = [:]
    var nextInode = 1
    var nextHandle: Int32 = 3

    enum PendingWrite {
        case write(offset: Int, bytes: [UInt8])
        case truncate(size: Int)
    }

    struct Directory {
        var durable: [String: Int] = [:]
        var live: [String: Int] = [:]
        var pending: [DirectoryChange] = []
    }

    enum DirectoryChange {
        case link(String, inode: Int)
        case unlink(String)
        case rename(String, to: String)
    }

    public init(seed: UInt64, faults: Faults = Faults()) {
        self.generator = SeededGenerator(seed: seed)
        self.faults = faults
        directories["/"] = Directory()
    }

    // MARK: - Disk

    public func open(_ path: String, mode: DiskOpenMode) throws -> DiskHandle {
        try checkPower(.open, path)
        let (dir, name) = try split(path, .open)
        if let inode = directories[dir]?.live[name] {
            if mode == .createOrTruncate {
                try countOperation(.open, path)
                apply(.truncate(size: 0), to: inode)
            }
            return newHandle(inode, path)
        }
        guard mode == .createOrTruncate else { throw DiskError(.open, path: path, errno: Self.enoent, message: "no such file") }
        try countOperation(.open, path)
        let inode = nextInode
        nextInode += 1
        inodes[inode] = Inode()
        change(.link(name, inode: inode), in: dir)
        return newHandle(inode, path)
    }

    public func close(_ handle: DiskHandle) {
        handles[handle.rawValue] = nil
    }

    public func size(of handle: DiskHandle) throws -> UInt64 {
        let inode = try lookup(handle, .size)
        return UInt64(inodes[inode]!.live.count)
    }

    public func write(_ handle: DiskHandle, at offset: UInt64, _ bytes: UnsafeRawBufferPointer) throws {
        let inode = try lookup(handle, .write)
        try countOperation(.write, path(of: handle))
        if failingWrites > 0 || generator.chance(faults.writeErrorProbability) {
            failingWrites = max(0, failingWrites - 1)
            // A failed write may still have put some of its bytes in the page cache.
            let landed = Int(generator.next() % UInt64(bytes.count + 1))
            if landed > 0 { apply(.write(offset: Int(offset), bytes: Array(bytes.prefix(landed))), to: inode) }
            throw DiskError(.write, path: path(of: handle), errno: Self.eio, message: "injected write error")
        }
        apply(.write(offset: Int(offset), bytes: Array(bytes)), to: inode)
    }

    public func read(_ handle: DiskHandle, at offset: UInt64, count: Int) throws -> [UInt8] {
        let inode = try lookup(handle, .read)
        let live = inodes[inode]!.live
        guard offset < UInt64(live.count) else { return [] }
        let start = Int(offset)
        return Array(live[start..<min(live.count, start + count)])
    }

    public func sync(_ handle: DiskHandle) throws {
        let inode = try lookup(handle, .sync)
        try countOperation(.sync, path(of: handle))
        if failingSyncs > 0 || generator.chance(faults.syncErrorProbability) {
            failingSyncs = max(0, failingSyncs - 1)
            // The writes stay unsynced: whether they survive is decided at the crash.
            throw DiskError(.sync, path: path(of: handle), errno: Self.eio, message: "injected sync error")
        }
        inodes[inode]!.sync()
    }

    public func truncate(_ handle: DiskHandle, to size: UInt64) throws {
        let inode = try lookup(handle, .truncate)
        try countOperation(.truncate, path(of: handle))
        apply(.truncate(size: Int(size)), to: inode)
    }

    public func rename(_ from: String, to: String) throws {
        try checkPower(.rename, from)
        let (dir, fromName) = try split(from, .rename)
        let (toDir, toName) = try split(to, .rename)
        guard dir == toDir else { throw DiskError(.rename, path: from, errno: Self.exdev, message: "cross-directory rename") }
        guard directories[dir]?.live[fromName] != nil else {
            throw DiskError(.rename, path: from, errno: Self.enoent, message: "no such file")
        }
        try countOperation(.rename, from)
        change(.rename(fromName, to: toName), in: dir)
    }

    public func remove(_ path: String) throws {
        try checkPower(.remove, path)
        let (dir, name) = try split(path, .remove)
        guard directories[dir]?.live[name] != nil else {
            throw DiskError(.remove, path: path, errno: Self.enoent, message: "no such file")
        }
        try countOperation(.remove, path)
        change(.unlink(name), in: dir)
    }

    public func list(directory: String) throws -> [String] {
        try checkPower(.list, directory)
        guard let dir = directories[normalized(directory)] else {
            throw DiskError(.list, path: directory, errno: Self.enoent, message: "no such directory")
        }
        return dir.live.keys.sorted()
    }

    public func createDirectory(_ path: String) throws {
        try checkPower(.createDirectory, path)
        let path = normalized(path)
        if directories[path] == nil { directories[path] = Directory() }
    }

    public func syncDirectory(_ path: String) throws {
        try checkPower(.syncDirectory, path)
        let path = normalized(path)
        guard directories[path] != nil else {
            throw DiskError(.syncDirectory, path: path, errno: Self.enoent, message: "no such directory")
        }
        try countOperation(.syncDirectory, path)
        if failingSyncs > 0 || generator.chance(faults.syncErrorProbability) {
            failingSyncs = max(0, failingSyncs - 1)
            throw DiskError(.syncDirectory, path: path, errno: Self.eio, message: "injected sync error")
        }
        directories[path]!.durable = directories[path]!.live
        directories[path]!.pending.removeAll()
    }

    // MARK: - Helpers

    private func newHandle(_ inode: Int, _ path: String) -> DiskHandle {
        let handle = nextHandle
        nextHandle += 1
        handles[handle] = (inode, path)
        return DiskHandle(handle)
    }

    private func lookup(_ handle: DiskHandle, _ operation: DiskError.Operation) throws -> Int {
        try checkPower(operation, path(of: handle))
        guard let open = handles[handle.rawValue] else {
            throw DiskError(operation, path: "\(handle)", errno: Self.ebadf, message: "bad handle")
        }
        return open.inode
    }

    private func path(of handle: DiskHandle) -> String {
        handles[handle.rawValue]?.path ?? "\(handle)"
    }

    private func checkPower(_ operation: DiskError.Operation, _ path: String) throws {
        if isPoweredOff { throw DiskError(operation, path: path, errno: Self.eio, message: "simulated power failure") }
    }

    /// Counts a changing operation; fails it (and everything after) once the power is out.
    private func countOperation(_ operation: DiskError.Operation, _ path: String) throws {
        if let remaining = operationsUntilPowerFailure {
            if remaining <= 0 {
                isPoweredOff = true
                throw DiskError(operation, path: path, errno: Self.eio, message: "simulated power failure")
            }
            operationsUntilPowerFailure = remaining - 1
        }
        operationCount += 1
    }

    func apply(_ write: PendingWrite, to inode: Int) {
        inodes[inode]!.apply(write)
    }

    static func apply(_ write: PendingWrite, to bytes: inout [UInt8]) {
        switch write {
        case .write(let offset, let data):
            if offset == bytes.count {
                bytes.append(contentsOf: data)
                return
            }
            if bytes.count < offset + data.count {
                bytes.append(contentsOf: repeatElement(0, count: offset + data.count - bytes.count))
            }
            bytes.replaceSubrange(offset..<(offset + data.count), with: data)
        case .truncate(let size):
            if size < bytes.count {
                bytes.removeLast(bytes.count - size)
            } else {
                bytes.append(contentsOf: repeatElement(0, count: size - bytes.count))
            }
        }
    }

    private func change(_ change: DirectoryChange, in dir: String) {
        Self.apply(change, to: &directories[dir]!.live)
        directories[dir]!.pending.append(change)
    }

    static func apply(_ change: DirectoryChange, to entries: inout [String: Int]) {
        switch change {
        case .link(let name, let inode): entries[name] = inode
        case .unlink(let name): entries[name] = nil
        case .rename(let from, let to):
            if let inode = entries.removeValue(forKey: from) { entries[to] = inode }
        }
    }

    func normalized(_ path: String) -> String {
        var path = path
        while path.count > 1 && path.hasSuffix("/") { path.removeLast() }
        return path.isEmpty ? "/" : path
    }

    /// The directory and the name of a path; the directory must exist.
    func split(_ path: String, _ operation: DiskError.Operation) throws -> (String, String) {
        let path = normalized(path)
        guard let slash = path.lastIndex(of: "/") else {
            throw DiskError(operation, path: path, errno: Self.enoent, message: "relative path")
        }
        let dir = slash == path.startIndex ? "/" : String(path[..<slash])
        let name = String(path[path.index(after: slash)...])
        guard directories[dir] != nil, !name.isEmpty else {
            throw DiskError(operation, path: path, errno: Self.enoent, message: "no such directory")
        }
        return (dir, name)
    }
}
