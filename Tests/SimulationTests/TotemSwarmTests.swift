import Basics
import Testing
import Totem
import TotemConfig
@testable import Simulation

/// The swarm: every seed draws its own fault profile (2 to 7 nodes, loss up to 20 %,
/// duplication, reordering delays, partitions, pauses, crashes), then heals and checks
/// agreement, total order, EVS and liveness. 200 seeds per run, in 8 parallel chunks.
@Suite struct TotemSwarmTests {
    static let seedsPerChunk: UInt64 = 25

    @Test(arguments: 0..<8)
    func swarm(chunk: Int) {
        let first = UInt64(chunk) * TotemSwarmTests.seedsPerChunk + 1
        for seed in first..<(first + TotemSwarmTests.seedsPerChunk) {
            let result = TotemSimulation.run(seed: seed)
            let passed = result.passed
            #expect(passed, "seed \(seed) (\(result.profile)): \(result.violations.prefix(3))")
            #expect(result.deliveries > 0, "seed \(seed) delivered nothing")
        }
    }

    @Test func aRunIsAPureFunctionOfItsSeed() {
        for seed: UInt64 in [3, 17, 40] {
            let a = TotemSimulation.run(seed: seed)
            let b = TotemSimulation.run(seed: seed)
            #expect(a.traceHash == b.traceHash)
            #expect(a.eventsProcessed == b.eventsProcessed && a.deliveries == b.deliveries)
        }
        #expect(TotemSimulation.run(seed: 3).traceHash != TotemSimulation.run(seed: 4).traceHash)
    }

    @Test func theCheckersCatchEarlyDeliveryOfOwnMessages() {
        var settings = TotemSimulation.Settings()
        settings.canary = .deliverOwnMessagesEarly
        var rules = Set<String>()
        for seed: UInt64 in 1...5 {
            let result = TotemSimulation.run(seed: seed, settings: settings)
            rules.formUnion(result.violations.map(\.rule))
        }
        #expect(rules.contains("total-order"))
        #expect(rules.contains("no-duplicates"))
    }

    @Test func theCheckersCatchDeliveryPastAGap() {
        var settings = TotemSimulation.Settings()
        settings.canary = .skipGaps
        var failing = 0
        var rules = Set<String>()
        for seed: UInt64 in 1...10 {
            let result = TotemSimulation.run(seed: seed, settings: settings)
            if !result.passed { failing += 1 }
            rules.formUnion(result.violations.map(\.rule))
        }
        // The canary shows only where node 1 gets a message past a gap before its
        // retransmission, which depends on the traffic: 7 of these seeds before a held token
        // carried the representative's own messages (TotemInstance+HeldToken.swift), 4 since
        // (25 of seeds 1...40).
        #expect(failing >= 3)
        #expect(rules.contains("liveness-delivery") || rules.contains("evs-same-messages"))
    }

    /// Regression, seed 8 (5 nodes, 10 % loss, crashes and pauses): two gathering nodes
    /// whose failed sets differed answered each other's JOINs forever, each GATHER entry
    /// restarting the consensus timer, so no ring formed for seconds (587,000 events).
    @Test func seed8JoinStormEnds() {
        var settings = TotemSimulation.Settings()
        // The profile seed 8 drew when the bug was found (pinned: later profile fields must
        // not change this run).
        settings.profile = FaultProfile(
            nodeCount: 5,
            faultyNetwork: NetworkConditions(lossProbability: 0.1, duplicationProbability: 0.01,
                                             delayMinMicroseconds: 53, delayMaxMicroseconds: 20_000),
            meanFaultIntervalMilliseconds: 2_500, partitionWeight: 0, crashWeight: 2, pauseWeight: 2,
            allowsAsymmetricPartitions: false, meanSubmitIntervalMilliseconds: 100, largePayloadOneIn: 50)
        let result = TotemSimulation.run(seed: 8, settings: settings)
        let passed = result.passed
        #expect(passed, "\(result.violations.prefix(3))")
        #expect(result.eventsProcessed < 100_000)
    }

    /// Regression, seed 51 with 7 nodes and a 15 s fault phase: after a partition, three
    /// members entered OPERATIONAL one rotation before the representative, which then held
    /// their first new-ring messages when it entered and, like corosync, marked everything
    /// received as delivered: it never delivered them (EVS violation: 240 vs 264 messages).
    @Test func seed51LateOperationalEntryDeliversNewRingMessages() {
        var settings = TotemSimulation.Settings()
        settings.faultPhaseMilliseconds = 15_000
        settings.profile = FaultProfile(
            nodeCount: 7,
            faultyNetwork: NetworkConditions(lossProbability: 0.01, duplicationProbability: 0,
                                             delayMinMicroseconds: 156, delayMaxMicroseconds: 2_000),
            meanFaultIntervalMilliseconds: 5_000, partitionWeight: 3, crashWeight: 1, pauseWeight: 1,
            allowsAsymmetricPartitions: false, meanSubmitIntervalMilliseconds: 20, largePayloadOneIn: 50)
        let result = TotemSimulation.run(seed: 51, settings: settings)
        let passed = result.passed
        #expect(passed, "\(result.violations.prefix(3))")
    }
}
