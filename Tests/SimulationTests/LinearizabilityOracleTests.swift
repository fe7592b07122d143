import Basics
import Testing

@testable import Simulation

/// The naive definition, for small histories: try every order of the operations, with every
/// unknown-outcome operation either placed or left out, and accept if one respects real time
/// and the sequential specification. It shares no code with the checker (not even the model),
/// so it checks the entry list, the memo and the pruning rules for unknown outcomes.
struct NaiveLinearizabilityOracle {
    private struct Candidate {
        var operation: KVOperation
        var result: KVResult?  // nil: unknown outcome
        var invokedAt: UInt64
        var respondedAt: UInt64  // UInt64.max: unknown outcome
    }

    static func isLinearizable(_ history: History) -> Bool {
        var candidates: [Candidate] = []
        for operation in history.operations where !operation.isStaleRead {
            switch operation.outcome {
            case .failed:
                continue
            case .unknown:
                if operation.operation.isRead { continue }
                candidates.append(
                    Candidate(
                        operation: operation.operation, result: nil, invokedAt: operation.invokedAt.nanoseconds,
                        respondedAt: UInt64.max))
            case .ok(let result):
                candidates.append(
                    Candidate(
                        operation: operation.operation, result: result, invokedAt: operation.invokedAt.nanoseconds,
                        respondedAt: operation.respondedAt?.nanoseconds ?? UInt64.max))
            }
        }
        // One store for all keys: the oracle does not rely on P-compositionality either.
        var placed = Array(repeating: false, count: candidates.count)
        return search(candidates, &placed, store: [:])
    }

    private static func search(_ candidates: [Candidate], _ placed: inout [Bool], store: [String: String]) -> Bool {
        let remainingOK = candidates.indices.filter { !placed[$0] && candidates[$0].result != nil }
        if remainingOK.isEmpty { return true }
        for next in candidates.indices where !placed[next] {
            // Real time: nothing still unplaced may have responded before `next` was invoked.
            let isBlocked = candidates.indices.contains {
                $0 != next && !placed[$0] && candidates[$0].respondedAt < candidates[next].invokedAt
            }
            if isBlocked { continue }
            var store = store
            let output = apply(candidates[next].operation, to: &store)
            if let expected = candidates[next].result, expected != output { continue }
            placed[next] = true
            let found = search(candidates, &placed, store: store)
            placed[next] = false
            if found { return true }
        }
        return false
    }

    private static func apply(_ operation: KVOperation, to store: inout [String: String]) -> KVResult {
        switch operation {
        case .get(let key):
            return .value(store[key])
        case .set(let key, let value):
            store[key] = value
            return .done
        case .delete(let key):
            store[key] = nil
            return .done
        case .increment(let key, let by):
            guard let text = store[key] else {
                store[key] = String(by)
                return .integer(by)
            }
            guard let old = Int64(text), String(old) == text else { return .notAnInteger }
            store[key] = String(old &+ by)
            return .integer(old &+ by)
        case .compareAndSet(let key, let expected, let new):
            guard store[key] == expected else { return .swapped(false) }
            store[key] = new
            return .swapped(true)
        }
    }
}

@Suite("Linearizability checker: agrees with the naive definition")
struct LinearizabilityOracleTests {
    @Test func smallHistoriesAgreeWithTheOracle() throws {
        var counts = (linearizable: 0, violation: 0)
        for seed in UInt64(0)..<3_000 {
            var generator = SeededGenerator(seed: seed)
            var workload = LinearizableWorkload()
            workload.clients = Int.random(in: 1...3, using: &generator)
            workload.operationsPerClient = Int.random(in: 1...3, using: &generator)
            workload.keys = generator.chance(0.8) ? ["x"] : ["x", "y"]
            workload.unknownChance = [0.1, 0.25, 0.5].randomElement(using: &generator) ?? 0.25
            // Swarm testing: each seed its own operation mix, some heavy on increments and
            // compare-and-set, where unknown outcomes interact.
            workload.operationWeights = (0..<5).map { _ in Int.random(in: 0...10, using: &generator) }
            workload.operationWeights[0] += 3
            workload.staleReadChance = 0
            var history = workload.history(seed: seed)
            if generator.chance(0.6) { history = mutateOneResult(history, &generator) }

            let expected = NaiveLinearizabilityOracle.isLinearizable(history)
            let report = LinearizabilityChecker().check(history)
            #expect(report.isLinearizable == expected, "seed \(seed): \(report)\n\(history.serialized())")
            #expect(report.isViolation == !expected, "seed \(seed)")
            if expected { counts.linearizable += 1 } else { counts.violation += 1 }
        }
        // Both answers are common, so agreement means something.
        #expect(counts.linearizable > 600 && counts.violation > 600, "\(counts)")
    }

    /// Replaces one completed result with another of the same shape from a small pool, so
    /// the result is often, but not always, still explainable.
    private func mutateOneResult(_ history: History, _ generator: inout SeededGenerator) -> History {
        var operations = history.operations
        let completed = operations.indices.filter {
            if case .ok = operations[$0].outcome { return true }
            return false
        }
        guard let chosen = completed.randomElement(using: &generator) else { return history }
        let result: KVResult
        switch operations[chosen].operation {
        case .get: result = .value([nil, "a", "b", "1", "2"].randomElement(using: &generator) ?? nil)
        case .set, .delete: return history
        case .increment:
            result = generator.chance(0.2) ? .notAnInteger : .integer(Int64.random(in: -3...4, using: &generator))
        case .compareAndSet: result = .swapped(generator.chance(0.5))
        }
        operations[chosen].outcome = .ok(result)
        return (try? History(operations: operations)) ?? history
    }
}
