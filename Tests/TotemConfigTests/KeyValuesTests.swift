import Testing
@testable import TotemConfig

/// `effectiveKeyValues()`: what `totemkv config check` prints.
@Suite struct KeyValuesTests {
    /// The whole listing for a two-node cluster that sets nothing else: every default and
    /// derivation, spelt as corosync.conf spells the keys.
    static let twoNodeListing = """
        client.bind_address = 127.0.0.1
        client.port = 6379
        logging.debug = off
        logging.logfile_priority = info
        logging.timestamp = off
        logging.to_logfile = no
        logging.to_stderr = yes
        nodelist.node.0.client_address = 127.0.0.1
        nodelist.node.0.client_port = 6379
        nodelist.node.0.nodeid = 1
        nodelist.node.0.quorum_votes = 1
        nodelist.node.0.ring0_addr = 127.0.0.1
        nodelist.node.1.client_address = 127.0.0.1
        nodelist.node.1.client_port = 6380
        nodelist.node.1.nodeid = 2
        nodelist.node.1.quorum_votes = 1
        nodelist.node.1.ring0_addr = 127.0.0.2
        quorum.allow_downscale = 0
        quorum.auto_tie_breaker = 0
        quorum.auto_tie_breaker_node = lowest
        quorum.expected_votes = 2
        quorum.last_man_standing = 0
        quorum.last_man_standing_window = 10000
        quorum.two_node = 0
        quorum.wait_for_all = 0
        runtime.watchdog = off
        store.data_directory = .totemkv/data
        store.fsync = on
        store.max_value_bytes = 1048576
        store.snapshot_bytes = 67108864
        store.snapshot_entries = 10000
        store.snapshot_growth_percent = 100
        totem.cancel_token_hold_on_retransmit = no
        totem.consensus = 1200
        totem.crypto_cipher = none
        totem.crypto_hash = none
        totem.downcheck = 1000
        totem.fail_recv_const = 2500
        totem.heartbeat_failures_allowed = 0
        totem.hold = 180
        totem.interface.0.mcastport = 5405
        totem.interface.0.ttl = 1
        totem.join = 50
        totem.max_messages = 17
        totem.max_network_delay = 50
        totem.merge = 200
        totem.miss_count_const = 5
        totem.netmtu = 1500
        totem.rrp_autorecovery_check_timeout = 1000
        totem.rrp_mode = none
        totem.rrp_problem_count_mcast_threshold = 100
        totem.rrp_problem_count_threshold = 10
        totem.rrp_problem_count_timeout = 2000
        totem.rrp_token_expired_timeout = 47
        totem.secauth = off
        totem.send_join = 0
        totem.seqno_unchanged_const = 30
        totem.token = 1000
        totem.token_coefficient = 650
        totem.token_retransmit = 238
        totem.token_retransmits_before_loss_const = 4
        totem.token_warning = 75
        totem.transport = udpu
        totem.version = 2
        totem.window_size = 50
        """

    @Test func fullListingForATwoNodeCluster() throws {
        let config = try parse(cluster(nodes: 2))
        let printed = config.effectiveKeyValues().map { "\($0.key) = \($0.value)" }.joined(separator: "\n")
        #expect(printed == Self.twoNodeListing)
    }

    @Test func derivedValuesAreListed() throws {
        let config = try parse(cluster(nodes: 3, totem: "\tconsensus: 4000\n"))
        #expect(effective(config, "totem.token") == "1650")
        #expect(effective(config, "totem.token_retransmit") == "392")
        #expect(effective(config, "totem.hold") == "303")
        #expect(effective(config, "totem.consensus") == "4000")
        #expect(effective(config, "quorum.expected_votes") == "3")
        #expect(effective(config, "nodelist.node.2.client_port") == "6381")
    }

    @Test func keysAreUniqueAndSortedWithNumbersInNumericOrder() throws {
        let config = try parse(cluster(nodes: 11))
        let keys = config.effectiveKeyValues().map(\.key)
        #expect(Set(keys).count == keys.count)
        let nodeIDKeys = keys.filter { $0.hasSuffix(".nodeid") }
        #expect(nodeIDKeys == (0..<11).map { "nodelist.node.\($0).nodeid" })
        #expect(zip(keys, keys.dropFirst()).allSatisfy { KeyOrder.precedes($0, $1) })
    }

    @Test func optionalValuesAppearOnlyWhenSetAndThePasswordIsHidden() throws {
        let text = cluster(nodes: 2, totem: "\tcluster_name: kv\n\tsecauth: on\n")
            .replacingFirst("\t\tnodeid: 1\n", with: "\t\tnodeid: 1\n\t\tname: first\n")
            + "client {\n\tpassword: \"s3cret words\"\n}\nlogging {\n\tto_logfile: yes\n\tlogfile: /tmp/kv.log\n}\n"
        let config = try parse(text)
        #expect(config.client.password == "s3cret words")
        #expect(effective(config, "client.password") == "(set)")
        #expect(!config.effectiveKeyValues().contains { $0.value.contains("s3cret") })
        #expect(effective(config, "totem.cluster_name") == "kv")
        #expect(effective(config, "totem.keyfile") == "/etc/corosync/authkey")
        #expect(effective(config, "nodelist.node.0.name") == "first")
        #expect(effective(config, "nodelist.node.1.name") == nil)
        #expect(effective(config, "logging.logfile") == "/tmp/kv.log")
        let plain = try parse(cluster(nodes: 2))
        #expect(effective(plain, "totem.keyfile") == nil && effective(plain, "client.password") == nil)
    }

    @Test func twoRingsListBothInterfaces() throws {
        let text = """
            totem {
            \tversion: 2
            \trrp_mode: passive
            \tinterface {
            \t\tringnumber: 1
            \t\tmcastport: 5407
            \t}
            }
            nodelist {
            \tnode {
            \t\tnodeid: 1
            \t\tring0_addr: 127.0.0.1
            \t\tring1_addr: 127.0.1.1
            \t}
            }
            """
        let config = try parse(text)
        #expect(effective(config, "totem.interface.0.mcastport") == "5405")
        #expect(effective(config, "totem.interface.1.mcastport") == "5407")
        #expect(effective(config, "nodelist.node.0.ring1_addr") == "127.0.1.1")
    }
}
