#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import Basics

/// Snapshot files in one directory (`<data>/snap/`), named `snapshot-<index, 20 digits>.tkvs`
/// so that names sort by index. The only file IO of the CMap target: the node calls it from
/// its blocking thread pool, never from the event loop.
///
/// A write goes to a temporary file, is fsynced, renamed over the final name and the
/// directory is fsynced, so a crash leaves either no snapshot or a whole one (DESIGN.md
/// section 5). Loading tries the newest file first and falls back to older ones when a file
/// is corrupt, reporting every file it rejected and why.
public struct SnapshotStore: Sendable {
    public let directory: String
    static let prefix = "snapshot-"
    static let suffix = ".tkvs"
    static let temporarySuffix = ".tmp"

    /// A snapshot file: its index (from its name) and path.
    public struct File: Equatable, Sendable {
        public var index: LogIndex
        public var path: String
    }

    /// A snapshot that decoded and verified.
    public struct Loaded: Sendable {
        public var header: CMapSnapshotHeader
        public var state: CMapState
        public var file: File
    }

    /// Creates the directory if needed.
    public init(directory: String) throws(SnapshotError) {
        self.directory = directory
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw .io("cannot create directory \(directory): \(error)")
        }
    }

    public func path(for index: LogIndex) -> String {
        let digits = String(index.rawValue)
        let padded = String(repeating: "0", count: max(0, 20 - digits.count)) + digits
        return directory + "/" + Self.prefix + padded + Self.suffix
    }

    /// Writes `bytes` (an encoded snapshot of `index`) durably: temporary file, fsync, rename, fsync of the directory.
    @discardableResult
    public func save(_ bytes: [UInt8], index: LogIndex) throws(SnapshotError) -> File {
        let final = path(for: index)
        let temporary = final + Self.temporarySuffix
        unlink(temporary)
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw .io("cannot create \(temporary): \(errnoText())") }
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + written, $0.count - written) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                let text = errnoText()
                close(fd)
                unlink(temporary)
                throw .io("cannot write \(temporary): \(text)")
            }
            written += n
        }
        guard fsync(fd) == 0 else {
            let text = errnoText()
            close(fd)
            throw .io("fsync of \(temporary) failed: \(text)")
        }
        close(fd)
        guard rename(temporary, final) == 0 else { throw .io("cannot rename \(temporary) to \(final): \(errnoText())") }
        try syncDirectory()
        return File(index: index, path: final)
    }

    private func syncDirectory() throws(SnapshotError) {
        let fd = open(directory, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .io("cannot open directory \(directory): \(errnoText())") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw .io("fsync of directory \(directory) failed: \(errnoText())") }
    }

    /// Snapshot files, newest (highest index) first. Temporary and foreign files are ignored.
    public func list() throws(SnapshotError) -> [File] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            throw .io("cannot list \(directory): \(error)")
        }
        var files: [File] = []
        for name in names where name.hasPrefix(Self.prefix) && name.hasSuffix(Self.suffix) {
            let digits = name.dropFirst(Self.prefix.count).dropLast(Self.suffix.count)
            guard digits.count == 20, digits.allSatisfy(\.isASCII), let n = UInt64(digits) else { continue }
            files.append(File(index: LogIndex(n), path: directory + "/" + name))
        }
        return files.sorted { $0.index > $1.index }
    }

    /// Reads a whole file, refusing one larger than `maxBytes`.
    public func contents(of file: File, maxBytes: Int = CMapSnapshot.defaultMaxRawBodyBytes) throws(SnapshotError) -> [UInt8] {
        try bytes(of: file, upTo: nil, refusingAbove: maxBytes)
    }

    /// The file's verified header, reading only the bytes a header can take (the node's
    /// growth rule wants the uncompressed size of the newest snapshot at start).
    public func header(of file: File) throws(SnapshotError) -> CMapSnapshotHeader {
        let headerBytesMax = CMapSnapshot.prefixBytes + CMapSnapshot.fixedHeaderBytes + 8 * CMapSnapshot.maxVoters + 4
        return try CMapSnapshot.decodeHeader(bytes(of: file, upTo: headerBytesMax, refusingAbove: Int.max)).header
    }

    /// The file's first `upTo` bytes (all of them when nil), refusing a file larger than
    /// `refusingAbove`.
    private func bytes(of file: File, upTo limit: Int?, refusingAbove maxBytes: Int) throws(SnapshotError) -> [UInt8] {
        let fd = open(file.path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .io("cannot open \(file.path): \(errnoText())") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw .io("cannot stat \(file.path): \(errnoText())") }
        let fileSize = Int(info.st_size)
        guard fileSize >= 0, fileSize <= maxBytes else {
            throw .tooLarge(rawBodyBytes: UInt64(max(0, fileSize)), limitBytes: maxBytes)
        }
        let size = min(fileSize, limit ?? fileSize)
        var bytes = [UInt8](repeating: 0, count: size)
        var done = 0
        while done < size {
            let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + done, size - done) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                if n == 0 { break }
                throw .io("cannot read \(file.path): \(errnoText())")
            }
            done += n
        }
        return done == size ? bytes : Array(bytes[..<done])
    }

    /// The newest snapshot that decodes and verifies, with the newer ones that did not; nil
    /// when no file is valid (the node then replays the log from the start).
    public func loadNewest(
        limits: CMapLimits = CMapLimits(), maxRawBodyBytes: Int = CMapSnapshot.defaultMaxRawBodyBytes
    ) throws(SnapshotError) -> (loaded: Loaded?, rejected: [(file: File, error: SnapshotError)]) {
        var rejected: [(file: File, error: SnapshotError)] = []
        for file in try list() {
            do throws(SnapshotError) {
                let bytes = try contents(of: file, maxBytes: maxRawBodyBytes)
                let (header, state) = try CMapSnapshot.decode(bytes, limits: limits, maxRawBodyBytes: maxRawBodyBytes)
                guard header.index == file.index else {
                    throw SnapshotError.corruptHeader("file named for index \(file.index) holds index \(header.index)")
                }
                return (Loaded(header: header, state: state, file: file), rejected)
            } catch {
                rejected.append((file, error))
            }
        }
        return (nil, rejected)
    }

    /// Deletes snapshot files below `index`, always keeping the newest `keeping` files (so an
    /// older one remains to fall back on). Returns the deleted files.
    @discardableResult
    public func removeOld(below index: LogIndex, keeping: Int = 2) throws(SnapshotError) -> [File] {
        var removed: [File] = []
        for file in try list().dropFirst(max(0, keeping)) where file.index < index {
            guard unlink(file.path) == 0 else { throw .io("cannot delete \(file.path): \(errnoText())") }
            removed.append(file)
        }
        if !removed.isEmpty { try syncDirectory() }
        return removed
    }

    private func errnoText() -> String { String(cString: strerror(errno)) }
}
