import Foundation
import Testing
@testable import TotemConfig

/// The shipped examples in Data/conf, and fixtures shaped like corosync's own example files
/// (conf/corosync.conf.example, conf/corosync.conf.example.udpu in corosync 1.x, 2.x and
/// 3.x), written for these tests: they must parse, with warnings for what TotemKV ignores.
@Suite struct ExampleFileTests {
    static let confDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Data/conf")

    static var exampleFiles: [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: confDirectory.path)) ?? []
        return names.filter { $0.hasSuffix(".conf") }.sorted()
    }

    func load(_ name: String) throws -> ClusterConfig {
        try ClusterConfig.load(path: Self.confDirectory.appendingPathComponent(name).path)
    }

    @Test func theExpectedExamplesExist() {
        #expect(Self.exampleFiles == ["five-node.conf", "secauth.conf", "three-node.conf", "two-rings.conf"])
    }

    @Test(arguments: exampleFiles)
    func everyExampleParsesWithoutWarnings(name: String) throws {
        let config = try load(name)
        #expect(config.warnings == [], "\(config.warnings)")
        #expect(config.nodes.count >= 3)
        #expect(config.quorum.provider == "corosync_votequorum")
        // Nodes on one host: one mcastport, distinct loopback addresses and client ports.
        #expect(Set(config.nodes.map(\.ring0Addr)).count == config.nodes.count)
        #expect(config.nodes.allSatisfy { $0.ring0Addr.hasPrefix("127.") })
        #expect(Set(config.nodes.map { config.clientEndpoint(for: $0).port }).count == config.nodes.count)
    }

    @Test func threeNode() throws {
        let config = try load("three-node.conf")
        #expect(config.nodes.map(\.nodeID) == [1, 2, 3])
        #expect(config.totem.token == 1650 && config.totem.consensus == 1980)
        #expect(config.totem.interfaces.map(\.mcastPort) == [5405])
        #expect(config.dataDirectory(for: config.nodes[0]) == ".totemkv/three/node-1")
    }

    @Test func fiveNode() throws {
        let config = try load("five-node.conf")
        #expect(config.nodes.count == 5 && config.expectedVotes == 5)
        #expect(config.totem.token == 2950)
        #expect(config.quorum.lastManStanding)
    }

    @Test func twoRings() throws {
        let config = try load("two-rings.conf")
        #expect(config.totem.rrpMode == .passive && config.ringCount == 2)
        #expect(config.totem.interfaces.map(\.mcastPort) == [5405, 5407])
        #expect(config.nodes.allSatisfy { $0.ring1Addr?.hasPrefix("127.0.1.") == true })
    }

    @Test func secauth() throws {
        let config = try load("secauth.conf")
        #expect(config.totem.secauth && config.totem.cryptoCipher == "aes256" && config.totem.cryptoHash == "sha256")
        #expect(config.totem.keyFile == ".totemkv/authkey")
        #expect(config.client.password == "change-me")
    }

    @Test func aMissingFileIsAFileLevelError() {
        do {
            _ = try ClusterConfig.load(path: "/nonexistent/totemkv.conf")
            Issue.record("expected an error")
        } catch {
            #expect(error.line == 0)
            #expect(error.description.hasPrefix("/nonexistent/totemkv.conf: cannot open"))
        }
    }

    // MARK: corosync-shaped fixtures

    /// Shaped like corosync 2.x's conf/corosync.conf.example: multicast, no nodelist.
    static let corosyncMulticastExample = """
        # Example in the shape of corosync's own; see corosync.conf(5).
        totem {
        \tversion: 2

        \t# Authentication and encryption are off in this example.
        \tcrypto_cipher: none
        \tcrypto_hash: none

        \tinterface {
        \t\t# The first ring.
        \t\tringnumber: 0
        \t\tbindnetaddr: 10.20.30.0
        \t\tmcastaddr: 239.255.42.1
        \t\tmcastport: 5405
        \t\tttl: 1
        \t}
        }

        logging {
        \tfileline: off
        \tto_stderr: no
        \tto_logfile: yes
        \tlogfile: /var/log/cluster/example.log
        \tto_syslog: yes
        \tdebug: off
        \ttimestamp: on
        \tlogger_subsys {
        \t\tsubsys: QUORUM
        \t\tdebug: off
        \t}
        }

        quorum {
        \t# Quorum is off unless a provider is named.
        \t#provider: corosync_votequorum
        }
        """

    @Test func corosyncMulticastExampleParsesWithWarnings() throws {
        let config = try parse(Self.corosyncMulticastExample)
        #expect(config.nodes.isEmpty && config.quorum.provider == nil)
        #expect(config.totem.interfaces[0].bindNetAddr == "10.20.30.0")
        #expect(config.logging.toLogfile && !config.logging.toStderr)
        let messages = config.warnings.map(\.message)
        #expect(messages.contains { $0.contains("no nodelist section") })
        #expect(messages.contains { $0.contains("mcastaddr is only used with transport udp") })
        #expect(messages.contains { $0.contains("logging.fileline") })
        #expect(messages.contains { $0.contains("logging.to_syslog") })
        #expect(messages.contains { $0.contains("logger_subsys") })
        // Read as corosync 2.x does (transport udp), the multicast group is used and valid.
        let udp = try parse(Self.corosyncMulticastExample.replacingOccurrences(
            of: "\tversion: 2\n", with: "\tversion: 2\n\ttransport: udp\n"))
        #expect(udp.totem.interfaces[0].mcastAddr == "239.255.42.1")
    }

    /// Shaped like corosync 2.x's conf/corosync.conf.example.udpu: some nodes without nodeid.
    static let corosyncUnicastExample = """
        totem {
        \tversion: 2
        \tcrypto_cipher: none
        \tcrypto_hash: none
        \tinterface {
        \t\tringnumber: 0
        \t\tbindnetaddr: 10.1.1.0
        \t\tmcastport: 5405
        \t\tttl: 1
        \t}
        \ttransport: udpu
        }

        logging {
        \tfileline: off
        \tto_logfile: yes
        \tto_syslog: yes
        \tlogfile: /var/log/cluster/example.log
        \tdebug: off
        \ttimestamp: on
        \tlogger_subsys {
        \t\tsubsys: QUORUM
        \t\tdebug: off
        \t}
        }

        nodelist {
        \tnode {
        \t\tring0_addr: 10.1.1.1
        \t\tnodeid: 1
        \t}

        \tnode {
        \t\tring0_addr: 10.1.1.2
        \t\tnodeid: 2
        \t}

        \tnode {
        \t\tring0_addr: 10.1.1.3
        \t}
        }

        quorum {
        \t#provider: corosync_votequorum
        }
        """

    @Test func corosyncUnicastExampleDerivesMissingNodeIDs() throws {
        let config = try parse(Self.corosyncUnicastExample)
        #expect(config.nodes.map(\.nodeID) == [1, 2, 0x0A01_0103])
        #expect(config.nodes.map(\.isNodeIDDerived) == [false, false, true])
        #expect(config.totem.token == 1650)
        #expect(config.warnings.contains { $0.message.contains("derived 167837955 from ring0_addr 10.1.1.3") })
        // As corosync warns: the nodelist's addresses win over bindnetaddr.
        #expect(config.warnings.contains { $0.message.contains("bindnetaddr is ignored") && $0.location.line == 7 })
        #expect(config.totem.interfaces[0].bindNetAddr == nil)
    }

    /// Shaped like corosync 1.x's examples: a top-level key, `threads`, interface member
    /// lists and an `amf` section.
    static let corosync1Example = """
        compatibility: whitetank

        totem {
        \tversion: 2
        \tsecauth: off
        \tthreads: 0
        \tinterface {
        \t\tmember {
        \t\t\tmemberaddr: 10.5.5.1
        \t\t}
        \t\tmember {
        \t\t\tmemberaddr: 10.5.5.2
        \t\t}
        \t\tringnumber: 0
        \t\tbindnetaddr: 10.5.5.0
        \t\tmcastport: 5405
        \t\tttl: 1
        \t}
        \ttransport: udpu
        }

        logging {
        \tfileline: off
        \tto_logfile: yes
        \tto_syslog: yes
        \tdebug: on
        \tlogfile: /var/log/cluster/example.log
        \tdebug: off
        \ttimestamp: on
        }

        amf {
        \tmode: disabled
        }
        """

    @Test func corosync1ExampleParsesWithWarnings() throws {
        let config = try parse(Self.corosync1Example)
        #expect(!config.logging.debug)  // the second `debug` wins
        let messages = config.warnings.map(\.message)
        #expect(messages.contains { $0.contains("top-level key \"compatibility\"") })
        #expect(messages.contains { $0.contains("totem.threads") })
        #expect(messages.filter { $0.contains("member lists are corosync 1.x's") }.count == 2)
        #expect(messages.contains { $0.contains("logging.debug is set again (first at line 26)") })
        #expect(messages.contains { $0.contains("section amf is a corosync section") })
        // Warnings come in file order.
        #expect(config.warnings.map(\.location.line) == config.warnings.map(\.location.line).sorted())
    }

    /// Shaped like corosync 3.x's example: knet, link numbers, `system` and a name per node.
    static let corosync3Example = """
        system {
        \tallow_knet_handle_fallback: yes
        }

        totem {
        \tversion: 2
        \tcluster_name: example
        \ttransport: knet
        \tlink_mode: passive
        \tcrypto_cipher: aes256
        \tcrypto_hash: sha256
        \tinterface {
        \t\tlinknumber: 0
        \t\tknet_link_priority: 1
        \t}
        }

        nodelist {
        \tnode {
        \t\tname: alpha
        \t\tnodeid: 1
        \t\tring0_addr: 10.9.0.1
        \t}
        \tnode {
        \t\tname: beta
        \t\tnodeid: 2
        \t\tring0_addr: 10.9.0.2
        \t}
        }

        quorum {
        \tprovider: corosync_votequorum
        \ttwo_node: 1
        }

        logging {
        \tto_logfile: yes
        \tlogfile: /var/log/corosync/example.log
        \tto_syslog: yes
        \ttimestamp: hires
        }
        """

    @Test func corosync3ExampleParsesWithWarnings() throws {
        let config = try parse(Self.corosync3Example)
        #expect(config.totem.transport == .knet)
        #expect(config.quorum.twoNode && config.quorum.waitForAll && config.expectedVotes == 2)
        let messages = config.warnings.map(\.message)
        for fragment in ["section system", "transport knet", "totem.link_mode", "linknumber is corosync 3.x's",
                         "knet_link_priority", "timestamp hires"] {
            #expect(messages.contains { $0.contains(fragment) }, "\(fragment)")
        }
    }

    @Test func aFileWithOnlyATotemSectionParsesWithAWarning() throws {
        let config = try parse("totem {\n\tversion: 2\n\ttoken: 3000\n}\n")
        #expect(config.nodes.isEmpty && config.totem.token == 3000)
        #expect(config.warnings.count == 1)
        #expect(config.warnings[0].message.contains("no nodelist section"))
        #expect(config.warnings[0].location.line == 1)
    }

    @Test func unknownTopLevelSectionsAreWarnings() throws {
        let config = try parse("totme {\n\tversion: 2\n}\n" + nodelist(2))
        #expect(config.warnings.contains { $0.message.contains("unknown section \"totme\"; did you mean \"totem\"?") })
        #expect(config.warnings.contains { $0.message.contains("no totem section") })
    }
}
