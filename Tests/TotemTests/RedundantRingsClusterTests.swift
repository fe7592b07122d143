import Basics
import Testing
import Totem
import TotemConfig

/// Three RRP layers over a tiny simulated network with a virtual clock, with a stand-in for
/// SRP that passes the token on and retransmits it after `token_retransmit` (238 ms) when no
/// newer token came back. Ring 1 breaks, every node marks it faulty, ring 1 heals,
/// and the ring tests bring it back everywhere — while the token never stops.
@Suite struct RedundantRingsClusterTests {
    struct Scheduled {
        var at: UInt64  // ms
        var order: UInt64
        var node: Int
        var work: Work
    }

    enum Work {
        case rrp(RRPEvent)
        /// SRP's token retransmission check: resend `packet` unless a token newer than
        /// `received` arrived meanwhile.
        case tokenRetransmit(packet: TotemPacket, received: UInt64)
    }

    static let tokenRetransmitMs: UInt64 = 238

    struct Cluster {
        var layers: [RedundantRings]
        var queue: [Scheduled] = []
        var order: UInt64 = 0
        var now: UInt64 = 0
        var brokenRing: UInt8?
        var tokensDelivered = [Int](repeating: 0, count: 3)
        var lastTokenSeq = [UInt64](repeating: 0, count: 3)
        var faults: [(node: Int, at: UInt64)] = []
        var recoveries: [(node: Int, at: UInt64)] = []

        init(mode: TotemOptions.RRPMode) {
            let options = RRP.options(mode, threshold: 10)
            layers = (1...3).map { RedundantRings(options: options, localNode: NodeID(UInt32($0))) }
            for index in layers.indices {
                _ = layers[index].step(.membersChanged([NodeID(1), NodeID(2), NodeID(3)]))
            }
        }

        mutating func schedule(_ event: RRPEvent, node: Int, after ms: UInt64) {
            schedule(work: .rrp(event), node: node, after: ms)
        }

        mutating func schedule(work: Work, node: Int, after ms: UInt64) {
            order += 1
            queue.append(Scheduled(at: now + ms, order: order, node: node, work: work))
        }

        mutating func perform(_ actions: [RRPAction], node: Int) {
            for action in actions {
                switch action {
                case .transmit(let packet, let destination, let ringNumber):
                    guard ringNumber != brokenRing else { continue }
                    let targets: [Int] = switch destination {
                    case .broadcast: layers.indices.filter { $0 != node }
                    case .node(let id): [Int(id.rawValue) - 1]
                    }
                    for target in targets {
                        // Ring 1 is a little slower, so the two copies do not arrive together.
                        schedule(.incoming(packet, ringNumber: ringNumber, at: .milliseconds(now)),
                                 node: target, after: ringNumber == 0 ? 1 : 2)
                    }
                case .deliverToSRP(let packet):
                    srpReceived(packet, node: node)
                case .startTimer(let timer, let generation, let after):
                    schedule(.timerFired(timer, generation: generation, at: .milliseconds(now)),
                             node: node, after: UInt64(after.rawValue))
                case .cancelTimer:
                    break  // the generation makes a cancelled timer's firing harmless
                case .ringMarkedFaulty:
                    faults.append((node, now))
                case .ringRecovered:
                    recoveries.append((node, now))
                }
            }
        }

        /// The SRP stand-in: a new token is passed to the successor 1 ms later.
        mutating func srpReceived(_ packet: TotemPacket, node: Int) {
            guard case .token(var token) = packet.message, token.tokenSeq > lastTokenSeq[node] else { return }
            lastTokenSeq[node] = token.tokenSeq
            tokensDelivered[node] += 1
            let received = token.tokenSeq
            token.tokenSeq += 1
            let forwarded = TotemPacket(sender: NodeID(UInt32(node + 1)), message: .token(token))
            schedule(.outgoing(forwarded, to: .node(Self.successor(of: node))), node: node, after: 1)
            schedule(work: .tokenRetransmit(packet: forwarded, received: received), node: node,
                     after: 1 + tokenRetransmitMs)
        }

        static func successor(of node: Int) -> NodeID { NodeID(UInt32((node + 1) % 3 + 1)) }

        mutating func run(until end: UInt64) {
            var budget = 1_000_000
            while budget > 0, let next = queue.indices.min(by: {
                (queue[$0].at, queue[$0].order) < (queue[$1].at, queue[$1].order)
            }), queue[next].at <= end {
                budget -= 1
                let item = queue.remove(at: next)
                now = item.at
                switch item.work {
                case .rrp(let event):
                    perform(layers[item.node].step(event), node: item.node)
                case .tokenRetransmit(let packet, let received):
                    guard lastTokenSeq[item.node] == received else { continue }
                    perform(layers[item.node].step(.outgoing(packet, to: .node(Self.successor(of: item.node)))),
                            node: item.node)
                    schedule(work: item.work, node: item.node, after: tokenRetransmitMs)
                }
            }
            now = end
        }
    }

    @Test(arguments: [TotemOptions.RRPMode.active, .passive])
    func brokenRingIsMarkedFaultyAndRecoversAfterHealing(_ mode: TotemOptions.RRPMode) {
        var cluster = Cluster(mode: mode)
        let first = OrderingToken(ringID: RRP.ring, tokenSeq: 1, seq: 0, aru: 0, aruAddress: nil, fcc: 0,
                                  backlog: 0, isRetransmitting: false, retransmitRequests: [])
        cluster.perform(cluster.layers[0].step(.outgoing(TotemPacket(sender: NodeID(1), message: .token(first)),
                                                         to: .node(NodeID(2)))), node: 0)
        cluster.run(until: 1_000)
        #expect(cluster.faults.isEmpty)
        #expect(cluster.layers.allSatisfy { $0.status.allSatisfy { !$0.isFaulty } })

        cluster.brokenRing = 1
        cluster.run(until: 7_000)
        #expect(cluster.faults.map(\.node).sorted() == [0, 1, 2])
        #expect(cluster.layers.allSatisfy { $0.status.map(\.isFaulty) == [false, true] })

        // Healed: the next autorecovery check of each node brings ring 1 back everywhere.
        cluster.brokenRing = nil
        let tokensBeforeHealing = cluster.tokensDelivered
        cluster.run(until: 9_000)
        #expect(cluster.recoveries.map(\.node).sorted() == [0, 1, 2])
        #expect(cluster.layers.allSatisfy { $0.status.allSatisfy { !$0.isFaulty } })
        // The token kept going round throughout.
        #expect(zip(cluster.tokensDelivered, tokensBeforeHealing).allSatisfy { $0 > $1 + 100 })
        // And stays healthy once healed.
        cluster.run(until: 12_000)
        #expect(cluster.faults.count == 3)
    }
}
