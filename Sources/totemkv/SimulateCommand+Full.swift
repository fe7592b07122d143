import ArgumentParser
import Replication
import Simulation
#if canImport(Glibc)
import Glibc
#endif

extension SimulateCommand {
    /// Whole nodes: prints each failing seed with its violations, a trace around the first
    /// and every node's final status; a summary line; exit status 1 if any seed failed.
    func runFull() throws {
        var settings = ReplicationSimulation.Settings()
        if let nodes { settings.nodeCountRange = nodes...nodes }
        settings.faultPhaseMilliseconds = faultPhase
        switch canary {
        case .ignoreQuorum: settings.canary = .ignoreQuorum
        case .readAtLocalDelivery: settings.canary = .readAtLocalDelivery
        case .acceptOldEpochAcks: settings.canary = .acceptOldEpochAcks
        case .answerReadsAtOnce: settings.canary = .answerReadsAtOnce
        case nil: break
        case .some(let other): throw ValidationError("--canary \(other.rawValue) is for --layer totem")
        }
        var failed: [UInt64] = []
        var operations = (ok: 0, failed: 0, unknown: 0)
        var staleReads = StaleReadCounts()
        var committed: UInt64 = 0
        let range = try seedRange()
        for seed in range {
            let result = ReplicationSimulation.run(seed: seed, settings: settings)
            operations.ok += result.operations.ok
            operations.failed += result.operations.failed
            operations.unknown += result.operations.unknown
            let counts = result.linearizability.staleReads
            staleReads.total += counts.total
            staleReads.fresh += counts.fresh
            staleReads.stale += counts.stale
            committed += result.committedEntries
            if debug {
                for entry in result.trace { print("  \(entry.time) \(entry.line)") }
                for line in result.finalStatus { print("  \(line)") }
            }
            if result.passed {
                if verbose {
                    print("seed \(seed) ok: hash \(result.traceHash), \(result.eventsProcessed) events, "
                          + "\(result.committedEntries) committed, ops \(result.operations); \(result.profile)")
                }
                continue
            }
            failed.append(seed)
            printFailure(seed: seed, profile: result.profile, violations: result.violations,
                         trace: result.violations.first.map { result.traceAround($0) } ?? [])
            for line in result.finalStatus { print("  \(line)") }
            #if canImport(Glibc)
            fflush(nil)
            #endif
        }
        let total = range.count
        print("simulate --layer full: \(total - failed.count) of \(total) seeds passed; "
              + "client operations ok \(operations.ok), failed \(operations.failed), unknown \(operations.unknown); "
              + "stale-mode reads \(staleReads.total): \(staleReads.fresh) fresh, \(staleReads.stale) stale; entries committed \(committed)"
              + (failed.isEmpty ? "" : "; failing seeds: \(failed.map(String.init).joined(separator: " "))"))
        if !failed.isEmpty { throw ExitCode(1) }
    }
}
