import Basics
import Foundation
import Testing
@testable import TotemConfig

/// Random and mutated files never crash the parser and always give a configuration or an
/// error that points into the file (DESIGN.md 8: "random and mutated input never crashes and
/// always yields a clear error"). Seeded, so a failure reproduces; the seed is in the message.
@Suite struct FuzzTests {
    static let iterations = 3000

    /// Real files to mutate: the examples and the corosync-shaped fixtures.
    static var corpus: [[UInt8]] {
        var files = [
            ExampleFileTests.corosyncMulticastExample, ExampleFileTests.corosyncUnicastExample,
            ExampleFileTests.corosync1Example, ExampleFileTests.corosync3Example, cluster(nodes: 3),
        ].map { Array($0.utf8) }
        for name in ExampleFileTests.exampleFiles {
            let url = ExampleFileTests.confDirectory.appendingPathComponent(name)
            if let data = FileManager.default.contents(atPath: url.path) { files.append(Array(data)) }
        }
        return files
    }

    /// Fragments a mutation may insert: the grammar's own characters and troublesome bytes.
    static let fragments: [[UInt8]] = [
        "{", "}", ":", "#", "\"", "\n", "\r\n", "\t", " ", "0", "-1", "4294967296", "99999999999999999999",
        "totem {\n", "interface {\n", "node {\n", "}\n", "token: 10\n", "consensus: 31\n", "nodeid: 0\n",
        "ring1_addr: 127.0.0.9\n", "rrp_mode: active\n", "transport: udp\n", "ttl: 9\n", "mcastport: 0\n",
        "quorum {\n", "two_node: 1\n", "auto_tie_breaker: 1\n", "::1", "255.255.255.255", "token_coefficient: 86400000\n",
    ].map { Array($0.utf8) } + [[0xA0], [0xC2, 0xA0], [0x00], [0xFF], [0xE2, 0x82]]

    @Test func randomAndMutatedFilesGiveAConfigOrAnError() {
        var rng = SeededGenerator(seed: 0x5EED_C0F1)
        let corpus = Self.corpus
        var configs = 0
        var errors = 0
        for iteration in 0..<Self.iterations {
            let bytes: [UInt8]
            switch iteration % 3 {
            case 0: bytes = Self.mutate(corpus[Int.random(in: 0..<corpus.count, using: &rng)], using: &rng)
            case 1: bytes = Self.generate(using: &rng)
            default: bytes = Self.noise(using: &rng)
            }
            if check(bytes, iteration: iteration) { configs += 1 } else { errors += 1 }
        }
        // Both outcomes must be exercised, or the fuzzer is not reaching the rules.
        #expect(configs > Self.iterations / 20, "\(configs) configs, \(errors) errors")
        #expect(errors > Self.iterations / 20, "\(configs) configs, \(errors) errors")
    }

    /// True when `bytes` parsed. Checks that an error points into the file and that a
    /// configuration is complete and deterministic.
    func check(_ bytes: [UInt8], iteration: Int) -> Bool {
        let lineCount = bytes.count(where: { $0 == UInt8(ascii: "\n") }) + 1
        do {
            let config = try ClusterConfig.parse(bytes: bytes, fileName: "fuzz.conf")
            let listing = config.effectiveKeyValues()
            #expect(Set(listing.map(\.key)).count == listing.count, "iteration \(iteration)")
            #expect(listing.contains { $0.key == "totem.token" }, "iteration \(iteration)")
            #expect(config.totem.consensus >= config.totem.join, "iteration \(iteration)")
            #expect((try? ClusterConfig.parse(bytes: bytes, fileName: "fuzz.conf")) == config, "iteration \(iteration)")
            return true
        } catch {
            #expect(error.fileName == "fuzz.conf", "iteration \(iteration)")
            #expect(!error.message.isEmpty, "iteration \(iteration)")
            #expect(error.line >= 1 && error.line <= lineCount, "iteration \(iteration): \(error)")
            #expect(error.column >= 1 && error.column <= ConfigParser.maxLineBytes + 1, "iteration \(iteration): \(error)")
            return false
        }
    }

    static func mutate(_ file: [UInt8], using rng: inout SeededGenerator) -> [UInt8] {
        var bytes = file
        for _ in 0..<Int.random(in: 1...4, using: &rng) {
            let at = bytes.isEmpty ? 0 : Int.random(in: 0...bytes.count, using: &rng)
            switch Int.random(in: 0..<5, using: &rng) {
            case 0 where !bytes.isEmpty:  // delete a run
                let end = min(bytes.count, at + Int.random(in: 1...20, using: &rng))
                if at < end { bytes.removeSubrange(at..<end) }
            case 1:  // insert a fragment
                bytes.insert(contentsOf: fragments[Int.random(in: 0..<fragments.count, using: &rng)], at: at)
            case 2 where at < bytes.count:  // replace one byte
                bytes[at] = UInt8.random(in: 0...255, using: &rng)
            case 3:  // duplicate a line
                let lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
                if let line = lines.randomElement(using: &rng) { bytes.insert(contentsOf: line + [10], at: at) }
            default:  // truncate
                bytes.removeSubrange(at..<bytes.count)
            }
        }
        return bytes
    }

    /// A syntactically plausible file: known sections and keys, values mostly of the right
    /// kind (so that the cross-section rules are reached) and sometimes of any kind.
    static func generate(using rng: inout SeededGenerator) -> [UInt8] {
        let anyValues = ["0", "1", "2", "29", "30", "50", "1000", "5405", "65536", "4294967295", "on", "off", "yes",
                         "udpu", "udp", "knet", "passive", "active", "none", "aes256", "sha256", "127.0.0.1",
                         "239.1.1.1", "ff15::1", "\"quoted value\"", "", "x # y", "lowest", "1 2 3"]
        func anyValue() -> String { anyValues.randomElement(using: &rng) ?? "" }
        func pick(_ words: [String]) -> String { rng.chance(0.15) ? anyValue() : words.randomElement(using: &rng) ?? "" }
        func number(_ range: ClosedRange<Int>) -> String {
            rng.chance(0.15) ? anyValue() : String(Int.random(in: range, using: &rng))
        }
        var text = "totem {\n\tversion: \(pick(["2"]))\n"
        let options = TotemSection.integerOptions
        for _ in 0..<Int.random(in: 0...3, using: &rng) {
            guard let option = options.randomElement(using: &rng) else { continue }
            let low = Int(option.range.lowerBound)
            text += "\t\(option.key): \(number(low...max(low, min(Int(option.range.upperBound), 4000))))\n"
        }
        if rng.chance(0.3) { text += "\ttransport: \(pick(["udpu", "udp", "knet"]))\n" }
        if rng.chance(0.3) { text += "\tcluster_name: \(pick(["kv", "alpha beta"]))\n" }
        if rng.chance(0.3) { text += "\trrp_mode: \(pick(["none", "active", "passive"]))\n" }
        if rng.chance(0.2) { text += "\tsecauth: \(pick(["on", "off"]))\n" }
        if rng.chance(0.2) { text += "\tcrypto_cipher: \(pick(TotemSection.ciphers))\n" }
        if rng.chance(0.2) { text += "\tcrypto_hash: \(pick(TotemSection.hashes))\n" }
        for ring in 0..<Int.random(in: 0...2, using: &rng) {
            text += "\tinterface {\n\t\tringnumber: \(ring)\n"
            if rng.chance(0.3) { text += "\t\tbindnetaddr: \(pick(["10.0.0.0", "10.1.0.0", "fe80::"]))\n" }
            if rng.chance(0.3) { text += "\t\tmcastaddr: \(pick(["239.1.1.1", "239.1.1.2", "ff15::1"]))\n" }
            if rng.chance(0.3) { text += "\t\tmcastport: \(number(5000...5010))\n" }
            if rng.chance(0.2) { text += "\t\tttl: \(number(1...2))\n" }
            text += "\t}\n"
        }
        text += "}\n"
        if rng.chance(0.8) {
            text += "nodelist {\n"
            let withRing1 = rng.chance(0.3)
            for i in 1...Int.random(in: 1...7, using: &rng) {
                text += "\tnode {\n\t\tring0_addr: 10.0.0.\(i)\n"
                if rng.chance(0.9) { text += "\t\tnodeid: \(number(i...i))\n" }
                if withRing1 && rng.chance(0.95) { text += "\t\tring1_addr: 10.1.0.\(i)\n" }
                if rng.chance(0.2) { text += "\t\tquorum_votes: \(number(0...3))\n" }
                if rng.chance(0.1) { text += "\t\tclient_port: \(number(6379...6382))\n" }
                text += "\t}\n"
            }
            text += "}\n"
        }
        if rng.chance(0.5) {
            text += "quorum {\n\tprovider: corosync_votequorum\n"
            for key in QuorumConfig.keys.dropFirst() where rng.chance(0.2) {
                let value = switch key {
                case "expected_votes", "last_man_standing_window": number(1...9)
                case "auto_tie_breaker_node": pick(["lowest", "highest", "3 1"])
                default: pick(["0", "1"])
                }
                text += "\t\(key): \(value)\n"
            }
            text += "}\n"
        }
        if rng.chance(0.3) { text += "store {\n\tfsync: \(pick(["on", "off"]))\n\tmax_value_bytes: \(number(1...4096))\n}\n" }
        if rng.chance(0.3) { text += "client {\n\tport: \(number(1...65535))\n}\n" }
        if rng.chance(0.2) { text += "logging {\n\tdebug: \(pick(["on", "off", "trace"]))\n}\n" }
        return Array(text.utf8)
    }

    /// Bytes drawn mostly from the grammar's alphabet.
    static func noise(using rng: inout SeededGenerator) -> [UInt8] {
        let alphabet = Array("ab_0:{}#\" \t\n".utf8) + [0xA0, 0x0D, 0x00, 0xC2, 0xFF]
        return (0..<Int.random(in: 0...300, using: &rng)).map { _ in
            alphabet[Int.random(in: 0..<alphabet.count, using: &rng)]
        }
    }
}
