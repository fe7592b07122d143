// Commits per CPU-second of the whole replication path in the simulator: 3 nodes, a
// loss-free network with no delay, fsync completing at once. It keeps the protocol's own
// cost visible (Totem ordering, replica bookkeeping, log records on the simulated disk,
// CMap apply). Run: swift run -c release ReplicationBench [writes] [valueBytes]
import Basics
import CMap
import Replication
import Simulation
import TotemConfig
#if canImport(Glibc)
import Glibc
#endif

func cpuSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

func benchmark() {
    let arguments = CommandLine.arguments
    let writes = arguments.count > 1 ? Int(arguments[1]) ?? 200_000 : 200_000
    let valueBytes = arguments.count > 2 ? Int(arguments[2]) ?? 100 : 100
    let outstanding = 2_000

    var options = TotemOptions.Settings()
    options.windowSize = 500
    options.maxMessages = 200
    var cluster = ReplicationCluster(nodeCount: 3, options: TotemOptions(options, nodeCount: 3),
                                     conditions: NetworkConditions(delayMinMicroseconds: 0, delayMaxMicroseconds: 0),
                                     random: SeededGenerator(seed: 1))
    cluster.fsyncMicrosecondsMax = 0
    for i in 0..<3 { cluster.start(i) }
    // Let the ring form and sync.
    cluster.run(until: .milliseconds(3_000)) { _, _ in }
    precondition((0..<3).allSatisfy { cluster.core($0)?.replica.phase == .active }, "the cluster did not become active")

    let value = CMapValue.string([UInt8](repeating: UInt8(ascii: "x"), count: valueBytes))
    // The client's operations are built before the clock starts: formatting 10,000 key
    // names is the client's work, not the protocol's (until 2026-11-26 it was measured too,
    // about 1,100 instructions per write).
    let keyCount = 10_000
    let operations = (0..<keyCount).map { CMapOperation.set(CMapKey("key\($0)"), value) }
    var issued = 0
    var answered = 0
    var failed = 0
    var token: UInt64 = 1
    func issue(_ cluster: inout ReplicationCluster) {
        while issued - answered < outstanding && issued < writes {
            _ = cluster.request(ClientToken(token), .write(operations[issued % keyCount], clientID: 0, clientSeq: 0),
                                at: issued % 3)
            token += 1
            issued += 1
        }
    }
    let startCommit = cluster.core(0)!.replica.commitIndex.rawValue
    let start = cpuSeconds()
    issue(&cluster)
    var horizon = cluster.now
    while answered < writes {
        horizon = horizon + Milliseconds(50)
        cluster.run(until: horizon) { c, tag in
            guard tag == 0 else { return }
            for (_, _, reply) in c.replies {
                answered += 1
                if case .failure = reply { failed += 1 }
            }
            c.replies = []
            issue(&c)
        }
        if horizon > .milliseconds(3_600_000) { break }
    }
    let cpu = cpuSeconds() - start
    let committed = cluster.core(0)!.replica.commitIndex.rawValue - startCommit
    print("ReplicationBench: 3 nodes, \(writes) writes of \(valueBytes)-byte values, \(outstanding) outstanding")
    print("  committed \(committed) entries, \(failed) failed, in \(String(format: "%.2f", cpu)) CPU-s, virtual \(horizon)")
    print("  \(Int(Double(committed) / cpu)) committed writes per CPU-second")

}

benchmark()
