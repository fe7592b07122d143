import Basics
import Testing
import Totem
@testable import Replication

/// Several `ProcessGroups` cores with a hand-made total order: every broadcast is queued,
/// and `deliver()` hands the queue to every node of a partition in the same order, as Totem
/// would.
private struct GroupsHarness {
    var cores: [NodeID: ProcessGroups] = [:]
    /// Per partition (a list of node ids): the messages broadcast and not yet delivered.
    var queued: [(originator: NodeID, message: ProcessGroupMessage)] = []
    var delivered: [NodeID: [ProcessGroupDelivery]] = [:]
    var replies: [ClientToken: ProcessGroupReply] = [:]
    var ringSeq: UInt64 = 0

    init(nodes: [UInt32]) {
        for n in nodes { cores[NodeID(n)] = ProcessGroups(nodeID: NodeID(n)) }
    }

    mutating func perform(_ actions: [ProcessGroupAction], at node: NodeID) {
        for action in actions {
            switch action {
            case .broadcast(let message, let token):
                queued.append((node, message))
                if let token { replies[token] = .accepted }
            case .deliver(let d): delivered[node, default: []].append(d)
            case .reply(let token, let reply): replies[token] = reply
            }
        }
    }

    mutating func request(_ node: UInt32, _ request: ProcessGroupRequest, token: UInt64 = 0) {
        let id = NodeID(node)
        perform(cores[id]!.step(.requested(token == 0 ? nil : ClientToken(token), request)), at: id)
    }

    /// Delivers what the nodes of `partition` broadcast, in order, to those nodes.
    mutating func deliver(to partition: [UInt32]) {
        let ids = partition.map { NodeID($0) }
        var rounds = 0
        while rounds < 100, let index = queued.firstIndex(where: { ids.contains($0.originator) }) {
            rounds += 1
            let (originator, message) = queued.remove(at: index)
            for id in ids { perform(cores[id]!.step(.delivered(originator: originator, message)), at: id) }
        }
    }

    /// A transitional configuration (who moved together) then a regular one, on `partition`,
    /// for nodes that came from `from` (their old partition).
    mutating func configure(_ partition: [UInt32], transitional: [[UInt32]]) {
        ringSeq += 4
        let ring = RingID(representative: NodeID(partition.min()!), seq: ringSeq)
        for group in transitional {
            let members = group.map { NodeID($0) }
            for id in members {
                perform(cores[id]!.step(.configurationChanged(ConfigurationChange(
                    kind: .transitional, ringID: ring, members: members, left: [], joined: []))), at: id)
            }
        }
        let members = partition.map { NodeID($0) }
        for id in members {
            perform(cores[id]!.step(.configurationChanged(ConfigurationChange(
                kind: .regular, ringID: ring, members: members, left: [], joined: []))), at: id)
        }
    }

    func members(_ node: UInt32, _ group: ProcessGroupName) -> [ProcessGroupMember] { cores[NodeID(node)]!.members(of: group) }

    mutating func take(_ node: UInt32) -> [ProcessGroupDelivery] {
        defer { delivered[NodeID(node)] = [] }
        return delivered[NodeID(node)] ?? []
    }
}

private func m(_ node: UInt32, _ connection: UInt64) -> ProcessGroupMember {
    ProcessGroupMember(node: NodeID(node), connection: ConnectionID(connection))
}

@Suite struct ProcessGroupsTests {
    let g = try! ProcessGroupName("jobs")

    @Test func joinMcastLeaveReachEveryMemberInOrderAndTheSenderToo() {
        var h = GroupsHarness(nodes: [1, 2, 3])
        h.configure([1, 2, 3], transitional: [[1], [2], [3]])
        h.deliver(to: [1, 2, 3])
        h.request(1, .join(g, ConnectionID(7)), token: 1)
        h.request(2, .join(g, ConnectionID(9)), token: 2)
        #expect(h.replies[ClientToken(1)] == .accepted)
        h.deliver(to: [1, 2, 3])
        #expect(h.members(3, g) == [m(1, 7), m(2, 9)])
        h.request(2, .mcast(g, ConnectionID(9), payload: [42]), token: 3)
        h.deliver(to: [1, 2, 3])
        let one = h.take(1), two = h.take(2)
        #expect(h.take(3).isEmpty, "node 3 has no member")
        // Node 2's member joined second: it sees the order from its own join on.
        #expect(one.count == two.count + 1)
        #expect(one.suffix(two.count).map(\.notification) == two.map(\.notification))
        #expect(one.last?.notification == .message(from: m(2, 9), payload: [42]))
        #expect(one.first?.notification == .membership(ProcessGroupChange(
            members: [m(1, 7)], joined: [ProcessGroupMemberChange(m(1, 7), .join)], left: [])))

        h.request(2, .leave(g, ConnectionID(9)), token: 4)
        h.deliver(to: [1, 2, 3])
        let leave = ProcessGroupNotification.membership(ProcessGroupChange(
            members: [m(1, 7)], joined: [], left: [ProcessGroupMemberChange(m(2, 9), .leave)]))
        #expect(h.take(1).map(\.notification) == [leave])
        let final = h.take(2)
        #expect(final.map(\.notification) == [leave])
        #expect(final.first?.isFinal == true, "the leaver hears its own leave, last")
    }

    @Test func requestsAreCheckedAndBounded() {
        var h = GroupsHarness(nodes: [1])
        h.configure([1], transitional: [[1]])
        h.request(1, .mcast(g, ConnectionID(1), payload: []), token: 1)
        #expect(h.replies[ClientToken(1)] == .refused(.notJoined))
        h.request(1, .leave(g, ConnectionID(1)), token: 2)
        #expect(h.replies[ClientToken(2)] == .refused(.notJoined))
        h.request(1, .join(g, ConnectionID(1)), token: 3)
        h.request(1, .join(g, ConnectionID(1)), token: 4)
        #expect(h.replies[ClientToken(4)] == .refused(.alreadyJoined))
        for i in 1..<ProcessGroups.groupsPerConnectionMax { h.request(1, .join(try! ProcessGroupName("g\(i)"), ConnectionID(1))) }
        h.request(1, .join(try! ProcessGroupName("one-too-many"), ConnectionID(1)), token: 5)
        #expect(h.replies[ClientToken(5)] == .refused(.tooManyGroups(max: ProcessGroups.groupsPerConnectionMax)))
        let big = [UInt8](repeating: 0, count: ProcessGroupMessage.payloadBytesMax + 1)
        h.request(1, .mcast(g, ConnectionID(1), payload: big), token: 6)
        #expect(h.replies[ClientToken(6)] == .refused(.payloadTooLarge(bytes: big.count, max: ProcessGroupMessage.payloadBytesMax)))
        #expect(throws: ProcessGroupName.Invalid.tooLong(129)) { try ProcessGroupName(String(repeating: "a", count: 129)) }
        #expect(throws: ProcessGroupName.Invalid.badByte(0x20)) { try ProcessGroupName("a b") }
    }

    @Test func aClosedConnectionLeavesEveryGroupAsProcessDown() {
        var h = GroupsHarness(nodes: [1, 2])
        h.configure([1, 2], transitional: [[1], [2]])
        let other = try! ProcessGroupName("other")
        h.request(1, .join(g, ConnectionID(3)))
        h.request(1, .join(other, ConnectionID(3)))
        h.request(2, .join(g, ConnectionID(4)))
        h.deliver(to: [1, 2])
        _ = h.take(2)
        h.request(1, .connectionClosed(ConnectionID(3)))
        h.deliver(to: [1, 2])
        #expect(h.members(2, g) == [m(2, 4)])
        #expect(h.members(2, other).isEmpty)
        #expect(h.take(2).map(\.notification) == [.membership(ProcessGroupChange(
            members: [m(2, 4)], joined: [], left: [ProcessGroupMemberChange(m(1, 3), .processDown)]))])
    }

    @Test func aDepartedNodesMembersLeaveAsNodeDownAndItsLateMessagesAreIgnored() {
        var h = GroupsHarness(nodes: [1, 2, 3])
        h.configure([1, 2, 3], transitional: [[1], [2], [3]])
        for n: UInt32 in 1...3 { h.request(n, .join(g, ConnectionID(UInt64(n)))) }
        h.deliver(to: [1, 2, 3])
        _ = (h.take(1), h.take(2))
        // Node 3 crashes with a message queued: the survivors' transitional configuration
        // excludes it, and its message, if delivered after that, is ignored by both.
        h.request(3, .mcast(g, ConnectionID(3), payload: [1]))
        h.configure([1, 2], transitional: [[1, 2]])
        h.deliver(to: [1, 2, 3].filter { $0 != 3 })
        let late = h.queued.filter { $0.originator == NodeID(3) }
        for (originator, message) in late {
            for id: UInt32 in [1, 2] { h.perform(h.cores[NodeID(id)]!.step(.delivered(originator: originator, message)), at: NodeID(id)) }
        }
        let left = ProcessGroupNotification.membership(ProcessGroupChange(
            members: [m(1, 1), m(2, 2)], joined: [], left: [ProcessGroupMemberChange(m(3, 3), .nodeDown)]))
        #expect(h.take(1).map(\.notification) == [left])
        #expect(h.take(2).map(\.notification) == [left])
        #expect(h.cores[NodeID(1)]!.messagesFromDepartedNodes == 1)
    }

    @Test func partitionsAgreeAfterTheyMerge() {
        var h = GroupsHarness(nodes: [1, 2, 3])
        h.configure([1, 2, 3], transitional: [[1], [2], [3]])
        for n: UInt32 in 1...3 { h.request(n, .join(g, ConnectionID(UInt64(n)))) }
        h.deliver(to: [1, 2, 3])
        // Split {1, 2} | {3}; while apart, 1 leaves and 3 opens a second member.
        h.configure([1, 2], transitional: [[1, 2]])
        h.configure([3], transitional: [[3]])
        h.deliver(to: [1, 2])
        h.deliver(to: [3])
        h.request(1, .leave(g, ConnectionID(1)))
        h.request(3, .join(g, ConnectionID(30)))
        h.deliver(to: [1, 2])
        h.deliver(to: [3])
        #expect(h.members(2, g) == [m(2, 2)])
        #expect(h.members(3, g) == [m(3, 3), m(3, 30)])
        _ = (h.take(1), h.take(2), h.take(3))
        // Heal: each side announces; everyone ends with the same view.
        h.configure([1, 2, 3], transitional: [[1, 2], [3]])
        h.deliver(to: [1, 2, 3])
        for n: UInt32 in 1...3 { #expect(Set(h.members(n, g)) == [m(2, 2), m(3, 3), m(3, 30)]) }
        #expect(h.members(1, g) == h.members(3, g))
        #expect(h.take(2).last?.notification == .membership(ProcessGroupChange(
            members: [m(2, 2), m(3, 3), m(3, 30)],
            joined: [ProcessGroupMemberChange(m(3, 3), .nodeUp), ProcessGroupMemberChange(m(3, 30), .nodeUp)], left: [])))
    }

    @Test func aRefusedBroadcastIsUndoneOrRetried() {
        var core = ProcessGroups(nodeID: NodeID(1))
        _ = core.step(.configurationChanged(ConfigurationChange(kind: .regular, ringID: RingID(representative: NodeID(1), seq: 4),
                                                                members: [NodeID(1)], left: [], joined: [])))
        _ = core.step(.requested(ClientToken(1), .join(g, ConnectionID(1))))
        let refused = core.step(.broadcastRefused(.join(g, ConnectionID(1)), .queueFull, ClientToken(1)))
        #expect(refused == [.reply(ClientToken(1), .refused(.tryAgain))])
        #expect(!core.isJoined(ConnectionID(1), g))
        _ = core.step(.requested(nil, .join(g, ConnectionID(1))))
        _ = core.step(.requested(nil, .connectionClosed(ConnectionID(1))))
        #expect(core.step(.broadcastRefused(.processDown(ConnectionID(1)), .queueFull, nil)).isEmpty)
        // The next delivery retries it.
        let next = core.step(.delivered(originator: NodeID(1), .mcast(g, ConnectionID(9), payload: [])))
        #expect(next.contains(.broadcast(.processDown(ConnectionID(1)), nil)))
    }

    @Test func messagesRoundTripAndMalformedBytesAreErrors() throws {
        var rng = SeededGenerator(seed: 77)
        func name() -> ProcessGroupName { try! ProcessGroupName("g\(rng.next() % 1000)") }
        for _ in 0..<500 {
            let c = ConnectionID(rng.next())
            let message: ProcessGroupMessage = switch rng.next() % 5 {
            case 0: .join(name(), c)
            case 1: .leave(name(), c, reason: rng.next() % 2 == 0 ? .leave : .processDown)
            case 2: .processDown(c)
            case 3: .mcast(name(), c, payload: (0..<Int(rng.next() % 50)).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
            default: .announce(ring: RingID(representative: NodeID(2), seq: rng.next()),
                               (0..<Int(rng.next() % 4)).map { _ in .init(group: name(), connection: ConnectionID(rng.next())) })
            }
            let bytes = RingMessage.processGroup(message).encoded()
            #expect(RingMessage.isProcessGroupPayload(bytes))
            #expect(try RingMessage(decoding: bytes) == .processGroup(message))
            var mutated = bytes
            let i = Int(rng.next() % UInt64(bytes.count))
            mutated[i] ^= UInt8(1 << (rng.next() % 8))
            _ = try? RingMessage(decoding: mutated)
            #expect(throws: DecodeError.self) { try RingMessage(decoding: Array(bytes.dropLast())) }
        }
        // A bad reason, a bad name byte and an impossible count are refused.
        #expect(throws: DecodeError.self) { try RingMessage(decoding: [16, 2, 1, 0, 0, 0, 0x41] + [UInt8](repeating: 0, count: 8) + [9]) }
        #expect(throws: DecodeError.self) { try RingMessage(decoding: [16, 1, 1, 0, 0, 0, 0x20] + [UInt8](repeating: 0, count: 8)) }
        #expect(throws: DecodeError.self) { try RingMessage(decoding: [16, 5, 1, 0, 0, 0] + [UInt8](repeating: 0, count: 8) + [0xFF, 0xFF, 0, 0]) }
    }

    /// Golden bytes: the wire format is fixed (a change here breaks mixed-version rings).
    @Test func joinHasAFixedEncoding() {
        let bytes = RingMessage.processGroup(.join(try! ProcessGroupName("ab"), ConnectionID(5))).encoded()
        #expect(bytes == [16, 1, 2, 0, 0, 0, 0x61, 0x62, 5, 0, 0, 0, 0, 0, 0, 0])
    }
}
