import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Port bases for test clusters. A cluster with base B uses client ports B..., Totem on
/// B+1000 (UDP) and peer ports B+10000... Every base is below 22,000, so all of those stay
/// under Linux's ephemeral range (32768 and up), where the kernel picks the local ports of
/// outgoing connections and could take one a node is about to bind. Within one test
/// process, bases are handed out in distinct blocks; each block is probed (bound and
/// released) so a port another process holds is skipped rather than failing a node's start.
enum TestPorts {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var next = 10_000 + 20 * Int.random(in: 0..<400)

    /// A base with `span` free consecutive ports at B, B+1000 and B+10000.
    static func base(span: Int = 10) -> Int {
        lock.lock()
        defer { lock.unlock() }
        // Bounded: at most 200 blocks are probed.
        for _ in 0..<200 {
            let candidate = next
            next += 20
            if next > 21_900 { next = 10_000 }
            if isFree(candidate, span: span) { return candidate }
        }
        return next
    }

    #if canImport(Glibc)
    private static let streamSocket = Int32(SOCK_STREAM.rawValue)
    private static let datagramSocket = Int32(SOCK_DGRAM.rawValue)
    #else
    private static let streamSocket: Int32 = 1
    private static let datagramSocket: Int32 = 2
    #endif

    private static func isFree(_ base: Int, span: Int) -> Bool {
        for offset in 0..<span {
            guard canBind(port: base + offset, type: streamSocket),
                  canBind(port: base + 10_000 + offset, type: streamSocket),
                  canBind(port: base + 1000 + offset, type: datagramSocket) else { return false }
        }
        return true
    }

    /// Binding the wildcard address conflicts with any specific address on that port.
    private static func canBind(port: Int, type: Int32) -> Bool {
        #if canImport(Glibc)
        let fd = socket(AF_INET, type, 0)
        guard fd >= 0 else { return true }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr = in_addr(s_addr: 0)
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        return result == 0
        #else
        return true
        #endif
    }
}
