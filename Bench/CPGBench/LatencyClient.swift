import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The latency run's client: one member connection per node on plain blocking sockets, driven
/// by one thread that sleeps in `clock_nanosleep` until a message is due and in `poll` until
/// its pushes arrive, as `Bench/wakeup-floor.py`'s client does.
///
/// Why not the NIO members the floods use: on this 2-vCPU machine the scheduler puts node 1,
/// woken by the bench's write, on the bench thread's vCPU, and node 1 runs only once that
/// thread sleeps. A NIO event loop does ~40 µs of its own work after the write (the
/// repeated task's rescheduling, the loop's bookkeeping) before it blocks in `epoll_wait`,
/// and a sched trace shows node 1 waiting out exactly that (Bench/results/cpg-2026-11-26h.md).
/// That is the bench's cost, not the product's; this client blocks right after its write.
/// `CPGBENCH_NIO_LATENCY=1` keeps the NIO members for the latency run, for A/B runs.
struct LatencyClient {
    struct Result {
        /// Per member (node order): each sample's send stamp and latency, ns.
        var stamps: [[UInt64]] = [[], [], []]
        var latencies: [[UInt64]] = [[], [], []]
        /// Arrival times of the sender's `+OK` replies.
        var replies: [UInt64] = []
        var errors: [String] = []
        /// Messages whose three pushes did not all arrive within `waitMilliseconds`.
        var late = 0
    }

    static let group = "bench"
    static let waitMilliseconds: UInt64 = 50
    let fds: [Int32]

    /// Connects one member to each port and joins it to `group`; each answers its
    /// subscription within 5 s or this throws.
    init(ports: [Int]) throws {
        var fds: [Int32] = []
        do {
            for port in ports { fds.append(try Self.connect(port: port)) }
            for fd in fds { try Self.writeAll(fd, Array("*2\r\n$8\r\nCPG.JOIN\r\n$5\r\nbench\r\n".utf8)) }
            for fd in fds { try Self.awaitSubscription(fd) }
        } catch {
            for fd in fds { Glibc.close(fd) }
            throw error
        }
        self.fds = fds
    }

    func close() { for fd in fds { Glibc.close(fd) } }

    /// Sends `count` stamped requests from member `sender` (0-based), one every 10 ms, and
    /// records every push that carries a stamp.
    func run(count: Int, sender: Int) -> Result {
        var result = Result()
        var buffers: [[UInt8]] = [[], [], []]
        // One read buffer for the whole run: no allocation between a wake-up and its stamp.
        var chunk = [UInt8](repeating: 0, count: 16_384)
        let request = Self.request()
        let stampOffset = request.count - 2 - 64 + 1
        var next = now() + 10_000_000
        drain(until: now() + 300_000_000, into: &result, buffers: &buffers, chunk: &chunk, sender: sender)
        result = Result()
        for _ in 0..<count {
            sleep(until: next)
            next += 10_000_000
            var bytes = request
            let stamp = now()
            Self.writeStamp(stamp, into: &bytes, at: stampOffset)
            do {
                try Self.writeAll(fds[sender], bytes)
            } catch {
                result.errors.append("send: \(error)")
                return result
            }
            let deadline = stamp + Self.waitMilliseconds * 1_000_000
            var seen = [false, false, false]
            while !seen.allSatisfy({ $0 }), now() < deadline {
                for member in pollReadable(until: deadline) {
                    for got in read(member, into: &result, buffers: &buffers, chunk: &chunk, sender: sender)
                    where got == stamp {
                        seen[member] = true
                    }
                }
            }
            if !seen.allSatisfy({ $0 }) { result.late += 1 }
        }
        // Late pushes still count (their latency is measured from their own stamp).
        drain(until: now() + 200_000_000, into: &result, buffers: &buffers, chunk: &chunk, sender: sender)
        return result
    }

    private func drain(until deadline: UInt64, into result: inout Result, buffers: inout [[UInt8]],
                       chunk: inout [UInt8], sender: Int) {
        while now() < deadline {
            for member in pollReadable(until: deadline) {
                _ = read(member, into: &result, buffers: &buffers, chunk: &chunk, sender: sender)
            }
        }
    }

    /// The members with bytes to read, waiting at most until `deadline`.
    private func pollReadable(until deadline: UInt64) -> [Int] {
        var entries = fds.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        let left = deadline > now() ? deadline - now() : 0
        let ready = poll(&entries, nfds_t(entries.count), Int32(min(left / 1_000_000 + 1, 1000)))
        guard ready > 0 else { return [] }
        return entries.indices.filter { entries[$0].revents != 0 }
    }

    /// Reads what member `member` has, records each complete stamped push, and returns the
    /// stamps found. The pushes' text carries the payload `t<20 digits>x...`.
    private func read(_ member: Int, into result: inout Result, buffers: inout [[UInt8]],
                      chunk: inout [UInt8], sender: Int) -> [UInt64] {
        let n = Glibc.read(fds[member], &chunk, chunk.count)
        let time = now()
        guard n > 0 else {
            if n == 0 { result.errors.append("member \(member + 1): connection closed") }
            return []
        }
        if member == sender { Self.noteReplies(chunk[0..<n], at: time, into: &result) }
        buffers[member] += chunk[0..<n]
        var found: [UInt64] = []
        let bytes = buffers[member]
        var index = 0
        while index + 1 + LatencyRequest.digits <= bytes.count {
            if bytes[index] == UInt8(ascii: "t"), let stamp = Self.digits(bytes, from: index + 1) {
                result.stamps[member].append(stamp)
                result.latencies[member].append(time &- stamp)
                found.append(stamp)
                index += 1 + LatencyRequest.digits
            } else {
                index += 1
            }
        }
        buffers[member].removeFirst(index)
        return found
    }

    private static func noteReplies(_ chunk: ArraySlice<UInt8>, at time: UInt64, into result: inout Result) {
        let ok = Array("+OK\r\n".utf8)
        var index = chunk.startIndex
        while index + ok.count <= chunk.endIndex {
            if chunk[index..<(index + ok.count)].elementsEqual(ok) {
                result.replies.append(time)
                index += ok.count
            } else if chunk[index] == UInt8(ascii: "-"), index == chunk.startIndex || chunk[index - 1] == 0x0A {
                let end = chunk[index...].firstIndex(of: 0x0D) ?? chunk.endIndex
                if result.errors.count < 5 { result.errors.append(String(decoding: chunk[index..<end], as: UTF8.self)) }
                index = end
            } else {
                index += 1
            }
        }
    }

    /// The 20-digit stamp at `start`, or nil when any of the 20 bytes is not a digit.
    private static func digits(_ bytes: [UInt8], from start: Int) -> UInt64? {
        var value: UInt64 = 0
        for index in start..<(start + LatencyRequest.digits) {
            let byte = bytes[index]
            guard byte >= 0x30, byte <= 0x39 else { return nil }
            value = value &* 10 &+ UInt64(byte - 0x30)
        }
        return value
    }

    /// `CPG.MCAST bench t<20 zeros>x...` (a 64-byte payload), RESP encoded.
    private static func request() -> [UInt8] {
        let payload = "t" + String(repeating: "0", count: LatencyRequest.digits)
            + String(repeating: "x", count: 64 - 1 - LatencyRequest.digits)
        return Array("*3\r\n$9\r\nCPG.MCAST\r\n$5\r\n\(group)\r\n$64\r\n\(payload)\r\n".utf8)
    }

    private static func writeStamp(_ stamp: UInt64, into bytes: inout [UInt8], at offset: Int) {
        var value = stamp
        var index = offset + LatencyRequest.digits
        while index > offset {
            index -= 1
            bytes[index] = UInt8(ascii: "0") &+ UInt8(value % 10)
            value /= 10
        }
    }

    private func sleep(until deadline: UInt64) {
        var target = timespec(tv_sec: Int(deadline / 1_000_000_000), tv_nsec: Int(deadline % 1_000_000_000))
        while clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &target, nil) == EINTR {}
    }

    private static func connect(port: Int) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw BenchError("socket: errno \(errno)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            Glibc.close(fd)
            throw BenchError("connect to 127.0.0.1:\(port): errno \(errno)")
        }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        return fd
    }

    private static func writeAll(_ fd: Int32, _ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { throw BenchError("write: errno \(errno)") }
            sent += n
        }
    }

    /// Reads until the reply to CPG.JOIN (`subscribe`) has arrived (bounded: 5 s).
    private static func awaitSubscription(_ fd: Int32) throws {
        let deadline = now() + 5_000_000_000
        var seen: [UInt8] = []
        let marker = Array("subscribe".utf8)
        while now() < deadline {
            var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&entry, 1, 100) > 0 else { continue }
            var chunk = [UInt8](repeating: 0, count: 4096)
            let n = Glibc.read(fd, &chunk, chunk.count)
            guard n > 0 else { throw BenchError("a member's connection closed while joining") }
            seen += chunk[0..<n]
            if seen.count >= marker.count,
               (0...(seen.count - marker.count)).contains(where: { seen[$0..<($0 + marker.count)].elementsEqual(marker) }) {
                return
            }
        }
        throw BenchError("CPG.JOIN was not answered within 5 s")
    }
}
