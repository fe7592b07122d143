import Basics
import Node
import RESP
import Testing

/// QUORUM.INFO, QUORUM.TRACK / UNTRACK, QUORUM.SETEXPECTED, QUORUM.SETVOTES against the fake
/// node service (a real votequorum core for node 1, memberships set by the test).
@Suite struct CommandQuorumTests {
    @Test func infoShowsGetinfoRingMembersAndTheStoreVerdict() async throws {
        try await ClientServerFixture.run { fixture throws in
            await fixture.service.configureQuorum(voters: [NodeID(1), NodeID(2), NodeID(3)])
            await fixture.service.setQuorumMembers([NodeID(1), NodeID(2)])
            try await fixture.client { client throws in
                let info = try await client.call(["QUORUM.INFO"])
                #expect(info == .array([
                    .bulk("quorate"), .integer(1), .bulk("store_quorate"), .integer(1),
                    .bulk("node_id"), .integer(1), .bulk("node_state"), .bulk("member"),
                    .bulk("node_votes"), .integer(1), .bulk("node_expected_votes"), .integer(3),
                    .bulk("highest_expected"), .integer(3), .bulk("total_votes"), .integer(2),
                    .bulk("quorum"), .integer(2), .bulk("flags"), .array([.bulk("Quorate")]),
                    .bulk("ring_id"), .bulk("1.12"), .bulk("members"), .array([.integer(1), .integer(2)]),
                    .bulk("store_majority_votes"), .integer(2), .bulk("store_votes_present"), .integer(2),
                    .bulk("note"), .bulk("writes commit only with a true majority of the configured votes (2); quorum flags change what votequorum reports, never that"),
                ]))
                guard case .array(let two) = try await client.call(["QUORUM.INFO", "2"]) else {
                    Issue.record("QUORUM.INFO 2")
                    return
                }
                #expect(Array(two[4...7]) == [.bulk("node_id"), .integer(2), .bulk("node_state"), .bulk("member")])
                #expect(try await client.call(["QUORUM.INFO", "9"]) == .error("ERR NOT_EXIST node 9 is not known to votequorum"))
                #expect(try await client.call(["QUORUM.INFO", "x"]).errorText?.hasPrefix("ERR node id must be") == true)
                #expect(try await client.call(["QUORUM.INFO", "1", "2"]).errorText?.hasPrefix("ERR wrong number of arguments") == true)
            }
        }
    }

    /// A flag that lets a minority be quorate shows in QUORUM.INFO, with the store's "no".
    @Test func infoSaysWhenTheServiceAndTheStoreDisagree() async throws {
        try await ClientServerFixture.run { fixture throws in
            await fixture.service.configureQuorum(voters: [NodeID(1), NodeID(2)],
                                                  options: .init(twoNode: true, waitForAll: false))
            await fixture.service.setQuorumMembers([NodeID(1), NodeID(2)])
            await fixture.service.setQuorumMembers([NodeID(1)])
            try await fixture.client { client throws in
                guard case .array(let info) = try await client.call(["QUORUM.INFO"]) else {
                    Issue.record("QUORUM.INFO")
                    return
                }
                #expect(Array(info.prefix(4)) == [.bulk("quorate"), .integer(1), .bulk("store_quorate"), .integer(0)])
                #expect(info[19] == .array([.bulk("2Node"), .bulk("Quorate")]))
                #expect(info.last?.string?.hasPrefix("votequorum reports quorate (two_node), but the store commits only with a majority") == true)
            }
        }
    }

    @Test func trackPushesTheCurrentStateThenEveryChange() async throws {
        try await ClientServerFixture.run { fixture throws in
            await fixture.service.configureQuorum(voters: [NodeID(1), NodeID(2), NodeID(3)])
            try await fixture.client { watcher throws in
                #expect(try await watcher.call(["QUORUM.TRACK"]) == .array([.bulk("subscribe"), .bulk("quorum"), .integer(1)]))
                #expect(try await watcher.read() == .bulks(
                    "message", "quorum", "quorate=0 store_quorate=0 ring=1.8 quorum=2 members=1 nodes=1:member:1:3"))
                await fixture.service.setQuorumMembers([NodeID(1), NodeID(3)])
                let push = try await watcher.read()
                #expect(push == .bulks(
                    "message", "quorum", "quorate=1 store_quorate=1 ring=1.12 quorum=2 members=1,3 nodes=1:member:1:3,3:member:1:3"))
                #expect(try await watcher.call(["QUORUM.TRACK"]) == .error("ERR EXIST this connection already tracks quorum"))
                #expect(try await watcher.call(["QUORUM.UNTRACK"]) == .array([.bulk("unsubscribe"), .bulk("quorum"), .integer(0)]))
                #expect(await fixture.service.quorumTrackCount == 0)
                #expect(try await watcher.call(["QUORUM.UNTRACK"]) == .array([.bulk("unsubscribe"), .nullBulkString, .integer(0)]))
                // Tracking again starts again from the current state.
                #expect(try await watcher.call(["QUORUM.TRACK"]) == .array([.bulk("subscribe"), .bulk("quorum"), .integer(1)]))
                #expect(try await watcher.read()?.arrayCount == 3)
                #expect(try await watcher.call(["QUORUM.UNTRACK"]) == .array([.bulk("unsubscribe"), .bulk("quorum"), .integer(0)]))
            }
        }
    }

    @Test func trackChangesOnlySkipsTheCurrentState() async throws {
        try await ClientServerFixture.run { fixture throws in
            await fixture.service.configureQuorum(voters: [NodeID(1), NodeID(2), NodeID(3)])
            try await fixture.client { watcher throws in
                #expect(try await watcher.call(["QUORUM.TRACK", "sometimes"]) == .error(
                    "ERR INVALID_PARAM QUORUM.TRACK takes CHANGES (the current state, then every change) or CHANGES_ONLY, not 'sometimes'"))
                #expect(try await watcher.call(["QUORUM.TRACK", "changes", "x"]) == .error(
                    "ERR wrong number of arguments for 'quorum.track' command"))
                #expect(await fixture.service.quorumTrackCount == 0)
                #expect(try await watcher.call(["QUORUM.TRACK", "changes_only"]) == .array([.bulk("subscribe"), .bulk("quorum"), .integer(1)]))
                // No push of the current state: the first push is the change.
                await fixture.service.setQuorumMembers([NodeID(1), NodeID(3)])
                #expect(try await watcher.read() == .bulks(
                    "message", "quorum", "quorate=1 store_quorate=1 ring=1.12 quorum=2 members=1,3 nodes=1:member:1:3,3:member:1:3"))
                #expect(try await watcher.call(["QUORUM.UNTRACK"]) == .array([.bulk("unsubscribe"), .bulk("quorum"), .integer(0)]))
                // CHANGES, spelled out, is the default: the current state first.
                #expect(try await watcher.call(["QUORUM.TRACK", "CHANGES"]) == .array([.bulk("subscribe"), .bulk("quorum"), .integer(1)]))
                #expect(try await watcher.read() == .bulks(
                    "message", "quorum", "quorate=1 store_quorate=1 ring=1.12 quorum=2 members=1,3 nodes=1:member:1:3,3:member:1:3"))
            }
        }
    }

    @Test func setExpectedAndSetVotesWithCorosyncsChecks() async throws {
        try await ClientServerFixture.run { fixture throws in
            await fixture.service.configureQuorum(voters: [NodeID(1), NodeID(2), NodeID(3)])
            await fixture.service.setQuorumMembers([NodeID(1), NodeID(2), NodeID(3)])
            try await fixture.client { client throws in
                #expect(try await client.call(["QUORUM.SETEXPECTED", "2"])
                    == .error("ERR INVALID_PARAM expected votes 2 is below the 3 votes of the current members"))
                #expect(try await client.call(["QUORUM.SETEXPECTED", "4"]) == .ok)
                guard case .array(let info) = try await client.call(["QUORUM.INFO"]) else {
                    Issue.record("QUORUM.INFO")
                    return
                }
                #expect(info[11] == .integer(4))  // node_expected_votes
                #expect(info[17] == .integer(3))  // quorum
                #expect(try await client.call(["QUORUM.SETVOTES", "2", "2"]) == .ok)
                #expect(try await client.call(["QUORUM.SETVOTES", "9", "1"])
                    == .error("ERR NAME_NOT_FOUND node 9 is not known to votequorum"))
                #expect(try await client.call(["QUORUM.SETVOTES", "1", "5"]).errorText?.hasPrefix("ERR UNSAFE changing node 1 from 1 to 5 votes is too large a step") == true)
                #expect(try await client.call(["QUORUM.SETVOTES", "0", "2"]) == .ok)
                #expect(try await client.call(["QUORUM.SETEXPECTED", "0"]).errorText?.hasPrefix("ERR INVALID_PARAM expected votes must be") == true)
                #expect(try await client.call(["QUORUM.SETEXPECTED", "-1"]).errorText?.hasPrefix("ERR INVALID_PARAM") == true)
                #expect(try await client.call(["QUORUM.SETVOTES", "1"]).errorText?.hasPrefix("ERR wrong number of arguments") == true)
            }
        }
    }
}
