/// Reads `totem { ... }`: every totem option of corosync.conf(5) into
/// `TotemOptions.Settings` (only what the file sets; `TotemOptions.init` applies defaults and
/// derivations), plus the `interface` subsections and the crypto rules of corosync 2.x's
/// `totem_get_crypto`.
struct TotemSection {
    var settings = TotemOptions.Settings()
    var version: UInt32?
    var clearNodeHighBit = false
    var interfaces: [InterfaceSection] = []
    /// Where each key read from the section was set (its value), by key name.
    var locations: [String: ConfigLocation] = [:]
    var location: ConfigLocation?

    struct InterfaceSection {
        var ringNumber: UInt8 = 0
        var bindNetAddr: String?
        var mcastAddr: String?
        var mcastPort: UInt16?
        var ttl: UInt8?
        var location: ConfigLocation
        var locations: [String: ConfigLocation] = [:]
    }

    /// A u32 totem option: its key, where it goes, the values allowed when set, and whether
    /// an explicit 0 means "the default" (corosync's `allow_zero = 0` options).
    struct IntegerOption {
        var key: String
        var field: WritableKeyPath<TotemOptions.Settings, UInt32?>
        var range: ClosedRange<UInt32>
        var zeroMeansDefault: Bool
    }

    /// Timeouts are bounded by a day and counts by a million: corosync takes any u32, but a
    /// larger value is a typo, and the bound keeps every derivation (1.2 x token, the
    /// coefficient times the node count) far from UInt32 overflow.
    static let maxMilliseconds: UInt32 = 86_400_000
    static let maxCount: UInt32 = 1_000_000
    /// corosync's MINIMUM_TIMEOUT: 3 x (1000 / HZ) with HZ = 100.
    static let minimumTimeout: UInt32 = 30

    static var integerOptions: [IntegerOption] {
        let ms = minimumTimeout...maxMilliseconds
        return [
            IntegerOption(key: "token", field: \.token, range: ms, zeroMeansDefault: true),
            IntegerOption(key: "token_coefficient", field: \.tokenCoefficient, range: 0...maxMilliseconds, zeroMeansDefault: false),
            IntegerOption(key: "token_retransmit", field: \.tokenRetransmit, range: ms, zeroMeansDefault: true),
            IntegerOption(key: "token_retransmits_before_loss_const", field: \.tokenRetransmitsBeforeLossConst, range: 1...maxCount, zeroMeansDefault: true),
            // corosync 3.x: a percentage of the token timeout, 0 disables; 100 and more would
            // warn only after the token is already declared lost.
            IntegerOption(key: "token_warning", field: \.tokenWarning, range: 0...99, zeroMeansDefault: false),
            IntegerOption(key: "hold", field: \.hold, range: ms, zeroMeansDefault: true),
            IntegerOption(key: "join", field: \.join, range: ms, zeroMeansDefault: true),
            IntegerOption(key: "send_join", field: \.sendJoin, range: 0...maxMilliseconds, zeroMeansDefault: false),
            IntegerOption(key: "consensus", field: \.consensus, range: ms, zeroMeansDefault: true),
            IntegerOption(key: "merge", field: \.merge, range: ms, zeroMeansDefault: true),
            IntegerOption(key: "downcheck", field: \.downcheck, range: ms, zeroMeansDefault: true),
            IntegerOption(key: "fail_recv_const", field: \.failRecvConst, range: 1...maxCount, zeroMeansDefault: true),
            IntegerOption(key: "seqno_unchanged_const", field: \.seqnoUnchangedConst, range: 1...maxCount, zeroMeansDefault: true),
            IntegerOption(key: "heartbeat_failures_allowed", field: \.heartbeatFailuresAllowed, range: 0...maxCount, zeroMeansDefault: false),
            IntegerOption(key: "max_network_delay", field: \.maxNetworkDelay, range: ms, zeroMeansDefault: true),
            IntegerOption(key: "window_size", field: \.windowSize, range: 1...maxCount, zeroMeansDefault: true),
            IntegerOption(key: "max_messages", field: \.maxMessages, range: 1...maxCount, zeroMeansDefault: true),
            IntegerOption(key: "miss_count_const", field: \.missCountConst, range: 1...maxCount, zeroMeansDefault: true),
            // 576 is the smallest datagram every IPv4 host must accept; 65536 is knet's default.
            IntegerOption(key: "netmtu", field: \.netmtu, range: 576...65536, zeroMeansDefault: true),
            IntegerOption(key: "rrp_token_expired_timeout", field: \.rrpTokenExpiredTimeout, range: ms, zeroMeansDefault: true),
            IntegerOption(key: "rrp_problem_count_timeout", field: \.rrpProblemCountTimeout, range: ms, zeroMeansDefault: true),
            IntegerOption(key: "rrp_problem_count_threshold", field: \.rrpProblemCountThreshold, range: 2...maxCount, zeroMeansDefault: true),
            IntegerOption(key: "rrp_problem_count_mcast_threshold", field: \.rrpProblemCountMcastThreshold, range: 2...maxCount, zeroMeansDefault: true),
            IntegerOption(key: "rrp_autorecovery_check_timeout", field: \.rrpAutorecoveryCheckTimeout, range: 1...maxMilliseconds, zeroMeansDefault: true),
        ]
    }

    static let otherKeys = [
        "version", "cluster_name", "transport", "rrp_mode", "secauth", "crypto_cipher", "crypto_hash",
        "keyfile", "cancel_token_hold_on_retransmit", "clear_node_high_bit",
    ]
    static let ciphers = ["none", "aes256", "aes192", "aes128", "3des"]
    static let hashes = ["none", "md5", "sha1", "sha256", "sha384", "sha512"]

    init() {}

    init(_ section: ConfigSection, warnings: inout [ConfigWarning]) throws(ConfigError) {
        location = section.location
        let options = Self.integerOptions
        let items = try SectionItems(
            section, path: "totem", implemented: options.map(\.key) + Self.otherKeys,
            corosyncOnly: CorosyncKeys.totem, warnings: &warnings)

        for option in options {
            guard let item = items[option.key] else { continue }
            locations[option.key] = item.valueLocation
            if option.zeroMeansDefault && item.value == "0" {
                warnings.append(ConfigWarning(
                    "totem.\(option.key): 0 means the default, as in corosync", at: item.valueLocation))
                continue
            }
            settings[keyPath: option.field] = try ConfigValues.integer(item, in: option.range)
        }
        try readWords(items, warnings: &warnings)
        try readCrypto(items, warnings: &warnings)

        for sub in section.sections {
            guard sub.name == "interface" else {
                throw ConfigError(
                    "unknown section \"\(sub.name)\" in totem\(Suggestion.didYouMean(sub.name, among: ["interface"])); expected interface",
                    at: sub.location)
            }
            let interface = try Self.readInterface(sub, warnings: &warnings)
            if let earlier = interfaces.first(where: { $0.ringNumber == interface.ringNumber }) {
                throw ConfigError(
                    "interface with ringnumber \(interface.ringNumber) is defined twice (first at line \(earlier.location.line))",
                    at: interface.location)
            }
            interfaces.append(interface)
        }
    }

    private mutating func readWords(_ items: SectionItems, warnings: inout [ConfigWarning]) throws(ConfigError) {
        if let item = items["version"] {
            locations["version"] = item.valueLocation
            version = UInt32(try ConfigValues.choice(item, of: ["2"]))
        }
        if let item = items["cluster_name"] {
            settings.clusterName = item.value
        }
        if let item = items["transport"] {
            locations["transport"] = item.valueLocation
            if item.value == "iba" {
                throw ConfigError(
                    "transport iba (InfiniBand) is not supported by TotemKV; expected udpu or udp",
                    at: item.valueLocation)
            }
            let word = try ConfigValues.choice(item, of: TotemOptions.Transport.allCases.map(\.rawValue))
            settings.transport = TotemOptions.Transport(rawValue: word)
            if settings.transport == .knet {
                warnings.append(ConfigWarning(
                    "transport knet is corosync 3.x's; TotemKV has no knet and runs each link as a udpu ring",
                    at: item.valueLocation))
            }
        }
        if let item = items["rrp_mode"] {
            locations["rrp_mode"] = item.valueLocation
            let word = try ConfigValues.choice(item, of: TotemOptions.RRPMode.allCases.map(\.rawValue))
            settings.rrpMode = TotemOptions.RRPMode(rawValue: word)
        }
        if let item = items["cancel_token_hold_on_retransmit"] {
            settings.cancelTokenHoldOnRetransmit = try ConfigValues.boolean(item, style: .yesNo)
        }
        if let item = items["clear_node_high_bit"] {
            clearNodeHighBit = try ConfigValues.boolean(item, style: .yesNo)
        }
        if let item = items["keyfile"] {
            settings.keyFile = try ConfigValues.nonEmpty(item, what: "a file path")
            locations["keyfile"] = item.valueLocation
        }
    }

    /// corosync 2.x: `secauth: on` alone means aes256 + sha1; `crypto_cipher` and
    /// `crypto_hash` override it; a cipher without a hash is refused. (corosync 2.x also turns
    /// crypto on when none of the three is set; TotemKV keeps it off unless asked, so that a
    /// cluster on 127.0.0.1 needs no key file.)
    private mutating func readCrypto(_ items: SectionItems, warnings: inout [ConfigWarning]) throws(ConfigError) {
        var cipher: String?
        var hash: String?
        if let item = items["secauth"] {
            let on = try ConfigValues.boolean(item, style: .onOff)
            settings.secauth = on
            if on { (cipher, hash) = ("aes256", "sha1") } else { (cipher, hash) = ("none", "none") }
            locations["secauth"] = item.valueLocation
        }
        if let item = items["crypto_cipher"] {
            cipher = try ConfigValues.choice(item, of: Self.ciphers)
            locations["crypto_cipher"] = item.valueLocation
        }
        if let item = items["crypto_hash"] {
            hash = try ConfigValues.choice(item, of: Self.hashes)
            locations["crypto_hash"] = item.valueLocation
        }
        if let cipher, cipher != "none", (hash ?? "none") == "none", let at = locations["crypto_cipher"] ?? locations["secauth"] {
            throw ConfigError(
                "crypto_cipher \(cipher) requires crypto_hash with a value other than none", at: at)
        }
        if settings.secauth == false, let c = items["crypto_cipher"] ?? items["crypto_hash"], c.value != "none" {
            warnings.append(ConfigWarning(
                "secauth is off but \(c.key) is \(c.value); as in corosync, \(c.key) wins and packets are protected",
                at: c.valueLocation))
        }
        for (key, weak) in [("crypto_cipher", "3des"), ("crypto_hash", "md5")] {
            if let item = items[key], item.value == weak {
                warnings.append(ConfigWarning(
                    "\(key) \(weak) is a corosync option TotemKV does not implement; use aes256 and sha256",
                    at: item.valueLocation))
            }
        }
        settings.cryptoCipher = cipher
        settings.cryptoHash = hash
    }

    private static func readInterface(_ section: ConfigSection, warnings: inout [ConfigWarning]) throws(ConfigError) -> InterfaceSection {
        var result = InterfaceSection(location: section.location)
        let items = try SectionItems(
            section, path: "totem.interface",
            implemented: ["ringnumber", "linknumber", "bindnetaddr", "mcastaddr", "mcastport", "ttl"],
            corosyncOnly: CorosyncKeys.interface, warnings: &warnings)
        if let item = items["ringnumber"] ?? items["linknumber"] {
            if item.key == "linknumber" {
                warnings.append(ConfigWarning(
                    "linknumber is corosync 3.x's name; read as ringnumber", at: item.keyLocation))
            }
            result.ringNumber = try ConfigValues.integer(item, in: 0...1)
            result.locations["ringnumber"] = item.valueLocation
        }
        if let item = items["bindnetaddr"] {
            result.bindNetAddr = try ConfigValues.address(item)
            result.locations["bindnetaddr"] = item.valueLocation
        }
        if let item = items["mcastaddr"] {
            result.mcastAddr = try ConfigValues.address(item)
            result.locations["mcastaddr"] = item.valueLocation
        }
        if let item = items["mcastport"] {
            result.mcastPort = try ConfigValues.integer(item, in: 1...UInt16.max)
            result.locations["mcastport"] = item.valueLocation
        }
        if let item = items["ttl"] {
            result.ttl = try ConfigValues.integer(item, in: 0...UInt8.max)
            result.locations["ttl"] = item.valueLocation
        }
        for sub in section.sections {
            guard sub.name == "member" else {
                throw ConfigError(
                    "unknown section \"\(sub.name)\" in totem.interface; expected no subsection (member is corosync 1.x's)",
                    at: sub.location)
            }
            warnings.append(ConfigWarning(
                "interface member lists are corosync 1.x's; TotemKV reads members from nodelist; ignored",
                at: sub.location))
        }
        return result
    }
}
