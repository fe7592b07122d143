// CPGBench: closed-process-group ordered broadcast on a local 3-node cluster of real
// `totemkv node` processes (127.0.0.1...127.0.0.3, udpu on loopback, default totem options).
//
//   swift build -c release --product totemkv --product CPGBench
//   .build/release/CPGBench [path/to/totemkv] [seconds per flood] [latency]
//
// With a third argument `latency` only the latency run is made (no floods before it), and
// CPGBENCH_LATENCY_MESSAGES sets its message count (1000 unless told), CPGBENCH_LATENCY_SENDER
// the node whose member sends (1, the ring's representative, unless told).
//
// One member per node joins group `bench`. Floods: one sender (node 1's member) or three
// (every member) keep up to `window` CPG.MCAST requests pipelined, backing off 1 ms after a
// TRYAGAIN; every member counts the messages delivered to it. Latency: node 1's member sends
// 100 messages/s carrying their send time; every member's delivery time minus that is one
// sample (one process measures both ends, so one clock). Results are printed as a Markdown
// table for Bench/results/cpg.md.
//
// Diagnostics, not for recorded figures (Bench/results/cpg-2026-11-26d.md): CPGBENCH_TRACE=<file>
// writes every latency sample and reply time there (read with Bench/cpgtrace.py).
// CPGBENCH_SEND_FROM_TASK=1 and CPGBENCH_STAMP_FIRST=1 bring back the latency run's sending
// before 2026-11-26f (Bench/results/cpg-2026-11-26f.md): from the main task, stamp taken
// before the request is built.
//
// The latency run's members are `LatencyClient`'s plain blocking sockets (one thread, as
// Bench/wakeup-floor.py's client); CPGBENCH_NIO_LATENCY=1 runs it on the floods' NIO members
// instead (the way before 2026-11-26h). CPGBENCH_TRANSPORT=udp runs the cluster on IP multicast
// (`transport: udp`, a group derived from the base port) instead of the default udpu.
//
// CPGBENCH_TOTEM="option: value" adds totem options for an experiment (for example
// "seqno_unchanged_const: 100000", a ring that never holds the token when idle); the
// figures recorded against the targets use the defaults.
import Dispatch
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import NIOPosix
import RESP

func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

/// One member connection: counts deliveries, records latencies, and (when sending) keeps its
/// pipeline full. Confined to its channel's event loop.
final class Member: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    static let window = 128
    var context: ChannelHandlerContext?
    var parser = RESPReplyParser()
    var input = ByteBuffer()
    var delivered = 0
    var latencies: [UInt64] = []
    /// With CPGBENCH_TRACE: each latency sample's send stamp, and the latency run's reply
    /// arrival times (for the timeline in Bench/results/cpg-2026-11-26d.md).
    var sentStamps: [UInt64] = []
    var replyTimes: [UInt64] = []
    var tracesReplies = false
    var isJoined = false
    var replies = 0
    var tryAgain = 0
    var errors: [String] = []
    /// Times the server took this member out of the group for falling behind.
    var evictions = 0
    // Sending.
    var floodUntil: UInt64 = 0
    var payload = ""
    var outstanding = 0
    var isBackingOff = false

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var chunk = unwrapInboundIn(data)
        input.writeBuffer(&chunk)
        while let value = try? parser.next(&input) {
            handle(value)
        }
        refill()
    }

    static let messageKind = Array("message".utf8)
    static let subscribeKind = Array("subscribe".utf8)
    static let dropped = Array("dropped".utf8)

    /// Reads pushes without copying them (the bench shares the two cores with the nodes it
    /// measures, so its own cost per message is kept small).
    func handle(_ value: RESPValue) {
        if case .array(let parts) = value, parts.count == 3, case .bulkString(let kind) = parts[0] {
            let kindBytes = kind.readableBytesView
            if kindBytes.elementsEqual(Self.messageKind), case .bulkString(let text) = parts[2] {
                let bytes = text.readableBytesView
                if bytes.starts(with: Self.dropped) {
                    isJoined = false
                    evictions += 1
                    return
                }
                delivered += 1
                // "message <node>:<conn> t<ns>x..." for latency samples.
                if let first = bytes.firstIndex(of: 0x20), let space = bytes[(first + 1)...].firstIndex(of: 0x20),
                   space + 1 < bytes.endIndex, bytes[space + 1] == UInt8(ascii: "t") {
                    var sent: UInt64 = 0
                    var index = space + 2
                    while index < bytes.endIndex, bytes[index] >= 0x30, bytes[index] <= 0x39 {
                        sent = sent &* 10 &+ UInt64(bytes[index] - 0x30)
                        index += 1
                    }
                    if index > space + 2 {
                        latencies.append(now() &- sent)
                        sentStamps.append(sent)
                    }
                }
                return
            }
            if kindBytes.elementsEqual(Self.subscribeKind) { isJoined = true; return }
        }
        // A reply to CPG.MCAST.
        outstanding -= 1
        replies += 1
        if tracesReplies { replyTimes.append(now()) }
        if case .error(let text) = value {
            if text.hasPrefix("TRYAGAIN") {
                tryAgain += 1
                backOff()
            } else if errors.count < 5 {
                errors.append(text)
            }
        }
    }

    func backOff() {
        guard !isBackingOff, let context else { return }
        isBackingOff = true
        context.eventLoop.scheduleTask(in: .milliseconds(1)) {
            self.isBackingOff = false
            self.refill()
        }
    }

    func send(_ text: String) {
        guard let context else { return }
        var buffer = context.channel.allocator.buffer(capacity: text.utf8.count + 64)
        RESPCommand(strings: ["CPG.MCAST", "bench", text]).encode(into: &buffer)
        context.write(wrapOutboundOut(buffer), promise: nil)
        outstanding += 1
    }

    func refill() {
        guard let context, !isBackingOff, floodUntil > 0 else { return }
        var wrote = false
        while outstanding < Self.window && now() < floodUntil {
            send(payload)
            wrote = true
        }
        if wrote { context.flush() }
    }

    func join() {
        guard let context else { return }
        var buffer = context.channel.allocator.buffer(capacity: 64)
        RESPCommand(strings: ["CPG.JOIN", "bench"]).encode(into: &buffer)
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
    }
}

struct Cluster {
    let root: String
    let executable: String
    var processes: [Process] = []
    let base: Int

    init(executable: String) throws {
        self.executable = executable
        base = try Self.freeBasePort()
        root = NSTemporaryDirectory() + "totemkv-cpgbench-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let multicast = ProcessInfo.processInfo.environment["CPGBENCH_TRANSPORT"] == "udp"
        var nodes = ""
        for id in 1...3 { nodes += "node {\n nodeid: \(id)\n ring0_addr: 127.0.0.\(id)\n}\n" }
        let text = """
            totem {
             version: 2
             cluster_name: cpgbench
             \(ProcessInfo.processInfo.environment["CPGBENCH_TOTEM"] ?? "")
             transport: \(multicast ? "udp" : "udpu")
             interface {
              ringnumber: 0
              mcastport: \(base + 1000)
              \(multicast ? "mcastaddr: 239.255.\(base % 250).\(base / 250 % 250 + 1)" : "")
             }
            }
            nodelist {
            \(nodes)}
            quorum {
             provider: corosync_votequorum
            }
            logging {
             to_stderr: yes
            }
            store {
             data_directory: \(root)/data
             fsync: on
            }
            client {
             bind_address: 127.0.0.1
             port: \(base)
            }

            """
        try Data(text.utf8).write(to: URL(fileURLWithPath: root + "/cluster.conf"))
    }

    /// A random base port P whose cluster ports are free on 127.0.0.1-3, TCP and UDP: the
    /// client ports P...P+2, Totem's P+1000 (and P+999, udp mode's other port), the peer
    /// channels' P+10000...P+10002. A base picked blindly collided with a port in use on a
    /// shared machine ("the ring of three did not form"). Bounded: 50 tries.
    static func freeBasePort() throws -> Int {
        for _ in 0..<50 {
            let base = Int.random(in: 20_000...40_000)
            let ports = [base, base + 1, base + 2, base + 999, base + 1000,
                         base + 10_000, base + 10_001, base + 10_002]
            if ports.allSatisfy({ port in (1...3).allSatisfy { portIsFree("127.0.0.\($0)", port) } }) {
                return base
            }
        }
        throw BenchError("no free base port found in 50 tries (20000-40000)")
    }

    /// Whether a TCP and a UDP socket can both bind `host:port` now (Bench/redis-compare.sh's
    /// `port_free`). The sockets are closed at once; a race with another process remains
    /// possible, and then the ring does not form and the nodes' logs say why.
    static func portIsFree(_ host: String, _ port: Int) -> Bool {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else { return false }
        for kind in [Int32(SOCK_STREAM.rawValue), Int32(SOCK_DGRAM.rawValue)] {
            let fd = socket(AF_INET, kind, 0)
            guard fd >= 0 else { return false }
            defer { close(fd) }
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            if bound != 0 { return false }
        }
        return true
    }

    mutating func start() throws {
        for id in 1...3 {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = ["node", "--config", root + "/cluster.conf", "--nodeid", String(id)]
            let log = root + "/node-\(id).log"
            _ = FileManager.default.createFile(atPath: log, contents: nil)
            process.standardOutput = FileHandle(forWritingAtPath: log)
            process.standardError = FileHandle(forWritingAtPath: log)
            try process.run()
            processes.append(process)
        }
    }

    /// Every node reports a ring of three members (bounded: 60 s).
    func waitForRing() -> Bool {
        for _ in 0..<600 {
            let ready = (1...3).allSatisfy { id in
                guard let data = FileManager.default.contents(atPath: root + "/data/node-\(id)/status.json"),
                      let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return false }
                return (object["members"] as? [Int]) == [1, 2, 3]
            }
            if ready { return true }
            Thread.sleep(forTimeInterval: 0.1)
        }
        return false
    }

    func stop() {
        for process in processes where process.isRunning { process.terminate() }
        for process in processes { process.waitUntilExit() }
        try? FileManager.default.removeItem(atPath: root)
    }
}

/// The latency run's request, `CPG.MCAST bench t<20 digits>x...` (a 64-byte payload), RESP
/// encoded once; `stamp` writes the send time over the digits (zero-padded: the members
/// and Sources/Node/CPGTrace.swift read the digits up to the first non-digit).
struct LatencyRequest: Sendable {
    static let digits = 20
    let encoded: ByteBuffer
    let stampOffset: Int

    init() {
        let payload = "t" + String(repeating: "0", count: Self.digits)
            + String(repeating: "x", count: 64 - 1 - Self.digits)
        var buffer = ByteBuffer()
        RESPCommand(strings: ["CPG.MCAST", "bench", payload]).encode(into: &buffer)
        encoded = buffer
        // The payload is the last bulk string: its "t" is 64 bytes before the final CRLF.
        stampOffset = buffer.writerIndex - 2 - 64 + 1
    }

    func stamp(_ buffer: inout ByteBuffer, _ time: UInt64) {
        var value = time
        var digits = [UInt8](repeating: UInt8(ascii: "0"), count: Self.digits)
        var index = Self.digits
        while value > 0, index > 0 {
            index -= 1
            digits[index] = UInt8(ascii: "0") &+ UInt8(value % 10)
            value /= 10
        }
        buffer.setBytes(digits, at: stampOffset)
    }
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

func percentile(_ sorted: [UInt64], _ p: Double) -> Double {
    guard !sorted.isEmpty else { return .nan }
    return Double(sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]) / 1_000_000
}

@main
struct CPGBench {
    static func main() async throws {
        let arguments = CommandLine.arguments
        let executable = arguments.count > 1 ? arguments[1]
            : URL(fileURLWithPath: arguments[0]).deletingLastPathComponent().appendingPathComponent("totemkv").path
        let seconds = arguments.count > 2 ? Double(arguments[2]) ?? 5 : 5
        let latencyOnly = arguments.count > 3 && arguments[3] == "latency"
        let latencyMessages = Int(ProcessInfo.processInfo.environment["CPGBENCH_LATENCY_MESSAGES"] ?? "") ?? 1000
        let latencySender = min(3, max(1, Int(ProcessInfo.processInfo.environment["CPGBENCH_LATENCY_SENDER"] ?? "") ?? 1))
        var cluster = try Cluster(executable: executable)
        try cluster.start()
        defer { cluster.stop() }
        guard cluster.waitForRing() else {
            // The cluster's directory is removed on the way out: show why here (a port
            // already taken, a node that exited) before it goes.
            print("the ring of three did not form (base port \(cluster.base)); the last lines of each node's log:")
            for id in 1...3 {
                let log = (try? String(contentsOfFile: cluster.root + "/node-\(id).log", encoding: .utf8)) ?? ""
                print("node \(id):\n" + log.split(separator: "\n").suffix(8).joined(separator: "\n"))
            }
            return
        }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 3)
        var members: [(Member, Channel)] = []
        for id in 0..<3 {
            let member = Member()
            let channel = try await ClientBootstrap(group: group)
                .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
                .channelInitializer { $0.pipeline.addHandler(member) }
                .connect(host: "127.0.0.1", port: cluster.base + id).get()
            members.append((member, channel))
        }
        for (member, channel) in members { try await channel.eventLoop.submit { member.join() }.get() }
        try await Task.sleep(for: .seconds(1))

        func snapshot() async throws -> [(delivered: Int, replies: Int, tryAgain: Int, evictions: Int)] {
            var out: [(Int, Int, Int, Int)] = []
            for (member, channel) in members {
                out.append(try await channel.eventLoop.submit { (member.delivered, member.replies, member.tryAgain, member.evictions) }.get())
            }
            return out
        }

        if !latencyOnly {
            print("| senders | payload | delivered msgs/s per member (node 1, 2, 3) | mean | TRYAGAIN replies | members evicted |")
            print("|---|---|---|---|---|---|")
        }
        for senders in latencyOnly ? [] : [1, 3] {
            for size in [64, 1024, 16384] {
                // A member evicted in the previous run joins again.
                for (member, channel) in members {
                    try await channel.eventLoop.submit { if !member.isJoined { member.join() } }.get()
                }
                try await Task.sleep(for: .milliseconds(500))
                let payload = String(repeating: "x", count: size)
                let until = now() + UInt64(seconds * 1e9)
                let before = try await snapshot()
                let start = now()
                for (member, channel) in members.prefix(senders) {
                    try await channel.eventLoop.submit {
                        member.payload = payload
                        member.floodUntil = until
                        member.refill()
                    }.get()
                }
                try await Task.sleep(for: .seconds(seconds))
                let after = try await snapshot()
                let elapsed = Double(now() - start) / 1e9
                // Let the pipelines drain before the next run.
                try await Task.sleep(for: .seconds(2))
                let rates = (0..<3).map { Double(after[$0].delivered - before[$0].delivered) / elapsed }
                let again = (0..<3).map { after[$0].tryAgain - before[$0].tryAgain }.reduce(0, +)
                let evicted = (0..<3).map { after[$0].evictions - before[$0].evictions }.reduce(0, +)
                print("| \(senders) | \(size) B | \(rates.map { String(format: "%.0f", $0) }.joined(separator: ", ")) | \(String(format: "%.0f", rates.reduce(0, +) / 3)) | \(again) | \(evicted) |")
            }
        }

        // Let the floods' backlog drain: deliveries stop changing for a second (at most 60 s).
        var last = try await snapshot().map(\.delivered)
        for _ in 0..<60 {
            try await Task.sleep(for: .seconds(1))
            let current = try await snapshot().map(\.delivered)
            if current == last { break }
            last = current
        }
        // Latency at 100 messages/s from one node's member (CPGBENCH_LATENCY_SENDER), 64-byte payloads.
        if ProcessInfo.processInfo.environment["CPGBENCH_NIO_LATENCY"] != "1" {
            // The floods' members leave (their connections close), so only the latency
            // client's members are in the group and no NIO thread wakes for a push.
            for (_, channel) in members { try? await channel.close() }
            try await group.shutdownGracefully()
            try await Task.sleep(for: .milliseconds(500))
            try await measureLatency(ports: (0..<3).map { cluster.base + $0 },
                                     count: latencyMessages, sender: latencySender)
            return
        }
        for (member, channel) in members {
            try await channel.eventLoop.submit { if !member.isJoined { member.join() } }.get()
        }
        try await Task.sleep(for: .milliseconds(500))
        for (member, channel) in members {
            try await channel.eventLoop.submit {
                member.latencies = []
                member.sentStamps = []
                member.tracesReplies = true
            }.get()
        }
        let (sender, senderChannel) = members[latencySender - 1]
        let environment = ProcessInfo.processInfo.environment
        // The stamp is taken as the request is handed to the socket: the request is encoded
        // beforehand with a 20-digit placeholder that the stamp overwrites
        // (`LatencyRequest`). Before 2026-11-26f the stamp was taken first and the payload
        // string built and RESP-encoded after it, ~40 µs of the bench's own cold CPU inside
        // every sample (cpg-2026-11-26d.md's timeline); CPGBENCH_STAMP_FIRST=1 keeps that.
        let stampsFirst = environment["CPGBENCH_STAMP_FIRST"] == "1"
        let request = LatencyRequest()
        @Sendable func sendStamped() {
            if stampsFirst {
                let stamp = "t\(now())"
                sender.send(stamp + String(repeating: "x", count: max(0, 64 - stamp.utf8.count)))
                sender.context?.flush()
                return
            }
            guard let context = sender.context else { return }
            var buffer = request.encoded
            request.stamp(&buffer, now())
            context.writeAndFlush(Member.wrapOutboundOut(buffer), promise: nil)
            sender.outstanding += 1
        }
        if environment["CPGBENCH_SEND_FROM_TASK"] != "1" {
            // The sends are timed by the sender's own loop, so no other bench thread wakes
            // as a message leaves. Before 2026-11-26f the bench's main task `submit`ted each
            // send and slept 10 ms: the `submit`'s future woke Swift pool threads right as
            // node 1 started on the request, competing with the nodes for the two vCPUs
            // (cpg-2026-11-26d.md: node 1 preempted 16 µs); CPGBENCH_SEND_FROM_TASK=1 keeps that.
            let loop = senderChannel.eventLoop
            let done = loop.makePromise(of: Void.self)
            let count = latencyMessages
            final class Count: @unchecked Sendable { var value = 0 }  // confined to `loop`
            let sent = Count()
            _ = try await loop.submit {
                loop.scheduleRepeatedTask(initialDelay: .zero, delay: .milliseconds(10)) { task in
                    sendStamped()
                    sent.value += 1
                    if sent.value >= count {
                        task.cancel()
                        done.succeed(())
                    }
                }
            }.get()
            try await done.futureResult.get()
        } else {
            for _ in 0..<latencyMessages {
                try await senderChannel.eventLoop.submit { sendStamped() }.get()
                try await Task.sleep(for: .milliseconds(10))
            }
        }
        try await Task.sleep(for: .seconds(1))
        var result = LatencyClient.Result()
        for (index, (member, channel)) in members.enumerated() {
            let (sent, latencies, replies, errors) = try await channel.eventLoop.submit {
                (member.sentStamps, member.latencies, member.replyTimes, member.errors)
            }.get()
            result.stamps[index] = sent
            result.latencies[index] = latencies
            result.replies += replies
            result.errors += errors
            try? await channel.close()
        }
        try reportLatency(result, sender: latencySender)
        try await group.shutdownGracefully()
    }

    /// The latency run on `LatencyClient`'s plain sockets, on a thread of its own (it blocks).
    static func measureLatency(ports: [Int], count: Int, sender: Int) async throws {
        let client = try LatencyClient(ports: ports)
        defer { client.close() }
        let result = await withCheckedContinuation { (continuation: CheckedContinuation<LatencyClient.Result, Never>) in
            Thread.detachNewThread { continuation.resume(returning: client.run(count: count, sender: sender - 1)) }
        }
        try reportLatency(result, sender: sender)
    }

    /// Prints the latency run's figures and, with CPGBENCH_TRACE, writes its samples.
    static func reportLatency(_ result: LatencyClient.Result, sender: Int) throws {
        var samples: [UInt64] = []
        var perMember: [String] = []
        for (index, latencies) in result.latencies.enumerated() {
            let own = latencies.sorted()
            perMember.append("node \(index + 1) p50 \(String(format: "%.3f", percentile(own, 0.5))) ms")
            samples += own
        }
        samples.sort()
        if let path = ProcessInfo.processInfo.environment["CPGBENCH_TRACE"] {
            // "<member> <send stamp> <latency>" per sample, then "reply <time>" per reply.
            var text = ""
            for member in 0..<3 {
                for (stamp, latency) in zip(result.stamps[member], result.latencies[member]) {
                    text += "\(member + 1) \(stamp) \(latency)\n"
                }
            }
            for time in result.replies { text += "reply \(time)\n" }
            try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        }
        print("")
        print("latency at 100 msgs/s, 64 B, 1 sender (node \(sender)): \(samples.count) samples over 3 members, p50 \(String(format: "%.3f", percentile(samples, 0.5))) ms, p99 \(String(format: "%.3f", percentile(samples, 0.99))) ms, max \(String(format: "%.3f", percentile(samples, 1.0))) ms (\(perMember.joined(separator: ", ")))")
        if result.late > 0 { print("messages whose three pushes took over \(LatencyClient.waitMilliseconds) ms: \(result.late)") }
        if !result.errors.isEmpty { print("errors: \(result.errors)") }
    }
}
