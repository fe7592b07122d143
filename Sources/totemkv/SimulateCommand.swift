import ArgumentParser
import Simulation
#if canImport(Glibc)
import Glibc
#endif

struct SimulateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate", abstract: "Run the deterministic simulator over a range of seeds.")

    enum Layer: String, ExpressibleByArgument, CaseIterable { case totem, full }

    @Option(help: "The layer to simulate: totem (ordering and membership) or full (whole nodes: Totem, replication, log, store, clients).")
    var layer: Layer = .full

    @Option(help: "Seeds to run, as A..B (inclusive) or a single seed.")
    var seeds: String = "1..100"

    @Option(help: "Node count for every seed (default: each seed draws 2 to 7).")
    var nodes: Int?

    @Option(help: "Virtual milliseconds of the fault phase per seed.")
    var faultPhase: UInt64 = 6_000

    enum Canary: String, ExpressibleByArgument, CaseIterable {
        case earlyDelivery = "early-delivery", skipGaps = "skip-gaps"
        case ignoreQuorum = "ignore-quorum", readAtLocalDelivery = "read-at-local-delivery"
        case acceptOldEpochAcks = "accept-old-epoch-acks", answerReadsAtOnce = "answer-reads-at-once"
    }

    @Option(help: "Plant a deliberate bug on node 1 (the checkers must report failures).")
    var canary: Canary?

    @Flag(help: "Print a line for every seed, not only failures.")
    var verbose = false

    @Flag(help: "Print every node's counters and the whole trace after each seed.")
    var debug = false

    func validate() throws {
        _ = try seedRange()
        if let nodes, !(1...64).contains(nodes) { throw ValidationError("--nodes must be in 1...64") }
    }

    func seedRange() throws -> ClosedRange<UInt64> {
        let parts = seeds.split(separator: ".", omittingEmptySubsequences: true)
        if parts.count == 1, let one = UInt64(parts[0]) { return one...one }
        guard parts.count == 2, let a = UInt64(parts[0]), let b = UInt64(parts[1]), a <= b,
              seeds.contains("..") else {
            throw ValidationError("--seeds must look like 1..100, got '\(seeds)'")
        }
        return a...b
    }

    func run() throws {
        switch layer {
        case .totem: try runTotem()
        case .full: try runFull()
        }
    }

    func runTotem() throws {
        var settings = TotemSimulation.Settings()
        if let nodes { settings.nodeCountRange = nodes...nodes }
        settings.faultPhaseMilliseconds = faultPhase
        switch canary {
        case .earlyDelivery: settings.canary = .deliverOwnMessagesEarly
        case .skipGaps: settings.canary = .skipGaps
        case nil: break
        case .some(let other): throw ValidationError("--canary \(other.rawValue) is for --layer full")
        }
        var failed: [UInt64] = []
        let range = try seedRange()
        for seed in range {
            let result = TotemSimulation.run(seed: seed, settings: settings)
            if debug {
                for (i, stats) in result.nodeStats.enumerated() {
                    print("node \(i + 1): " + (stats.map { String(describing: $0) } ?? "down"))
                }
                for entry in result.trace { print("  \(entry.time) \(entry.line)") }
            }
            if result.passed {
                if verbose {
                    print("seed \(seed) ok: hash \(result.traceHash), \(result.eventsProcessed) events, "
                          + "\(result.deliveries) deliveries; \(result.profile)")
                }
                continue
            }
            failed.append(seed)
            printFailure(seed: seed, profile: result.profile, violations: result.violations,
                         trace: result.violations.first.map { result.traceAround($0) } ?? [])
            #if canImport(Glibc)
            fflush(nil)  // Show each failing seed while a long range still runs.
            #endif
        }
        let total = range.count
        print("simulate --layer \(layer.rawValue): \(total - failed.count) of \(total) seeds passed"
              + (failed.isEmpty ? "" : "; failing seeds: \(failed.map(String.init).joined(separator: " "))"))
        if !failed.isEmpty { throw ExitCode(1) }
    }

    /// A failing seed: its profile, the first violations, the trace around the first one.
    func printFailure(seed: UInt64, profile: FaultProfile, violations: [Violation], trace: [String]) {
        print("seed \(seed) FAILED (\(profile))")
        for violation in violations.prefix(5) { print("  \(violation)") }
        if violations.count > 5 { print("  ... \(violations.count - 5) more") }
        if !trace.isEmpty {
            print("  trace around the first violation:")
            for line in trace { print(line) }
        }
    }
}
