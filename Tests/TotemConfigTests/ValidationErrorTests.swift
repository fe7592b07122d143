import Foundation
import Testing
@testable import TotemConfig

/// Every rule of totem-notes 6.3 and the issue, each error checked with its line and column.
@Suite struct ValidationErrorTests {
    /// Lines joined with newlines, so that line numbers can be read off the call.
    func file(_ lines: String...) -> String { lines.joined(separator: "\n") + "\n" }

    let twoNodes = """
        nodelist {
        \tnode {
        \t\tnodeid: 1
        \t\tring0_addr: 127.0.0.1
        \t}
        \tnode {
        \t\tnodeid: 2
        \t\tring0_addr: 127.0.0.2
        \t}
        }
        """

    @Test func wrongTypeUsesCorosyncsWording() {
        expectError(file("totem {", "\tversion: 2", "\ttoken: fast", "}"), line: 3, column: 9,
                    "Value of key \"token\" is expected to be integer in range (30..86400000), but \"fast\" was given")
    }

    @Test func timeoutsBelowThirtyMilliseconds() {
        expectError(file("totem {", "\tjoin: 10", "}"), line: 2, column: 8,
                    "\"join\" is expected to be integer in range (30..86400000), but \"10\"")
        expectError(file("totem {", "\tmax_network_delay: 29", "}"), line: 2, column: 21, "range (30..")
    }

    @Test func aTrailingCommentIsExplained() {
        expectError(file("totem {", "\ttoken: 1000 # ms", "}"), line: 2, column: 9,
                    "'#' starts a comment only at the beginning of a line")
    }

    @Test func consensusBelowOnePointTwoTimesTheEffectiveToken() {
        let text = cluster(nodes: 3, totem: "\tconsensus: 1500\n")
        expectError(text, line: 3, column: 13,
                    "consensus 1500 ms is below 1.2 x token = 1980 ms (effective token 1650 ms for 3 nodes)")
        // 1980 itself is allowed.
        #expect(throws: Never.self) { try parse(cluster(nodes: 3, totem: "\tconsensus: 1980\n")) }
    }

    @Test func consensusBelowJoin() {
        expectError(cluster(nodes: 2, totem: "\tjoin: 3000\n"), line: 3, column: 8,
                    "consensus (1200 ms) may not be less than join (3000 ms)")
        expectError(cluster(nodes: 2, totem: "\tjoin: 3000\n\tconsensus: 2000\n"), line: 4, column: 13,
                    "consensus (2000 ms) may not be less than join (3000 ms)")
    }

    @Test func derivedTimeoutsBelowTheMinimum() {
        // token 100 gives token_retransmit 100 / 4.2 = 23 ms.
        expectError(cluster(nodes: 2, totem: "\ttoken: 100\n"), line: 3, column: 9,
                    "Not appropriate token or token_retransmits_before_loss_const value set")
        // token 160 gives token_retransmit 38 ms and hold 38 x 0.8 - 10 = 20 ms.
        expectError(cluster(nodes: 2, totem: "\ttoken: 160\n"), line: 3, column: 9, "derived hold")
    }

    @Test func effectiveTokenMustStayBounded() {
        expectError(cluster(nodes: 3, totem: "\ttoken_coefficient: 86400000\n"), line: 3, column: 21,
                    "the effective token timeout")
    }

    @Test func rrpModeNoneAllowsOneInterface() {
        let text = file(
            "totem {", "\tversion: 2",
            "\tinterface {", "\t\tringnumber: 0", "\t}",
            "\tinterface {", "\t\tringnumber: 1", "\t\tmcastport: 5407", "\t}",
            "}")
        expectError(text, line: 6, column: 2, "2 rings are too many for rrp_mode none (interface ringnumber 1 at line 6)")
        let explicit = text.replacingFirst("\tversion: 2", with: "\tversion: 2\n\trrp_mode: none")
        expectError(explicit, line: 3, column: 12, "expected rrp_mode: passive or active")
    }

    @Test func twoRingsNeedRing1AddrOnEveryNode() {
        let text = file(
            "totem {", "\tversion: 2", "\trrp_mode: passive", "}",
            "nodelist {",
            "\tnode {", "\t\tnodeid: 1", "\t\tring0_addr: 10.0.0.1", "\t\tring1_addr: 10.1.0.1", "\t}",
            "\tnode {", "\t\tnodeid: 2", "\t\tring0_addr: 10.0.0.2", "\t}",
            "}")
        expectError(text, line: 11, column: 2,
                    "expected ring1_addr in this node: 2 rings are configured (ring1_addr of the node at line 6)")
    }

    @Test func duplicateNodeIDs() {
        let text = twoNodes.replacingFirst("nodeid: 2", with: "nodeid: 1")
        expectError(text, line: 7, column: 11, "node id 1 is already used by the node at line 2")
    }

    @Test func duplicateDerivedNodeIDs() {
        // 10.0.0.1 derives 167772161; the second node says so explicitly.
        let text = file("nodelist {", "\tnode {", "\t\tring0_addr: 10.0.0.1", "\t}",
                        "\tnode {", "\t\tnodeid: 167772161", "\t\tring0_addr: 10.0.0.2", "\t}", "}")
        expectError(text, line: 6, column: 11, "node id 167772161 is already used")
    }

    @Test func duplicateAddressesAndNames() {
        expectError(twoNodes.replacingFirst("127.0.0.2", with: "127.0.0.1"), line: 8, column: 15,
                    "address 127.0.0.1 is already used by node 1 (line 2) as ring0_addr")
        let names = twoNodes.replacingFirst("\t\tnodeid: 1", with: "\t\tnodeid: 1\n\t\tname: a")
            .replacingFirst("\t\tnodeid: 2", with: "\t\tnodeid: 2\n\t\tname: a")
        expectError(names, line: 9, column: 9, "node name \"a\" is already used")
        let v6 = twoNodes.replacingFirst("127.0.0.1", with: "::1").replacingFirst("127.0.0.2", with: "0:0:0:0:0:0:0:1")
        expectError(v6, line: 8, column: 15, "is already used by node 1")
    }

    @Test func nodeIDZeroAndMcastPortZeroAreRejected() {
        expectError(twoNodes.replacingFirst("nodeid: 2", with: "nodeid: 0"), line: 7, column: 11,
                    "\"nodeid\" is expected to be integer in range (1..4294967295), but \"0\" was given")
        expectError(file("totem {", "\tinterface {", "\t\tmcastport: 0", "\t}", "}"), line: 3, column: 14,
                    "\"mcastport\" is expected to be integer in range (1..65535), but \"0\"")
    }

    @Test func ttlOnlyForUDP() {
        expectError(file("totem {", "\tinterface {", "\t\tttl: 2", "\t}", "}"), line: 3, column: 8,
                    "ttl can only be set with transport udp")
        expectError(file("totem {", "\tinterface {", "\t\tttl: 256", "\t}", "}"), line: 3, column: 8, "range (0..255)")
    }

    @Test func transportValues() {
        expectError(file("totem {", "\ttransport: tcp", "}"), line: 2, column: 13,
                    "\"transport\" is expected to be one of udpu, udp, knet, but \"tcp\" was given")
        expectError(file("totem {", "\ttransport: iba", "}"), line: 2, column: 13, "not supported")
    }

    @Test func udpNeedsAMulticastGroup() {
        expectError(file("totem {", "\ttransport: udp", "\tinterface {", "\t\tbindnetaddr: 10.0.0.0", "\t}", "}"),
                    line: 3, column: 2, "transport udp needs mcastaddr")
        expectError(file("totem {", "\ttransport: udp", "\tinterface {", "\t\tmcastaddr: 10.0.0.9", "\t}", "}"),
                    line: 4, column: 14, "not a multicast address")
        expectError(file("totem {", "\ttransport: udp", "\tinterface {", "\t\tbindnetaddr: 10.0.0.0",
                         "\t\tmcastaddr: ff15::1", "\t}", "}"),
                    line: 5, column: 14, "different IP families")
    }

    @Test func udpRingsMustDifferInGroupOrPort() {
        let text = file(
            "totem {", "\ttransport: udp", "\trrp_mode: active",
            "\tinterface {", "\t\tringnumber: 0", "\t\tmcastaddr: 239.1.1.1", "\t\tmcastport: 5405", "\t}",
            "\tinterface {", "\t\tringnumber: 1", "\t\tmcastaddr: 239.1.1.1", "\t\tmcastport: 5406", "\t}",
            "}")
        expectError(text, line: 12, column: 14, "ports less than 2 apart")
    }

    @Test func cryptoValues() {
        expectError(file("totem {", "\tcrypto_cipher: aes512", "}"), line: 2, column: 17,
                    "expected to be one of none, aes256, aes192, aes128, 3des, but \"aes512\"")
        expectError(file("totem {", "\tcrypto_hash: crc", "}"), line: 2, column: 15, "one of none, md5, sha1")
        expectError(file("totem {", "\tcrypto_cipher: aes256", "\tcrypto_hash: none", "}"), line: 2, column: 17,
                    "crypto_cipher aes256 requires crypto_hash with a value other than none")
        expectError(file("totem {", "\tsecauth: maybe", "}"), line: 2, column: 11,
                    "\"secauth\" is expected to be on or off, but \"maybe\" was given")
    }

    @Test func versionMustBeTwo() {
        expectError(file("totem {", "\tversion: 3", "}"), line: 2, column: 11, "expected to be one of 2")
    }

    @Test func unknownKeysInKnownSectionsAreErrors() {
        expectError(file("totem {", "\ttokne: 1000", "}"), line: 2, column: 2,
                    "unknown key \"tokne\" in section totem; did you mean \"token\"?")
        expectError(file("store {", "\tfsyn: on", "}"), line: 2, column: 2,
                    "unknown key \"fsyn\" in section store; did you mean \"fsync\"?")
        expectError(file("quorum {", "\ttwo_nodes: 1", "}"), line: 2, column: 2, "did you mean \"two_node\"?")
        expectError(file("totem {", "\tinterfaces {", "\t}", "}"), line: 2, column: 2,
                    "unknown section \"interfaces\" in totem; did you mean \"interface\"?")
    }

    @Test func aSectionMayAppearOnce() {
        expectError(file("totem {", "}", "totem {", "}"), line: 3, column: 1, "section totem appears twice (first at line 1)")
    }

    @Test func interfaceRingNumbers() {
        expectError(file("totem {", "\tinterface {", "\t\tringnumber: 2", "\t}", "}"), line: 3, column: 15, "range (0..1)")
        expectError(file("totem {", "\tinterface {", "\t}", "\tinterface {", "\t\tringnumber: 0", "\t}", "}"),
                    line: 4, column: 2, "interface with ringnumber 0 is defined twice (first at line 2)")
    }

    @Test func nodeEntries() {
        expectError(file("nodelist {", "\tnode {", "\t\tnodeid: 1", "\t}", "}"), line: 2, column: 2,
                    "expected ring0_addr in this node section")
        expectError(file("nodelist {", "\tnode {", "\t\tring0_addr: db1.example.com", "\t}", "}"), line: 2, column: 2,
                    "expected nodeid in this node section")
        expectError(file("nodelist {", "\tnode {", "\t\tnodeid: 1", "\t\tring0_addr: 10.0.0.1", "\t\tring2_addr: 10.2.0.1", "\t}", "}"),
                    line: 5, column: 3, "at most 2 rings")
        expectError(file("nodelist {", "\tnode {", "\t\tnodeid: 1", "\t\tring0_addr: 10.0.0.1 # first", "\t}", "}"),
                    line: 4, column: 15, "IPv4 or IPv6 address or a host name")
        expectError(file("nodelist {", "\tnode {", "\t\tnodeid: 1", "\t\tring0_addr: 10.0.0.1", "\t\tquorum_votes: -1", "\t}", "}"),
                    line: 5, column: 17, "\"quorum_votes\" is expected to be integer in range (0..1000000)")
    }

    @Test func addressesOfOneRingShareAFamily() {
        expectError(twoNodes.replacingFirst("127.0.0.2", with: "fe80::2"), line: 8, column: 15,
                    "expected one IP family per ring")
    }

    @Test func nodeCountIsBounded() {
        let limit = NodelistSection.maxNodes
        // Node k's section starts on line 2 + 4 (k - 1).
        expectError(nodelist(limit + 1), line: 2 + 4 * limit, column: 2, "more than 384 nodes")
    }

    @Test func quorumRules() {
        expectError(file("quorum {", "\tprovider: corosync_votequorum", "}"), line: 2, column: 2,
                    "expected a nodelist or quorum.expected_votes")
        expectError(file("quorum {", "\tprovider: votequorum", "}"), line: 2, column: 12,
                    "one of corosync_votequorum")
        expectError(file("quorum {", "\texpected_votes: 0", "}"), line: 2, column: 18, "range (1..4294967295)")
        expectError(file("quorum {", "\tauto_tie_breaker_node: first", "}"), line: 2, column: 25,
                    "lowest, highest or a list of node ids")
        expectError(file("quorum {", "\ttwo_node: yes please", "}"), line: 2, column: 12, "expected to be 1 or 0")
    }

    @Test func aClusterNeedsAtLeastOneVote() {
        let text = twoNodes.replacingFirst("\t\tnodeid: 1", with: "\t\tnodeid: 1\n\t\tquorum_votes: 0")
            .replacingFirst("\t\tnodeid: 2", with: "\t\tnodeid: 2\n\t\tquorum_votes: 0")
        expectError(text, line: 1, column: 1, "every node has quorum_votes 0")
    }

    @Test func loggingToAFileNeedsTheFile() {
        expectError(file("logging {", "\tto_logfile: yes", "}"), line: 2, column: 14, "expected logfile")
    }

    @Test func clientEndpoints() {
        expectError(twoNodes + "\nclient {\n\tport: 65535\n}\n", line: 12, column: 8, "above 65535")
        let clash = twoNodes.replacingFirst("\t\tnodeid: 2", with: "\t\tnodeid: 2\n\t\tclient_port: 6379")
        expectError(clash, line: 8, column: 16, "client endpoint 127.0.0.1:6379 is already used by the node at line 2")
    }

    @Test func storeBounds() {
        expectError(file("store {", "\tmax_value_bytes: 0", "}"), line: 2, column: 19, "range (1..67108864)")
        expectError(file("store {", "\tfsync: sometimes", "}"), line: 2, column: 9, "on or off")
    }
}

extension String {
    /// The string with the first occurrence of `target` replaced (tests only).
    func replacingFirst(_ target: String, with replacement: String) -> String {
        guard let range = range(of: target) else { return self }
        return replacingCharacters(in: range, with: replacement)
    }
}
