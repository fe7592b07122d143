#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The cluster's shared secret: the bytes of the key file, from which every packet key is
/// derived (docs/secauth.md). Its description never shows the bytes.
public struct ClusterKey: Hashable, Sendable, CustomStringConvertible {
    public let bytes: [UInt8]

    /// `bytes` must hold `KeyFile.byteCountMin ... KeyFile.byteCountMax` bytes: a shorter key
    /// is a programmer error here (the loader reports it as a `KeyFileError`).
    public init(bytes: [UInt8]) {
        precondition(KeyFile.byteCountRange.contains(bytes.count),
                     "ClusterKey: \(bytes.count) bytes, expected \(KeyFile.byteCountRange)")
        self.bytes = bytes
    }

    public var description: String { "ClusterKey(\(bytes.count) bytes)" }
}

/// The cluster key file, as corosync's `authkey`: raw random bytes, readable only by the
/// owner. `totemkv keygen` writes one; the node reads the file named by the totem option
/// `keyfile` (corosync's name for it), `defaultPath` when unset.
public enum KeyFile {
    public static let defaultPath = "/etc/totemkv/authkey"
    /// corosync-keygen's default: 1024 bits.
    public static let defaultByteCount = 128
    /// corosync's TOTEM_PRIVATE_KEY_LEN_MIN / _MAX.
    public static let byteCountMin = 128
    public static let byteCountMax = 4096
    public static let byteCountRange = byteCountMin...byteCountMax
    /// The mode keygen creates the file with: read-only, owner only.
    public static let fileMode: mode_t = 0o400

    /// A key file as loaded, with what is wrong but not fatal about it.
    public struct Loaded: Hashable, Sendable {
        public var key: ClusterKey
        /// Human-readable warnings for the log (e.g. a file other users can read).
        public var warnings: [String]
    }

    /// `byteCount` random bytes from the system's secure generator.
    public static func generate(byteCount: Int = defaultByteCount) throws(KeyFileError) -> ClusterKey {
        guard byteCountRange.contains(byteCount) else {
            throw .badSize(path: nil, byteCount: byteCount)
        }
        var generator = SystemRandomNumberGenerator()
        var bytes = [UInt8]()
        bytes.reserveCapacity(byteCount)
        // 8 bytes per draw; the last draw may be cut.
        while bytes.count < byteCount {
            let word = generator.next()
            for shift in stride(from: 0, to: 64, by: 8) where bytes.count < byteCount {
                bytes.append(UInt8(truncatingIfNeeded: word >> UInt64(shift)))
            }
        }
        return ClusterKey(bytes: bytes)
    }

    /// Reads and checks the key file at `path`: a regular file of `byteCountRange` bytes.
    /// A file that group or others may access is loaded with a warning, as corosync does not
    /// refuse it either; the warning says how to fix it.
    public static func load(from path: String) throws(KeyFileError) -> Loaded {
        // O_NONBLOCK: a FIFO at the path must not hang the node; it fails the regular-file
        // check instead. Regular files ignore the flag.
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw openError(path: path, errno: errno) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw .readFailed(path: path, errno: errno) }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw .notRegularFile(path: path) }
        let size = Int(info.st_size)
        guard byteCountRange.contains(size) else { throw .badSize(path: path, byteCount: size) }

        var bytes = [UInt8](repeating: 0, count: size)
        var filled = 0
        // Bounded: each pass reads at least one byte or ends the loop.
        while filled < size {
            let got = bytes.withUnsafeMutableBytes { raw in
                readBytes(fd, UnsafeMutableRawBufferPointer(rebasing: raw[filled...]))
            }
            if got < 0 {
                if errno == EINTR { continue }
                throw .readFailed(path: path, errno: errno)
            }
            if got == 0 { throw .changedWhileReading(path: path) }
            filled += got
        }

        var warnings: [String] = []
        let access = info.st_mode & 0o077
        if access != 0 {
            let mode = String(info.st_mode & 0o777, radix: 8)
            warnings.append("key file \(path) is accessible by group or others (mode 0\(mode)); "
                + "run `chmod 0400 \(path)`")
        }
        return Loaded(key: ClusterKey(bytes: bytes), warnings: warnings)
    }

    /// Writes `key` to `path` with mode 0400. Refuses to replace an existing file unless
    /// `overwrite`; a replacement is written to a temporary file in the same directory and
    /// renamed over the old one, so a reader never sees a half-written key.
    public static func write(_ key: ClusterKey, to path: String, overwrite: Bool) throws(KeyFileError) {
        guard !path.isEmpty else { throw .openFailed(path: path, errno: ENOENT) }
        if !overwrite {
            try writeNew(key, to: path, reportedAs: path)
            return
        }
        let temporary = path + ".tmp.\(getpid())"
        unlink(temporary)  // a leftover of a crashed run; ENOENT is the usual answer
        do {
            try writeNew(key, to: temporary, reportedAs: path)
        } catch {
            unlink(temporary)
            throw error
        }
        guard rename(temporary, path) == 0 else {
            let code = errno
            unlink(temporary)
            throw .writeFailed(path: path, errno: code)
        }
        syncDirectory(of: path)
    }

    /// Creates `path` (it must not exist), writes the key and fsyncs it. Errors name
    /// `reportedPath`, the file the user asked for.
    private static func writeNew(_ key: ClusterKey, to path: String, reportedAs reportedPath: String) throws(KeyFileError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, fileMode)
        guard fd >= 0 else {
            let code = errno
            switch code {
            case EEXIST: throw .alreadyExists(path: reportedPath)
            case ENOENT: throw .directoryMissing(path: reportedPath)
            case EACCES, EPERM: throw .permissionDenied(path: reportedPath)
            default: throw .openFailed(path: reportedPath, errno: code)
            }
        }
        var failure: Int32 = 0
        // The umask can only remove bits, but a preset ACL or an odd umask should not leave
        // the key more open than 0400: set the mode explicitly.
        if fchmod(fd, fileMode) != 0 { failure = errno }
        var written = 0
        while failure == 0 && written < key.bytes.count {
            let put = key.bytes.withUnsafeBytes { raw in
                writeBytes(fd, UnsafeRawBufferPointer(rebasing: raw[written...]))
            }
            if put < 0 {
                if errno != EINTR { failure = errno }
            } else {
                written += put
            }
        }
        if failure == 0 && fsync(fd) != 0 { failure = errno }
        close(fd)
        if failure != 0 {
            unlink(path)
            throw .writeFailed(path: reportedPath, errno: failure)
        }
        syncDirectory(of: path)
    }

    /// Makes the new directory entry durable. Best effort: the key bytes are already synced.
    private static func syncDirectory(of path: String) {
        let directory: String
        if let slash = path.lastIndex(of: "/") {
            directory = slash == path.startIndex ? "/" : String(path[..<slash])
        } else {
            directory = "."
        }
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        _ = fsync(fd)
        close(fd)
    }

    private static func openError(path: String, errno code: Int32) -> KeyFileError {
        switch code {
        case ENOENT: .notFound(path: path)
        case EACCES, EPERM: .permissionDenied(path: path)
        default: .openFailed(path: path, errno: code)
        }
    }
}

/// Why a key file could not be read or written. Each case names the file and says what to do.
public enum KeyFileError: Error, Hashable, Sendable, CustomStringConvertible {
    case notFound(path: String)
    case permissionDenied(path: String)
    case notRegularFile(path: String)
    /// The file (or the requested key, when `path` is nil) is not 128...4096 bytes.
    case badSize(path: String?, byteCount: Int)
    case alreadyExists(path: String)
    /// Writing: the directory that should hold the file does not exist.
    case directoryMissing(path: String)
    case changedWhileReading(path: String)
    case openFailed(path: String, errno: Int32)
    case readFailed(path: String, errno: Int32)
    case writeFailed(path: String, errno: Int32)

    public var description: String {
        switch self {
        case .notFound(let path):
            return "key file \(path) does not exist (create it with `totemkv keygen --output \(path)`)"
        case .permissionDenied(let path):
            return "key file \(path): permission denied (run as the file's owner, or as root)"
        case .notRegularFile(let path):
            return "key file \(path) is not a regular file"
        case .badSize(let path?, let count):
            return "key file \(path) holds \(count) bytes, expected \(KeyFile.byteCountMin) to "
                + "\(KeyFile.byteCountMax) (create a new one with `totemkv keygen`)"
        case .badSize(nil, let count):
            return "key size \(count) bytes is outside \(KeyFile.byteCountMin)...\(KeyFile.byteCountMax)"
        case .alreadyExists(let path):
            return "key file \(path) already exists; refusing to overwrite it (pass --force to replace it, "
                + "then copy it to every node)"
        case .directoryMissing(let path):
            return "cannot create key file \(path): its directory does not exist (create it, or pass --output)"
        case .changedWhileReading(let path):
            return "key file \(path) changed while it was read; try again"
        case .openFailed(let path, let code):
            return "cannot open key file \(path): \(errorText(code))"
        case .readFailed(let path, let code):
            return "cannot read key file \(path): \(errorText(code))"
        case .writeFailed(let path, let code):
            return "cannot write key file \(path): \(errorText(code))"
        }
    }
}

// File-scope wrappers: inside `KeyFile`, `write` names the static method.
private func writeBytes(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Int {
    guard let base = bytes.baseAddress else { return 0 }
    return write(fd, base, bytes.count)
}

private func readBytes(_ fd: Int32, _ bytes: UnsafeMutableRawBufferPointer) -> Int {
    guard let base = bytes.baseAddress else { return 0 }
    return read(fd, base, bytes.count)
}

private func errorText(_ code: Int32) -> String {
    guard let text = strerror(code) else { return "errno \(code)" }
    return "\(String(cString: text)) (errno \(code))"
}
