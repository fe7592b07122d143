#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import TotemConfig

/// Picks the configuration's node for this host: the node whose ring-0 address is one of the
/// host's interface addresses (corosync's rule when `nodeid` is not given on the command line).
public enum RuntimeLocalNode {
    public enum Choice: Equatable, Sendable {
        case found(NodeConfig)
        case none
        case several([UInt32])
    }

    public static func find(in cluster: ClusterConfig) -> Choice {
        let local = Set(interfaceAddresses())
        let matches = cluster.nodes.filter { local.contains($0.ring0Addr) }
        switch matches.count {
        case 0: return .none
        case 1: return .found(matches[0])
        default: return .several(matches.map(\.nodeID).sorted())
        }
    }

    /// The numeric addresses of this host's interfaces (IPv4 and IPv6), sorted.
    public static func interfaceAddresses() -> [String] {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0, let first = list else { return [] }
        defer { freeifaddrs(list) }
        var result: [String] = []
        var cursor: UnsafeMutablePointer<ifaddrs>? = first
        var guardCount = 0
        while let entry = cursor, guardCount < 4096 {
            guardCount += 1
            defer { cursor = entry.pointee.ifa_next }
            guard let address = entry.pointee.ifa_addr else { continue }
            let family = Int32(address.pointee.sa_family)
            guard family == AF_INET || family == AF_INET6 else { continue }
            var host = [CChar](repeating: 0, count: Int(NI_MAXHOST))
            let length = socklen_t(family == AF_INET ? MemoryLayout<sockaddr_in>.size : MemoryLayout<sockaddr_in6>.size)
            guard getnameinfo(address, length, &host, socklen_t(host.count), nil, 0, NI_NUMERICHOST) == 0 else { continue }
            var text = String(decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if let percent = text.firstIndex(of: "%") { text = String(text[..<percent]) }
            result.append(text)
        }
        return result.sorted()
    }
}
