#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The real disk: POSIX calls on the local file system. Writes loop over short writes and
/// EINTR; `sync` is `fdatasync` (plain `fsync` on Darwin, which has no fdatasync).
public final class FileDisk: Disk {
    /// Paths by descriptor, so that errors on a handle can name the file.
    private var paths: [Int32: String] = [:]

    public init() {}

    deinit {
        for fd in paths.keys.sorted() { _ = systemClose(fd) }
    }

    public func open(_ path: String, mode: DiskOpenMode) throws -> DiskHandle {
        var flags = O_RDWR | O_CLOEXEC
        if mode == .createOrTruncate { flags |= O_CREAT | O_TRUNC }
        let fd = path.withCString { systemOpen($0, flags, 0o644) }
        guard fd >= 0 else { throw error(.open, path) }
        paths[fd] = path
        return DiskHandle(fd)
    }

    public func close(_ handle: DiskHandle) {
        guard paths.removeValue(forKey: handle.rawValue) != nil else { return }
        _ = systemClose(handle.rawValue)
    }

    public func size(of handle: DiskHandle) throws -> UInt64 {
        var st = stat()
        guard fstat(handle.rawValue, &st) == 0 else { throw error(.size, path(of: handle)) }
        return UInt64(st.st_size)
    }

    public func write(_ handle: DiskHandle, at offset: UInt64, _ bytes: UnsafeRawBufferPointer) throws {
        var done = 0
        while done < bytes.count {
            let n = pwrite(
                handle.rawValue, bytes.baseAddress! + done, bytes.count - done, off_t(offset) + off_t(done))
            if n < 0 {
                if errno == EINTR { continue }
                throw error(.write, path(of: handle))
            }
            done += n
        }
    }

    public func read(_ handle: DiskHandle, at offset: UInt64, count: Int) throws -> [UInt8] {
        precondition(count >= 0, "read of a negative count \(count)")
        var buffer = [UInt8](repeating: 0, count: count)
        var done = 0
        var failure: DiskError?
        buffer.withUnsafeMutableBytes { raw in
            while done < count {
                let n = pread(handle.rawValue, raw.baseAddress! + done, count - done, off_t(offset) + off_t(done))
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = error(.read, path(of: handle))
                    return
                }
                if n == 0 { return }  // end of file
                done += n
            }
        }
        if let failure { throw failure }
        buffer.removeLast(count - done)
        return buffer
    }

    public func sync(_ handle: DiskHandle) throws {
        #if canImport(Glibc)
        let result = fdatasync(handle.rawValue)
        #else
        let result = fsync(handle.rawValue)
        #endif
        guard result == 0 else { throw error(.sync, path(of: handle)) }
    }

    public func truncate(_ handle: DiskHandle, to size: UInt64) throws {
        guard ftruncate(handle.rawValue, off_t(size)) == 0 else { throw error(.truncate, path(of: handle)) }
    }

    public func rename(_ from: String, to: String) throws {
        let result = from.withCString { f in to.withCString { t in systemRename(f, t) } }
        guard result == 0 else { throw error(.rename, "\(from) -> \(to)") }
    }

    public func remove(_ path: String) throws {
        guard path.withCString({ unlink($0) }) == 0 else { throw error(.remove, path) }
    }

    public func list(directory: String) throws -> [String] {
        guard let dir = directory.withCString({ opendir($0) }) else { throw error(.list, directory) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: &entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: Int(NAME_MAX) + 1) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    public func createDirectory(_ path: String) throws {
        if path.withCString({ mkdir($0, 0o755) }) == 0 { return }
        let code = errno
        var st = stat()
        if code == EEXIST, stat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR { return }
        throw DiskError(.createDirectory, path: path, errno: code, message: describe(code))
    }

    public func syncDirectory(_ path: String) throws {
        let fd = path.withCString { systemOpen($0, O_RDONLY | O_CLOEXEC | O_DIRECTORY, 0) }
        guard fd >= 0 else { throw error(.syncDirectory, path) }
        defer { _ = systemClose(fd) }
        guard fsync(fd) == 0 else { throw error(.syncDirectory, path) }
    }

    private func path(of handle: DiskHandle) -> String {
        paths[handle.rawValue] ?? "fd \(handle.rawValue)"
    }

    private func error(_ operation: DiskError.Operation, _ path: String) -> DiskError {
        let code = errno
        return DiskError(operation, path: path, errno: code, message: describe(code))
    }

    private func describe(_ code: Int32) -> String {
        guard let text = strerror(code) else { return "errno \(code)" }
        return String(cString: text)
    }
}

// The module-qualified names avoid clashing with the methods of the same name above.
#if canImport(Glibc)
private func systemOpen(_ path: UnsafePointer<CChar>, _ flags: Int32, _ mode: mode_t) -> Int32 {
    Glibc.open(path, flags, mode)
}
private func systemClose(_ fd: Int32) -> Int32 { Glibc.close(fd) }
private func systemRename(_ from: UnsafePointer<CChar>, _ to: UnsafePointer<CChar>) -> Int32 {
    Glibc.rename(from, to)
}
#else
private func systemOpen(_ path: UnsafePointer<CChar>, _ flags: Int32, _ mode: mode_t) -> Int32 {
    Darwin.open(path, flags, mode)
}
private func systemClose(_ fd: Int32) -> Int32 { Darwin.close(fd) }
private func systemRename(_ from: UnsafePointer<CChar>, _ to: UnsafePointer<CChar>) -> Int32 {
    Darwin.rename(from, to)
}
#endif
