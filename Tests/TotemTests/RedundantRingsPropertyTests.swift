import Basics
import Testing
import Totem
import TotemConfig

/// Random event sequences against one RRP layer: it never traps and a few invariants hold
/// after every step.
@Suite struct RedundantRingsPropertyTests {
    @Test(arguments: [TotemOptions.RRPMode.none, .active, .passive])
    func randomEventsKeepTheInvariants(_ mode: TotemOptions.RRPMode) {
        var rng = SeededGenerator(seed: 0xA11C_E000 &+ UInt64(mode.rawValue.count))
        var rrp = RedundantRings(options: RRP.options(mode, threshold: 2, mcastThreshold: 4), localNode: NodeID(2))
        let configured = Set(rrp.status.map(\.ringNumber))
        var generations: [UInt64] = [0]
        var deliveredTokens: [(RingID, UInt64)] = []
        var actions: [RRPAction] = []
        for step in 0..<20_000 {
            let now = RRP.at(UInt64(step))
            let event = randomEvent(&rng, at: now, generations: generations)
            let faultyBefore = rrp.status.map(\.isFaulty)
            actions.removeAll(keepingCapacity: true)
            rrp.step(event, into: &actions)

            var transmits = 0
            for action in actions {
                switch action {
                case .transmit(_, _, let ringNumber):
                    #expect(configured.contains(ringNumber))
                    transmits += 1
                case .deliverToSRP(let packet):
                    if mode == .active, case .token(let token) = packet.message {
                        // Active mode delivers each token once, newest last.
                        if let last = deliveredTokens.last {
                            #expect((last.0, last.1) < (token.ringID, token.tokenSeq))
                        }
                        deliveredTokens.append((token.ringID, token.tokenSeq))
                    }
                case .startTimer(_, let generation, _):
                    generations.append(generation)
                case .ringMarkedFaulty(let ringNumber, _):
                    let index = rrp.status.firstIndex { $0.ringNumber == ringNumber }!
                    #expect(!faultyBefore[index] && rrp.status[index].isFaulty)
                case .ringRecovered(let ringNumber):
                    let index = rrp.status.firstIndex { $0.ringNumber == ringNumber }!
                    #expect(faultyBefore[index] && !rrp.status[index].isFaulty)
                case .cancelTimer:
                    break
                }
            }
            if case .outgoing = event {
                let healthy = rrp.status.filter { !$0.isFaulty }.count
                #expect(transmits == (mode == .active ? max(1, healthy) : 1))
            }
            if mode == .none { #expect(!rrp.status.contains { $0.isFaulty }) }
            if generations.count > 64 { generations.removeFirst(32) }
        }
    }

    func randomEvent(_ rng: inout SeededGenerator, at now: Instant, generations: [UInt64]) -> RRPEvent {
        let ringNumber = UInt8(Int.random(in: 0...2, using: &rng))  // 2 is not configured
        let tokenSeq = UInt64(Int.random(in: 0...40, using: &rng))
        let ringID = RingID(representative: NodeID(1), seq: UInt64(Int.random(in: 1...3, using: &rng)))
        switch Int.random(in: 0...99, using: &rng) {
        case 0..<30:
            return .incoming(RRP.token(tokenSeq, ring: ringID), ringNumber: ringNumber, at: now)
        case 30..<55:
            return .incoming(RRP.mcast(tokenSeq), ringNumber: ringNumber, at: now)
        case 55..<62:
            let kind: RingTest.Kind = rng.chance(0.5) ? .active : .activate
            return .incoming(RRP.ringTest(kind, ring: UInt8(Int.random(in: 0...1, using: &rng)),
                                          activator: UInt32(Int.random(in: 1...4, using: &rng)), from: 1),
                             ringNumber: ringNumber, at: now)
        case 62..<75:
            let packet = rng.chance(0.5) ? RRP.token(tokenSeq, from: 2) : RRP.mcast(tokenSeq, from: 2)
            return .outgoing(packet, to: rng.chance(0.5) ? .broadcast : .node(NodeID(3)))
        case 75..<95:
            let timers: [RRPTimer] = [.tokenExpired, .problemCountDecrement,
                                      .autorecoveryCheck(ringNumber: 0), .autorecoveryCheck(ringNumber: 1)]
            return .timerFired(timers.randomElement(using: &rng)!,
                               generation: generations.randomElement(using: &rng)!, at: now)
        case 95..<98:
            let count = Int.random(in: 0...4, using: &rng)
            return .membersChanged((0..<count).map { _ in NodeID(UInt32(Int.random(in: 1...4, using: &rng))) })
        default:
            return .reenableRequested
        }
    }
}
