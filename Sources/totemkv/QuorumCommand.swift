import ArgumentParser
import Foundation
import Node
import RESP

/// `totemkv quorum`: what `corosync-quorumtool -s` prints (quorum information, votequorum
/// information, membership), from QUORUM.INFO and QUORUM.INFO <member>.
struct QuorumCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quorum", abstract: "Print quorum and votequorum status, like corosync-quorumtool -s (QUORUM.INFO).")
    @OptionGroup var connection: ConnectionOptions

    func run() async throws {
        let text = try await connection.withClient { client throws -> String in
            let local = try Self.fields(try await client.call(["QUORUM.INFO"]))
            var members: [QuorumToolText.Member] = []
            for id in local.members {
                let info = try Self.fields(try await client.call(["QUORUM.INFO", String(id)]))
                members.append(.init(nodeID: id, votes: info.integer("node_votes")))
            }
            return QuorumToolText.render(local, members: members, date: Date().formatted(date: .abbreviated, time: .standard))
        }
        print(text, terminator: "")
    }

    static func fields(_ reply: RESPValue) throws -> QuorumToolText.Fields {
        if case .error(let message) = reply { throw ClientVerbError.server(message) }
        guard case .array(let items) = reply, items.count % 2 == 0 else {
            throw ClientVerbError.server("QUORUM.INFO answered \(reply.cliText())")
        }
        var fields = QuorumToolText.Fields()
        var index = 0
        while index + 1 < items.count {
            fields.values.append((items[index].string ?? "", items[index + 1]))
            index += 2
        }
        return fields
    }
}

/// The layout of `corosync-quorumtool -s`, plus one line for the store's verdict.
enum QuorumToolText {
    struct Fields {
        var values: [(String, RESPValue)] = []
        func value(_ name: String) -> RESPValue? { values.first { $0.0 == name }?.1 }
        func integer(_ name: String) -> Int64 {
            if case .integer(let n)? = value(name) { return n }
            return 0
        }
        func text(_ name: String) -> String { value(name)?.string ?? "-" }
        var members: [Int64] {
            guard case .array(let items)? = value("members") else { return [] }
            return items.compactMap { if case .integer(let n) = $0 { n } else { nil } }
        }
        var flags: [String] {
            guard case .array(let items)? = value("flags") else { return [] }
            return items.compactMap(\.string)
        }
    }

    struct Member {
        var nodeID: Int64
        var votes: Int64
    }

    static func render(_ f: Fields, members: [Member], date: String) -> String {
        let nodeID = f.integer("node_id")
        var lines = [
            "Quorum information",
            "------------------",
            "Date:             \(date)",
            "Quorum provider:  corosync_votequorum",
            "Nodes:            \(members.count)",
            "Node ID:          \(nodeID)",
            "Ring ID:          \(f.text("ring_id"))",
            "Quorate:          \(f.integer("quorate") == 1 ? "Yes" : "No")",
            "",
            "Votequorum information",
            "----------------------",
            "Expected votes:   \(f.integer("node_expected_votes"))",
            "Highest expected: \(f.integer("highest_expected"))",
            "Total votes:      \(f.integer("total_votes"))",
            "Quorum:           \(f.integer("quorum"))" + (f.integer("quorate") == 1 ? "" : "  Activity blocked"),
            "Flags:            \(f.flags.joined(separator: " "))",
            "Store quorate:    \(f.integer("store_quorate") == 1 ? "Yes" : "No") "
                + "(writes need \(f.integer("store_majority_votes")) of the configured votes; "
                + "\(f.integer("store_votes_present")) present)",
            "",
            "Membership information",
            "----------------------",
            "    Nodeid      Votes Name",
        ]
        for m in members {
            let id = String(m.nodeID), votes = String(m.votes)
            lines.append(String(repeating: " ", count: max(0, 10 - id.count)) + id
                         + String(repeating: " ", count: max(0, 11 - votes.count)) + votes
                         + (m.nodeID == nodeID ? " (local)" : ""))
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
