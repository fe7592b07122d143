import Foundation
import NIOCore
import NIOPosix
import Node
import RESP
import Testing

/// CPG on real `totemkv node` processes: members on three nodes, kill -9 one node, and the
/// survivors' members receive its member's leave with reason node-down.
@Suite(.serialized)
struct CPGProcessTests {
    static func pushText(_ value: RESPValue?) -> String? {
        guard case .array(let parts)? = value, parts.count == 3, case .bulkString(let text) = parts[2] else { return nil }
        return String(buffer: text)
    }

    /// Reads pushes until one contains `needle` (bounded: 1,000 values, and the client's timeout).
    static func waitForPush(_ client: inout RESPClient, containing needle: String) async throws -> Bool {
        for _ in 0..<1000 {
            guard let value = try await client.read() else { return false }
            if pushText(value)?.contains(needle) == true { return true }
        }
        return false
    }

    /// `totemkv cpg send` joins on node 2, multicasts, returns once its message came back and
    /// leaves; node 1's member sees the message, then the leave; `totemkv cpg members` lists
    /// the three members that stay.
    static func commandLineVerbs(_ cluster: ProcessCluster, one: inout RESPClient) async throws {
        let sent = try ProcessCluster.output(["cpg", "send", "-p", String(try cluster.clientPort(of: 2)), "it", "via the cli"])
        #expect(sent.contains("delivered 1 message to it as member 2:"), "\(sent)")
        #expect(try await waitForPush(&one, containing: " via the cli"))
        #expect(try await waitForPush(&one, containing: "(leave)"))
        let members = try ProcessCluster.output(["cpg", "members", "-p", String(try cluster.clientPort(of: 1)), "it"])
        #expect(members.split(separator: "\n").count == 3, "\(members)")
    }

    /// 200 multicasts in one write (a pipeline: most are answered without waiting for the
    /// node) reach a member on another node in the order they were sent.
    static func pipelinedMulticastsArriveInOrder(from sender: inout RESPClient, member: String,
                                                 at receiver: inout RESPClient) async throws {
        let count = 200
        var pipeline = ByteBuffer()
        for i in 0..<count { RESPCommand(strings: ["CPG.MCAST", "it", "p\(i)"]).encode(into: &pipeline) }
        try await sender.sendRaw(pipeline)
        var next = 0
        // Bounded: the member's own pushes and others' are skipped, at most 5 reads per message.
        for _ in 0..<(count * 5) where next < count {
            guard let text = pushText(try await receiver.read()), text.hasPrefix("message \(member) p") else { continue }
            guard text == "message \(member) p\(next)" else {
                Issue.record("expected p\(next), received \(text)")
                return
            }
            next += 1
        }
        #expect(next == count)
    }

    @Test(.timeLimit(.minutes(5))) func killNineGivesNodeDownLeavesOnTheSurvivors() async throws {
        let cluster = try ProcessCluster(nodeCount: 3)
        defer { cluster.stopAll() }
        for id in 1...3 { try cluster.start(id) }
        let formed = cluster.waitUntil { cluster.allQuorate(members: [1, 2, 3]) }
        #expect(formed, "\(formed ? "" : cluster.logTails())")
        guard formed else { return }
        let base = try cluster.clientBasePort
        let group = MultiThreadedEventLoopGroup.singleton
        let timeout: Duration = .seconds(120)
        try await RESPClient.withConnection(host: "127.0.0.1", port: base, timeout: timeout, on: group) { one in
            try await RESPClient.withConnection(host: "127.0.0.1", port: base + 1, timeout: timeout, on: group) { two in
                let victim = try await RESPClient.withConnection(host: "127.0.0.1", port: base + 2, timeout: timeout, on: group) { three in
                    guard case .integer(let id) = try await three.call(["CLIENT", "ID"]) else { return "" }
                    let member = "3:\(id)"
                    for client in [1, 2, 3] {
                        switch client {
                        case 1: _ = try await one.call(["CPG.JOIN", "it"])
                        case 2: _ = try await two.call(["CPG.JOIN", "it"])
                        default: _ = try await three.call(["CPG.JOIN", "it"])
                        }
                    }
                    // Everyone sees node 3's member join, and its message.
                    _ = try await three.call(["CPG.MCAST", "it", "from three"])
                    #expect(try await Self.waitForPush(&one, containing: "message \(member) from three"))
                    #expect(try await Self.waitForPush(&two, containing: "message \(member) from three"))
                    try await Self.commandLineVerbs(cluster, one: &one)
                    try await Self.pipelinedMulticastsArriveInOrder(from: &three, member: member, at: &one)
                    cluster.kill9(3)
                    return member
                }
                #expect(!victim.isEmpty)
                let left = "left=\(victim)(node-down)"
                #expect(try await Self.waitForPush(&one, containing: left), "\(cluster.logTails())")
                #expect(try await Self.waitForPush(&two, containing: left))
                // The survivors still exchange messages, in a ring of two.
                _ = try await two.call(["CPG.MCAST", "it", "after"])
                #expect(try await Self.waitForPush(&one, containing: " after"))
            }
        }
    }
}
