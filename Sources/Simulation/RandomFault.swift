import Basics

/// One fault of a whole-node simulation's fault phase, drawn by the profile's weights. The
/// replication and the process-group simulations both draw theirs here, so they share the
/// fault mix and, above all, the order of the random draws: a seed's trace depends on it.
enum RandomFault: Equatable {
    case partition([[Int]], symmetric: Bool, healAfter: Milliseconds)
    /// Take `node` down with `mode`; restart it after the delay.
    case crash(node: Int, mode: SimulatedDisk.CrashMode, restartAfter: Milliseconds)
    /// Pause `node` beyond the token timeout (the case that breaks naive reads).
    case pause(node: Int, resumeAfter: Milliseconds)

    /// Nil when the profile has no fault weight or the drawn kind has no node to act on. A
    /// crash keeps a majority's worth of nodes able to come back: at most n-1 down at once.
    static func draw(_ cluster: ReplicationCluster, profile: FaultProfile, token: UInt32,
                     random: inout SeededGenerator) -> RandomFault? {
        let n = cluster.nodeCount
        let token = UInt64(token)
        let weights = [profile.partitionWeight, profile.crashWeight, profile.pauseWeight]
        let total = weights.reduce(0, +)
        guard total > 0 else { return nil }
        var roll = random.next() % total
        var kind = 0
        while roll >= weights[kind] { roll -= weights[kind]; kind += 1 }
        switch kind {
        case 0:
            var groups: [[Int]] = [[], []]
            for i in 0..<n { groups[Int(random.next() % 2)].append(i) }
            let symmetric = !profile.allowsAsymmetricPartitions || random.next() % 2 == 0
            let length = token / 2 + random.next() % (8 * token)
            return .partition(groups, symmetric: symmetric, healAfter: Milliseconds(UInt32(length)))
        case 1:
            let up = (0..<n).filter { cluster.isUp($0) }
            guard up.count > 1 else { return nil }
            let i = up[Int(random.next() % UInt64(up.count))]
            let modes = SimulatedDisk.CrashMode.allCases
            let mode = modes[Int(random.next() % UInt64(modes.count))]
            return .crash(node: i, mode: mode, restartAfter: Milliseconds(UInt32(300 + random.next() % 3000)))
        default:
            let up = (0..<n).filter { cluster.isUp($0) && !cluster.isPaused($0) }
            guard !up.isEmpty else { return nil }
            let i = up[Int(random.next() % UInt64(up.count))]
            let pause = token + random.next() % (2 * token)
            return .pause(node: i, resumeAfter: Milliseconds(UInt32(pause)))
        }
    }
}
