import Basics

/// What can go wrong in one run, drawn from the seed (swarm testing: every seed tests its
/// own mix of faults, so rare combinations get their turn).
public struct FaultProfile: Hashable, Sendable, CustomStringConvertible {
    public var nodeCount: Int
    /// The network during the fault phase.
    public var faultyNetwork: NetworkConditions
    /// Mean time between fault events (partition, heal, crash, restart, pause), 0 = none.
    public var meanFaultIntervalMilliseconds: UInt64
    /// Relative weights of the fault kinds.
    public var partitionWeight: UInt64
    public var crashWeight: UInt64
    public var pauseWeight: UInt64
    /// Partitions may be one-way.
    public var allowsAsymmetricPartitions: Bool
    /// Mean time between submissions during the fault phase.
    public var meanSubmitIntervalMilliseconds: UInt64
    /// One submission in this many is a large payload (fragmented); 0 = never.
    public var largePayloadOneIn: UInt64
    /// corosync's `send_join` (0 = send JOINs at once), to exercise the random delay.
    public var sendJoinMilliseconds: UInt32 = 0

    public init(nodeCount: Int, faultyNetwork: NetworkConditions, meanFaultIntervalMilliseconds: UInt64,
                partitionWeight: UInt64, crashWeight: UInt64, pauseWeight: UInt64,
                allowsAsymmetricPartitions: Bool, meanSubmitIntervalMilliseconds: UInt64,
                largePayloadOneIn: UInt64, sendJoinMilliseconds: UInt32 = 0) {
        self.nodeCount = nodeCount
        self.faultyNetwork = faultyNetwork
        self.meanFaultIntervalMilliseconds = meanFaultIntervalMilliseconds
        self.partitionWeight = partitionWeight
        self.crashWeight = crashWeight
        self.pauseWeight = pauseWeight
        self.allowsAsymmetricPartitions = allowsAsymmetricPartitions
        self.meanSubmitIntervalMilliseconds = meanSubmitIntervalMilliseconds
        self.largePayloadOneIn = largePayloadOneIn
        self.sendJoinMilliseconds = sendJoinMilliseconds
    }

    /// Draws a profile: 2 to `nodeCountMax` nodes, loss up to 20 %, duplication up to 5 %,
    /// delays up to 20 ms, and a random mix of partitions, crashes and pauses.
    public static func random(_ random: inout SeededGenerator, nodeCountRange: ClosedRange<Int> = 2...7) -> FaultProfile {
        func draw(_ n: UInt64) -> UInt64 { random.next() % n }
        let nodes = nodeCountRange.lowerBound
            + Int(draw(UInt64(nodeCountRange.upperBound - nodeCountRange.lowerBound + 1)))
        let lossLevels: [Double] = [0, 0, 0.01, 0.05, 0.1, 0.2]
        let dupLevels: [Double] = [0, 0, 0.01, 0.05]
        let delayMax: [UInt64] = [500, 2_000, 5_000, 20_000]
        let network = NetworkConditions(
            lossProbability: lossLevels[Int(draw(UInt64(lossLevels.count)))],
            duplicationProbability: dupLevels[Int(draw(UInt64(dupLevels.count)))],
            delayMinMicroseconds: 50 + draw(200),
            delayMaxMicroseconds: delayMax[Int(draw(UInt64(delayMax.count)))])
        let faultIntervals: [UInt64] = [0, 1_000, 2_500, 5_000]
        return FaultProfile(
            nodeCount: nodes, faultyNetwork: network,
            meanFaultIntervalMilliseconds: faultIntervals[Int(draw(UInt64(faultIntervals.count)))],
            partitionWeight: draw(4), crashWeight: draw(4), pauseWeight: draw(3),
            allowsAsymmetricPartitions: draw(3) == 0,
            meanSubmitIntervalMilliseconds: [5, 20, 100][Int(draw(3))],
            largePayloadOneIn: [0, 10, 50][Int(draw(3))],
            sendJoinMilliseconds: [0, 0, 0, 30][Int(draw(4))])
    }

    public var description: String {
        let n = faultyNetwork
        return "nodes \(nodeCount), loss \(n.lossProbability), dup \(n.duplicationProbability), "
            + "delay \(n.delayMinMicroseconds)-\(n.delayMaxMicroseconds) us, fault every ~\(meanFaultIntervalMilliseconds) ms "
            + "(partition \(partitionWeight), crash \(crashWeight), pause \(pauseWeight)\(allowsAsymmetricPartitions ? ", asymmetric" : "")), "
            + "submit every ~\(meanSubmitIntervalMilliseconds) ms, large 1/\(largePayloadOneIn), send_join \(sendJoinMilliseconds)"
    }
}
