#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Testing
@testable import Node

/// A fresh directory under /tmp, removed (with its plain files) when the body ends.
func withTemporaryDirectory<T>(_ body: (String) throws -> T) throws -> T {
    var template = Array("/tmp/totemkv-keyfile-XXXXXX".utf8CString)
    let made = template.withUnsafeMutableBufferPointer { buffer in
        buffer.baseAddress.flatMap { mkdtemp($0) }.map { String(cString: $0) }
    }
    guard let path = made else {
        Issue.record("mkdtemp failed: errno \(errno)")
        throw KeyFileError.openFailed(path: "/tmp", errno: errno)
    }
    defer {
        if let directory = opendir(path) {
            // Bounded by the directory's entries, which the tests create a handful of.
            while let entry = readdir(directory) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                    String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
                }
                if name != "." && name != ".." { unlink(path + "/" + name) }
            }
            closedir(directory)
        }
        rmdir(path)
    }
    return try body(path)
}

func fileMode(_ path: String) -> mode_t {
    var info = stat()
    guard stat(path, &info) == 0 else { return 0 }
    return info.st_mode & 0o777
}

func writeRaw(_ bytes: [UInt8], to path: String, mode: mode_t) {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode)
    guard fd >= 0 else { return }
    _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    fchmod(fd, mode)
    close(fd)
}

@Suite("Key file")
struct KeyFileTests {
    @Test("generated keys have the requested size and differ")
    func generate() throws {
        let a = try KeyFile.generate()
        let b = try KeyFile.generate(byteCount: 4096)
        #expect(a.bytes.count == 128)
        #expect(b.bytes.count == 4096)
        #expect(try KeyFile.generate().bytes != a.bytes)
        #expect(throws: KeyFileError.badSize(path: nil, byteCount: 127)) { try KeyFile.generate(byteCount: 127) }
        #expect(throws: KeyFileError.badSize(path: nil, byteCount: 4097)) { try KeyFile.generate(byteCount: 4097) }
    }

    @Test("written with mode 0400, read back unchanged, never overwritten by accident")
    func writeAndLoad() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/authkey"
            let key = try KeyFile.generate(byteCount: 256)
            try KeyFile.write(key, to: path, overwrite: false)
            #expect(fileMode(path) == 0o400)
            let loaded = try KeyFile.load(from: path)
            #expect(loaded.key == key)
            #expect(loaded.warnings.isEmpty)

            let replacement = try KeyFile.generate()
            #expect(throws: KeyFileError.alreadyExists(path: path)) {
                try KeyFile.write(replacement, to: path, overwrite: false)
            }
            #expect(try KeyFile.load(from: path).key == key)
            try KeyFile.write(replacement, to: path, overwrite: true)
            #expect(fileMode(path) == 0o400)
            #expect(try KeyFile.load(from: path).key == replacement)
        }
    }

    @Test("loading reports what is wrong, naming the file")
    func loadErrors() throws {
        try withTemporaryDirectory { directory in
            let missing = directory + "/missing"
            #expect(throws: KeyFileError.notFound(path: missing)) { try KeyFile.load(from: missing) }
            #expect(KeyFileError.notFound(path: missing).description.contains("totemkv keygen"))

            let short = directory + "/short"
            writeRaw([UInt8](repeating: 7, count: 100), to: short, mode: 0o400)
            #expect(throws: KeyFileError.badSize(path: short, byteCount: 100)) { try KeyFile.load(from: short) }

            let long = directory + "/long"
            writeRaw([UInt8](repeating: 7, count: 5000), to: long, mode: 0o400)
            #expect(throws: KeyFileError.badSize(path: long, byteCount: 5000)) { try KeyFile.load(from: long) }

            #expect(throws: KeyFileError.notRegularFile(path: directory)) { try KeyFile.load(from: directory) }
            let fifo = directory + "/fifo"
            #expect(mkfifo(fifo, 0o600) == 0)
            #expect(throws: KeyFileError.notRegularFile(path: fifo)) { try KeyFile.load(from: fifo) }

            let nowhere = directory + "/no/such/dir/authkey"
            #expect(throws: KeyFileError.directoryMissing(path: nowhere)) {
                try KeyFile.write(try KeyFile.generate(), to: nowhere, overwrite: false)
            }
            #expect(throws: KeyFileError.directoryMissing(path: nowhere)) {
                try KeyFile.write(try KeyFile.generate(), to: nowhere, overwrite: true)
            }
        }
    }

    @Test("a key readable by others loads with a warning that says how to fix it")
    func permissiveModeWarns() throws {
        try withTemporaryDirectory { directory in
            let path = directory + "/authkey"
            writeRaw([UInt8](repeating: 1, count: 128), to: path, mode: 0o644)
            let loaded = try KeyFile.load(from: path)
            #expect(loaded.key.bytes == [UInt8](repeating: 1, count: 128))
            #expect(loaded.warnings == ["key file \(path) is accessible by group or others (mode 0644); "
                + "run `chmod 0400 \(path)`"])
        }
    }
}
