import Basics

/// How the network behaves at a given moment.
public struct NetworkConditions: Hashable, Sendable {
    /// Probability that a datagram is lost (0...1).
    public var lossProbability: Double
    /// Probability that a datagram is delivered twice.
    public var duplicationProbability: Double
    /// One-way delay, drawn uniformly per datagram: a spread gives reordering.
    public var delayMinMicroseconds: UInt64
    public var delayMaxMicroseconds: UInt64

    public init(lossProbability: Double = 0, duplicationProbability: Double = 0,
                delayMinMicroseconds: UInt64 = 100, delayMaxMicroseconds: UInt64 = 1000) {
        precondition(delayMinMicroseconds <= delayMaxMicroseconds, "delay range reversed")
        self.lossProbability = lossProbability
        self.duplicationProbability = duplicationProbability
        self.delayMinMicroseconds = delayMinMicroseconds
        self.delayMaxMicroseconds = delayMaxMicroseconds
    }

    /// A clean network: no loss, no duplication, small delays.
    public static let calm = NetworkConditions()
}

/// A simulated datagram network between nodes 0..<count (indexes, not node ids): which
/// paths are cut, and when each datagram arrives. It holds no packets itself: `route`
/// returns the arrival times and the simulator schedules them, so the network can carry
/// any packet type.
public struct SimulatedNetwork: Sendable {
    public let nodeCount: Int
    public var conditions: NetworkConditions
    /// `isCut[from * nodeCount + to]`: datagrams on that path are dropped (a partition,
    /// possibly one-way).
    private var isCut: [Bool]
    private var random: SeededGenerator
    public private(set) var datagramsSent: UInt64 = 0
    public private(set) var datagramsDropped: UInt64 = 0

    public init(nodeCount: Int, conditions: NetworkConditions, random: SeededGenerator) {
        precondition(nodeCount > 0, "a network needs nodes")
        self.nodeCount = nodeCount
        self.conditions = conditions
        self.random = random
        isCut = Array(repeating: false, count: nodeCount * nodeCount)
    }

    public func isConnected(from: Int, to: Int) -> Bool { !isCut[from * nodeCount + to] }

    public mutating func cut(from: Int, to: Int) {
        guard from != to else { return }
        isCut[from * nodeCount + to] = true
    }

    /// Splits the nodes into groups; `symmetric: false` cuts only the direction from a
    /// lower group index to a higher one.
    public mutating func partition(_ groups: [[Int]], symmetric: Bool) {
        healAll()
        for (gi, a) in groups.enumerated() {
            for (gj, b) in groups.enumerated() where gi != gj {
                guard symmetric || gi < gj else { continue }
                for from in a { for to in b { cut(from: from, to: to) } }
            }
        }
    }

    public mutating func healAll() {
        for i in isCut.indices { isCut[i] = false }
    }

    /// When a datagram sent now from `from` to `to` arrives: none if lost or cut, two if
    /// duplicated. A node's datagrams to itself (the loopback) are never lost.
    public mutating func route(from: Int, to: Int, now: Instant) -> [Instant] {
        datagramsSent &+= 1
        if from == to {
            return [now.adding(microseconds: conditions.delayMinMicroseconds)]
        }
        guard isConnected(from: from, to: to), !random.chance(conditions.lossProbability) else {
            datagramsDropped &+= 1
            return []
        }
        let first = now.adding(microseconds: drawDelay())
        guard random.chance(conditions.duplicationProbability) else { return [first] }
        return [first, now.adding(microseconds: drawDelay())]
    }

    private mutating func drawDelay() -> UInt64 {
        let spread = conditions.delayMaxMicroseconds - conditions.delayMinMicroseconds
        return conditions.delayMinMicroseconds + (spread == 0 ? 0 : random.next() % (spread + 1))
    }
}
