import Foundation
import NIOPosix
import Node
import RESP
import Testing

/// The quorum services on real `totemkv node` processes: QUORUM.TRACK pushes after a
/// kill -9, and the two flows of corosync's test programs (testquorum, testvotequorum1)
/// step by step, each result checked. Waits are bounded polls; reads end with the client's
/// timeout.
@Suite(.serialized)
struct QuorumProcessTests {
    static let clientTimeout: Duration = .seconds(60)

    static func connect<T: Sendable>(_ cluster: ProcessCluster, node: Int,
                                     _ body: (inout RESPClient) async throws -> T) async throws -> T {
        try await RESPClient.withConnection(
            host: "127.0.0.1", port: try cluster.clientPort(of: node), timeout: clientTimeout,
            on: MultiThreadedEventLoopGroup.singleton, body)
    }

    static func startFormed(_ cluster: ProcessCluster) throws -> Bool {
        for id in 1...cluster.nodeCount { try cluster.start(id) }
        return cluster.waitUntil { cluster.allQuorate(members: Array(1...cluster.nodeCount)) }
    }

    @Test(.timeLimit(.minutes(5))) func killNineIsPushedToEveryTrackerInTheSameOrder() async throws {
        let cluster = try ProcessCluster(nodeCount: 3)
        defer { cluster.stopAll() }
        let formed = try Self.startFormed(cluster)
        #expect(formed, "\(formed ? "" : cluster.logTails())")
        guard formed else { return }
        let pushes = try await Self.connect(cluster, node: 1) { one throws in
            try await Self.connect(cluster, node: 2) { two throws in
                #expect(try await one.call(["QUORUM.TRACK"]) == .array([.bulk("subscribe"), .bulk("quorum"), .integer(1)]))
                #expect(try await two.call(["QUORUM.TRACK"]) == .array([.bulk("subscribe"), .bulk("quorum"), .integer(1)]))
                let first = [try await one.quorumPush(), try await two.quorumPush()]
                for push in first { #expect(push?.contains("quorate=1 store_quorate=1 ") == true && push?.contains(" members=1,2,3 ") == true, "\(push ?? "none")") }
                cluster.kill9(3)
                return [try await one.quorumPushes(until: " members=1,2 "), try await two.quorumPushes(until: " members=1,2 ")]
            }
        }
        for survivor in pushes {
            let last = survivor.last ?? ""
            #expect(last.hasPrefix("quorate=1 store_quorate=1 "), "\(survivor)")
            #expect(last.contains(" quorum=2 members=1,2 ") && last.contains("3:dead:1:3"), "\(last)")
        }
        // Both survivors saw the same sequence of states after the kill.
        #expect(pushes[0] == pushes[1], "\(pushes)")
    }

    /// corosync's testquorum: quorum_initialize, quorum_trackstart(CS_TRACK_CHANGES),
    /// quorum_getquorate, quorum_dispatch.
    @Test(.timeLimit(.minutes(5))) func testquorumFlow() async throws {
        let cluster = try ProcessCluster(nodeCount: 3)
        defer { cluster.stopAll() }
        let formed = try Self.startFormed(cluster)
        #expect(formed, "\(formed ? "" : cluster.logTails())")
        guard formed else { return }
        try await Self.connect(cluster, node: 2) { handle throws in
            // quorum_initialize: the service answers on this connection.
            let initial = try await handle.call(["QUORUM.INFO"])
            #expect(initial.field("node_id") == .integer(2))
            // quorum_trackstart
            #expect(try await handle.call(["QUORUM.TRACK"]) == .array([.bulk("subscribe"), .bulk("quorum"), .integer(1)]))
            // quorum_getquorate: the reply comes after the tracking push already queued.
            try await handle.send(["QUORUM.INFO"])
            var queued: [String] = []
            var reply: RESPValue?
            for _ in 0..<8 {
                guard let value = try await handle.read() else { break }
                if let push = value.quorumPushText { queued.append(push) } else { reply = value; break }
            }
            #expect(reply?.field("quorate") == .integer(1))
            #expect(reply?.field("store_quorate") == .integer(1))
            // quorum_dispatch: the current state (CS_TRACK_CHANGES), then a change.
            #expect(queued.count == 1 && queued[0].hasPrefix("quorate=1 ") && queued[0].contains(" members=1,2,3 "), "\(queued)")
            _ = cluster.terminate(1)
            let changes = try await handle.quorumPushes(until: " members=2,3 ")
            #expect(changes.last?.hasPrefix("quorate=1 store_quorate=1 ") == true, "\(changes)")
            #expect(try await handle.call(["QUORUM.UNTRACK"]) == .array([.bulk("unsubscribe"), .bulk("quorum"), .integer(0)]))
        }
    }

    /// corosync's testvotequorum1: votequorum_initialize, votequorum_trackstart,
    /// votequorum_getinfo, votequorum_setexpected, votequorum_dispatch, votequorum_setvotes.
    @Test(.timeLimit(.minutes(5))) func testvotequorum1Flow() async throws {
        let cluster = try ProcessCluster(nodeCount: 3)
        defer { cluster.stopAll() }
        let formed = try Self.startFormed(cluster)
        #expect(formed, "\(formed ? "" : cluster.logTails())")
        guard formed else { return }
        try await Self.connect(cluster, node: 1) { admin throws in
            try await Self.connect(cluster, node: 1) { tracker throws in
                // votequorum_initialize + votequorum_trackstart
                #expect(try await tracker.call(["QUORUM.TRACK"]) == .array([.bulk("subscribe"), .bulk("quorum"), .integer(1)]))
                #expect(try await tracker.quorumPush()?.contains(" members=1,2,3 ") == true)
                // votequorum_getinfo(0)
                let info = try await admin.call(["QUORUM.INFO", "0"])
                #expect(info.field("node_id") == .integer(1))
                #expect(info.field("node_state") == .bulk("member"))
                #expect(info.field("node_votes") == .integer(1))
                #expect(info.field("node_expected_votes") == .integer(3))
                #expect(info.field("highest_expected") == .integer(3))
                #expect(info.field("total_votes") == .integer(3))
                #expect(info.field("quorum") == .integer(2))
                #expect(info.field("flags") == .array([.bulk("Quorate")]))
                // votequorum_setexpected(expected + 1), committed through the log.
                #expect(try await admin.call(["QUORUM.SETEXPECTED", "4"]) == .ok)
                #expect(try await admin.call(["QUORUM.SETEXPECTED", "2"]).errorText?.hasPrefix("ERR INVALID_PARAM") == true)
                // votequorum_dispatch: the expected-votes change, with the quorum it implies.
                let afterExpected = try await tracker.quorumPushes(until: ":1:4,")
                #expect(afterExpected.last?.contains(" quorum=3 ") == true, "\(afterExpected)")
                // votequorum_setvotes(node, votes + 1)
                #expect(try await admin.call(["QUORUM.SETVOTES", "1", "2"]) == .ok)
                let afterVotes = try await tracker.quorumPushes(until: "1:member:2:")
                #expect(afterVotes.last?.hasPrefix("quorate=1 store_quorate=1 ") == true, "\(afterVotes)")
                let updated = try await admin.call(["QUORUM.INFO"])
                #expect(updated.field("node_votes") == .integer(2))
                #expect(updated.field("total_votes") == .integer(4))
                #expect(updated.field("store_majority_votes") == .integer(3))
                // A change the intersection rule refuses says why.
                #expect(try await admin.call(["QUORUM.SETVOTES", "2", "4"]).errorText?.hasPrefix("ERR UNSAFE") == true)
            }
        }
        // Every node applied both changes; node 3 reports node 1's new votes.
        let seen = try await Self.connect(cluster, node: 3) { client throws in try await client.call(["QUORUM.INFO", "1"]) }
        #expect(seen.field("node_votes") == .integer(2))
        #expect(seen.field("node_expected_votes") == .integer(4))
        // `totemkv quorum` prints corosync-quorumtool -s's sections.
        let text = try ProcessCluster.output(["quorum", "-p", String(try cluster.clientPort(of: 3))])
        #expect(text.contains("Quorum information\n------------------\n"), "\(text)")
        #expect(text.contains("Quorate:          Yes\n"), "\(text)")
        #expect(text.contains("Expected votes:   4\n") && text.contains("Total votes:      4\n") && text.contains("Quorum:           3\n"), "\(text)")
        #expect(text.contains("         1          2\n") && text.contains("         3          1 (local)\n"), "\(text)")
    }
}

extension ProcessCluster {
    // clientPort(of:) is in ProcessCluster+Clients.swift.


    /// Runs the executable to completion (bounded: killed after 30 s) and returns its output.
    static func output(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = executable()
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        var waited = 0
        while process.isRunning && waited < 300 {
            Thread.sleep(forTimeInterval: 0.1)
            waited += 1
        }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        return String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    }
}

extension RESPValue {
    /// The value after `name` in a flat name/value array reply.
    func field(_ name: String) -> RESPValue? {
        guard case .array(let items) = self else { return nil }
        var index = 0
        while index + 1 < items.count {
            if items[index].string == name { return items[index + 1] }
            index += 2
        }
        return nil
    }

    var errorText: String? {
        if case .error(let text) = self { return text }
        return nil
    }

    /// The payload of a `["message", "quorum", payload]` push.
    var quorumPushText: String? {
        guard case .array(let items) = self, items.count == 3, items[0].string == "message",
              items[1].string == "quorum" else { return nil }
        return items[2].string
    }
}

extension RESPClient {
    /// The next quorum push (nil when the connection ends first).
    mutating func quorumPush() async throws -> String? {
        while let value = try await read() {
            if let text = value.quorumPushText { return text }
        }
        return nil
    }

    /// Quorum pushes up to and including the first containing `marker` (at most 32).
    mutating func quorumPushes(until marker: String) async throws -> [String] {
        var seen: [String] = []
        for _ in 0..<32 {
            guard let push = try await quorumPush() else { break }
            seen.append(push)
            if push.contains(marker) { break }
        }
        return seen
    }
}
