// TotemBench: messages ordered per CPU-second by a 5-node simulated ring on a loss-free
// network. Run with `swift run -c release TotemBench`; results go to Bench/results/.
//
// The whole cluster (five Totem instances, the simulated network and the event queue) runs
// on one thread, so the figure is the CPU cost of ordering and delivering a message on all
// five nodes, plus the simulator's own work. "Ordered" counts each payload once (as node 1
// delivers it); every payload is delivered on all five nodes.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Basics
import Simulation
import Totem
import TotemConfig

func cpuSeconds() -> Double {
    var usage = rusage()
    #if canImport(Glibc)
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    #else
    getrusage(RUSAGE_SELF, &usage)
    #endif
    return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
        + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
}

struct Figure {
    var payloadBytes: Int
    var ordered: UInt64
    var deliveries: UInt64
    var cpu: Double
    var events: UInt64
}

func measure(payloadBytes: Int, messages: UInt64) -> Figure {
    let nodes = 5
    var cluster = TotemCluster(nodeCount: nodes, options: TotemOptions(nodeCount: nodes),
                               conditions: NetworkConditions(lossProbability: 0, duplicationProbability: 0,
                                                             delayMinMicroseconds: 50, delayMaxMicroseconds: 200),
                               random: SeededGenerator(seed: 1))
    cluster.recordsDeliveries = false
    for i in 0..<nodes { cluster.start(i) }
    cluster.run(until: .milliseconds(2_000)) { _, _ in }
    precondition((0..<nodes).allSatisfy { cluster.instance($0)?.state == .operational
        && cluster.instance($0)?.currentMembers.count == nodes }, "the ring did not form")
    let payload = [UInt8](repeating: 0xAB, count: payloadBytes)
    let startDeliveries = cluster.deliveriesRecorded
    let startEvents = cluster.eventsProcessed
    var submitted: UInt64 = 0
    var time = cluster.now
    let start = cpuSeconds()
    // Keep every node's send queue busy: top it up every virtual millisecond.
    while (cluster.deliveriesRecorded - startDeliveries) / UInt64(nodes) < messages {
        for i in 0..<nodes where submitted < messages {
            let queued = cluster.instance(i)?.sendQueueFrameCount ?? 0
            if queued < 200 {
                for _ in 0..<400 where submitted < messages {
                    if cluster.submit(payload, at: i) { submitted += 1 }
                }
            }
        }
        time = time + Milliseconds(1)
        cluster.run(until: time) { _, _ in }
        if submitted >= messages && cluster.queue.isEmpty { break }
    }
    let cpu = cpuSeconds() - start
    let deliveries = cluster.deliveriesRecorded - startDeliveries
    return Figure(payloadBytes: payloadBytes, ordered: deliveries / UInt64(nodes), deliveries: deliveries,
                  cpu: cpu, events: cluster.eventsProcessed - startEvents)
}

let count = UInt64(CommandLine.arguments.dropFirst().first.flatMap { UInt64($0) } ?? 1_000_000)
print("TotemBench: 5-node simulated ring, loss-free network, \(count) payloads per size")
for size in [100, 1024] {
    let f = measure(payloadBytes: size, messages: size == 100 ? count : count / 4)
    let rate = UInt64(Double(f.ordered) / max(f.cpu, 1e-9))
    let cpuCentis = UInt64(f.cpu * 100)
    print("\(f.payloadBytes) B payloads: \(f.ordered) ordered in \(cpuCentis / 100).\(cpuCentis % 100 < 10 ? "0" : "")\(cpuCentis % 100) CPU-s"
          + " = \(rate) messages ordered per CPU-second (\(f.deliveries) deliveries on 5 nodes, \(f.events) simulator events)")
}
print("allocations per delivered message: not measured (no malloc counter hook in this build)")
