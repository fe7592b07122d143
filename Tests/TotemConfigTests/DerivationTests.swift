import Foundation
import Testing
@testable import TotemConfig

/// Defaults and derivations of the totem options (totem-notes 6.2, corosync 2.x
/// `totem_volatile_config_read`) as `ClusterConfig` resolves them.
@Suite struct DerivationTests {
    @Test func corosync2DefaultsForTwoNodes() throws {
        let t = try parse(cluster(nodes: 2)).totem
        #expect(t.token == 1000)
        #expect(t.tokenRetransmit == 238)  // 1000 / 4.2
        #expect(t.hold == 180)  // 238 x 0.8 - 10
        #expect(t.consensus == 1200)
        #expect(t.join == 50 && t.sendJoin == 0)
        #expect(t.merge == 200 && t.downcheck == 1000)
        #expect(t.failRecvConst == 2500 && t.seqnoUnchangedConst == 30)
        #expect(t.windowSize == 50 && t.maxMessages == 17 && t.missCountConst == 5)
        #expect(t.maxNetworkDelay == 50 && t.netmtu == 1500)
        #expect(t.transport == .udpu && t.rrpMode == TotemOptions.RRPMode.none)
        #expect(t.rrpTokenExpiredTimeout == 47)
        #expect(t.rrpProblemCountTimeout == 2000 && t.rrpProblemCountThreshold == 10)
        #expect(t.rrpProblemCountMcastThreshold == 100)
        #expect(t.cryptoCipher == "none" && t.cryptoHash == "none" && !t.secauth)
        #expect(t.interfaces == [TotemOptions.Interface(ringNumber: 0, mcastPort: 5405, ttl: 1)])
    }

    @Test func tokenCoefficientWithThreeNodes() throws {
        let t = try parse(cluster(nodes: 3)).totem
        #expect(t.configuredToken == 1000)
        #expect(t.token == 1650)  // 1000 + (3 - 2) x 650
        #expect(t.tokenRetransmit == 392)  // 1650 / 4.2 = 392.8
        #expect(t.hold == 303)  // 392 x 0.8 - 10 = 303.6
        #expect(t.consensus == 1980)  // 1.2 x 1650
    }

    @Test func tokenCoefficientWithFiveNodes() throws {
        let t = try parse(cluster(nodes: 5)).totem
        #expect(t.token == 2950)  // 1000 + 3 x 650
        #expect(t.tokenRetransmit == 702)
        #expect(t.hold == 551)
        #expect(t.consensus == 3540)
    }

    @Test func coefficientAppliesToAnExplicitTokenAndZeroDisablesIt() throws {
        // totem-notes 6.2: 869 ms of token_retransmit for T = 3650.
        let scaled = try parse(cluster(nodes: 3, totem: "token: 3000\n")).totem
        #expect(scaled.token == 3650 && scaled.tokenRetransmit == 869)
        let flat = try parse(cluster(nodes: 5, totem: "token: 3000\ntoken_coefficient: 0\n")).totem
        #expect(flat.token == 3000 && flat.tokenRetransmit == 714 && flat.hold == 561 && flat.consensus == 3600)
    }

    @Test func retransmitsBeforeLossConstDrivesTheDerivations() throws {
        let t = try parse(cluster(nodes: 2, totem: "token_retransmits_before_loss_const: 10\n")).totem
        #expect(t.tokenRetransmit == 98)  // 1000 / 10.2 = 98.04
        #expect(t.hold == 68)  // 98 x 0.8 - 10 = 68.4
    }

    @Test func explicitValuesWin() throws {
        let text = cluster(nodes: 3, totem: """
            token_retransmit: 300
            hold: 200
            consensus: 5000
            join: 60
            rrp_problem_count_threshold: 4
            rrp_problem_count_mcast_threshold: 7
            window_size: 20
            max_messages: 10
            netmtu: 9000

            """)
        let config = try parse(text)
        let t = config.totem
        #expect(t.token == 1650)
        #expect(t.tokenRetransmit == 300 && t.hold == 200 && t.consensus == 5000 && t.join == 60)
        #expect(t.rrpProblemCountThreshold == 4 && t.rrpProblemCountMcastThreshold == 7)
        #expect(t.windowSize == 20 && t.maxMessages == 10 && t.netmtu == 9000)
        #expect(config.totemSettings.consensus == 5000)
    }

    @Test func holdFollowsAnExplicitTokenRetransmit() throws {
        let t = try parse(cluster(nodes: 2, totem: "token_retransmit: 500\n")).totem
        #expect(t.hold == 390)  // 500 x 0.8 - 10
    }

    @Test func mcastThresholdIsTenTimesTheThreshold() throws {
        let t = try parse(cluster(nodes: 2, totem: "rrp_problem_count_threshold: 3\n")).totem
        #expect(t.rrpProblemCountMcastThreshold == 30)
    }

    @Test func explicitZeroMeansTheDefaultWithAWarning() throws {
        let config = try parse(cluster(nodes: 2, totem: "token: 0\nconsensus: 0\n"))
        #expect(config.totem.token == 1000 && config.totem.consensus == 1200)
        #expect(config.warnings.contains { $0.message.contains("totem.token: 0 means the default") })
    }

    @Test func secauthOnMeansAES256AndSHA1AndCryptoKeysOverride() throws {
        let on = try parse(cluster(nodes: 2, totem: "secauth: on\n")).totem
        #expect(on.cryptoCipher == "aes256" && on.cryptoHash == "sha1" && on.secauth)
        let chosen = try parse(cluster(nodes: 2, totem: "secauth: on\ncrypto_hash: sha256\n")).totem
        #expect(chosen.cryptoCipher == "aes256" && chosen.cryptoHash == "sha256")
        let off = try parse(cluster(nodes: 2, totem: "secauth: off\n"))
        #expect(off.totem.cryptoCipher == "none" && effective(off, "totem.secauth") == "off")
        let keyed = try parse(cluster(nodes: 2, totem: "crypto_cipher: aes128\ncrypto_hash: sha512\nkeyfile: /k\n"))
        #expect(effective(keyed, "totem.secauth") == "on")
        #expect(keyed.totem.keyFile == "/k" && effective(keyed, "totem.keyfile") == "/k")
    }

    @Test func udpMulticastAddressIsDerivedFromClusterName() throws {
        // corosync's fold: 'k' = 107, then 107 x 2 + 'v' (118) = 332 = 0x14C -> 239.192.1.(332 % 255).
        let config = try parse("""
            totem {
            \tversion: 2
            \ttransport: udp
            \tcluster_name: kv
            \tinterface {
            \t\tringnumber: 0
            \t\tbindnetaddr: 10.0.0.0
            \t}
            }
            """)
        #expect(config.totem.interfaces[0].mcastAddr == "239.192.1.77")
        #expect(Rules.clusterMulticastAddress("kv", ring: 1) == "239.192.1.78")
    }

    @Test func interfacesFollowTheNodelist() throws {
        let config = try parse("""
            totem {
            \tversion: 2
            \trrp_mode: active
            }
            nodelist {
            \tnode {
            \t\tnodeid: 1
            \t\tring0_addr: 10.0.0.1
            \t\tring1_addr: 10.1.0.1
            \t}
            \tnode {
            \t\tnodeid: 2
            \t\tring0_addr: 10.0.0.2
            \t\tring1_addr: 10.1.0.2
            \t}
            }
            """)
        #expect(config.ringCount == 2)
        #expect(config.totem.interfaces.map(\.ringNumber) == [0, 1])
        #expect(config.totem.interfaces.allSatisfy { $0.mcastPort == 5405 && $0.ttl == 1 })
    }

    @Test func nodeIDIsDerivedFromAnIPv4AddressAsCorosyncDoes() throws {
        let text = """
            totem {
            \tversion: 2
            \tclear_node_high_bit: yes
            }
            nodelist {
            \tnode {
            \t\tring0_addr: 10.16.35.101
            \t}
            \tnode {
            \t\tring0_addr: 192.168.1.1
            \t}
            }
            """
        let config = try parse(text)
        #expect(config.nodes[0].nodeID == 0x0A10_2365 && config.nodes[0].isNodeIDDerived)
        #expect(config.nodes[1].nodeID == 0xC0A8_0101 & 0x7FFF_FFFF)
        #expect(config.warnings.contains { $0.message.contains("derived 168829797 from ring0_addr 10.16.35.101") })
    }

    @Test func quorumDefaultsAndTwoNodeImpliesWaitForAll() throws {
        let plain = try parse(cluster(nodes: 3) + "quorum {\n\tprovider: corosync_votequorum\n}\n")
        #expect(plain.quorum == QuorumConfig(provider: "corosync_votequorum"))
        #expect(plain.quorum.lastManStandingWindow == 10_000)
        #expect(plain.expectedVotes == 3)
        let two = try parse(cluster(nodes: 2) + "quorum {\n\tprovider: corosync_votequorum\n\ttwo_node: 1\n}\n")
        #expect(two.quorum.twoNode && two.quorum.waitForAll)
        let explicit = try parse(cluster(nodes: 2) + "quorum {\n\ttwo_node: 1\n\twait_for_all: 0\n}\n")
        #expect(explicit.quorum.twoNode && !explicit.quorum.waitForAll)
    }

    @Test func quorumVotesAndExpectedVotes() throws {
        let text = """
            nodelist {
            \tnode {
            \t\tnodeid: 1
            \t\tring0_addr: 127.0.0.1
            \t\tquorum_votes: 3
            \t}
            \tnode {
            \t\tnodeid: 2
            \t\tring0_addr: 127.0.0.2
            \t}
            }
            quorum {
            \tprovider: corosync_votequorum
            \tauto_tie_breaker: 1
            \tauto_tie_breaker_node: 2 1
            }
            """
        let config = try parse(text)
        #expect(config.totalVotes == 4 && config.expectedVotes == 4)
        #expect(config.quorum.autoTieBreakerNode == .list([2, 1]))
        let overridden = try parse(text.replacingOccurrences(of: "auto_tie_breaker: 1", with: "expected_votes: 6"))
        #expect(overridden.expectedVotes == 6 && overridden.quorum.expectedVotes == 6)
    }

    @Test func quorumFlagsCorosyncDisablesAtStartUp() throws {
        let atb = try parse(cluster(nodes: 2) + "quorum {\n\ttwo_node: 1\n\tauto_tie_breaker: 1\n}\n")
        #expect(!atb.quorum.twoNode && atb.quorum.autoTieBreaker)
        let odd = try parse(cluster(nodes: 3) + "quorum {\n\tauto_tie_breaker: 1\n}\n")
        #expect(!odd.quorum.autoTieBreaker)
        #expect(odd.warnings.contains { $0.message.contains("needs wait_for_all") })
    }

    @Test func storeClientAndLoggingDefaults() throws {
        let config = try parse(cluster(nodes: 3))
        #expect(config.store == StoreConfig())
        #expect(config.store.dataDirectory == ".totemkv/data" && config.store.fsync)
        #expect(config.store.snapshotEntries == 10_000 && config.store.snapshotBytes == 64 << 20)
        #expect(config.store.snapshotGrowthPercent == 100)
        #expect(config.store.maxValueBytes == 1 << 20)
        #expect(config.client == ClientConfig(bindAddress: "127.0.0.1", port: 6379, password: nil))
        #expect(config.logging == LoggingConfig())
        #expect(config.logging.level == .info && config.logging.toStderr)
    }

    @Test func snapshotGrowthPercentIsReadAndBounded() throws {
        let off = try parse(cluster(nodes: 3) + "store {\n\tsnapshot_growth_percent: 0\n}\n")
        #expect(off.store.snapshotGrowthPercent == 0)
        let twice = try parse(cluster(nodes: 3) + "store {\n\tsnapshot_growth_percent: 200\n}\n")
        #expect(twice.store.snapshotGrowthPercent == 200)
        #expect(throws: ConfigError.self) {
            try parse(cluster(nodes: 3) + "store {\n\tsnapshot_growth_percent: -1\n}\n")
        }
        #expect(throws: ConfigError.self) {
            try parse(cluster(nodes: 3) + "store {\n\tsnapshot_growth_percent: 10001\n}\n")
        }
    }

    @Test func clientEndpointsAndDataDirectoriesPerNode() throws {
        let text = cluster(nodes: 3)
            .replacingOccurrences(of: "\t\tnodeid: 3\n", with: "\t\tnodeid: 3\n\t\tclient_port: 7000\n")
            + "client {\n\tport: 6400\n}\nstore {\n\tdata_directory: /var/lib/kv/\n}\n"
        let config = try parse(text)
        #expect(config.nodes.map { config.clientEndpoint(for: $0).port } == [6400, 6401, 7000])
        #expect(config.clientEndpoint(for: config.nodes[1]).address == "127.0.0.1")
        #expect(config.dataDirectory(for: config.nodes[2]) == "/var/lib/kv/node-3")
    }

    @Test func loggingLevels() throws {
        let debug = try parse("logging {\n\tdebug: on\n\tlogfile_priority: warning\n}\n")
        #expect(debug.logging.debug && debug.logging.level == .debug)
        let quiet = try parse("logging {\n\tlogfile_priority: err\n\tto_logfile: yes\n\tlogfile: /tmp/x.log\n}\n")
        #expect(quiet.logging.level == .error && quiet.logging.toLogfile && quiet.logging.logfile == "/tmp/x.log")
        let trace = try parse("logging {\n\tdebug: trace\n}\n")
        #expect(trace.logging.level == .trace && effective(trace, "logging.debug") == "trace")
    }

    @Test func repeatedKeysLastWinsWithAWarning() throws {
        let config = try parse(cluster(nodes: 2, totem: "token: 2000\ntoken: 3000\n"))
        #expect(config.totem.token == 3000)
        #expect(config.warnings.contains { $0.message.contains("totem.token is set again (first at line 3)") })
    }
}
