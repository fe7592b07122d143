/// The rules that span sections (totem-notes 6.3; corosync 2.x `totem_config_validate` and
/// `totem_volatile_config_validate`), each error placed on the line that can fix it.
struct Rules {
    let totem: TotemSection
    let nodelist: NodelistSection
    let clientSection: ConfigSection?
    let root: ConfigSection

    private var fallback: ConfigLocation { totem.location ?? root.location }
    private func at(_ key: String) -> ConfigLocation? { totem.locations[key] }
    private var nodes: [NodeConfig] { nodelist.nodes }

    /// The settings with their interfaces completed: one per ring, the ring count taken from
    /// the interface sections and the node list (corosync 2.x builds interfaces from the
    /// local node's `ringN_addr` when there is no `bindnetaddr`).
    func resolveTotem(warnings: inout [ConfigWarning]) throws(ConfigError) -> TotemOptions.Settings {
        var settings = totem.settings
        let explicit = totem.interfaces.sorted { $0.ringNumber < $1.ringNumber }
        let ring1Section = explicit.first { $0.ringNumber == 1 }
        let firstRing1Node = nodes.firstIndex { $0.ring1Addr != nil }
        let ringCount = (ring1Section != nil || firstRing1Node != nil) ? 2 : 1
        let ring1Reason: (String, ConfigLocation) =
            if let ring1Section {
                ("interface ringnumber 1 at line \(ring1Section.location.line)", ring1Section.location)
            } else if let i = firstRing1Node {
                ("ring1_addr of the node at line \(nodelist.locations[i].section.line)",
                 nodelist.locations[i].keys["ring1_addr"] ?? nodelist.locations[i].section)
            } else {
                ("", fallback)
            }

        if ringCount == 2, let i = nodes.firstIndex(where: { $0.ring1Addr == nil }) {
            throw ConfigError(
                "expected ring1_addr in this node: 2 rings are configured (\(ring1Reason.0))",
                at: nodelist.locations[i].section)
        }
        let mode = settings.rrpMode ?? .none
        if mode == .none && ringCount == 2 {
            throw ConfigError(
                "2 rings are too many for rrp_mode none (\(ring1Reason.0)); expected rrp_mode: passive or active",
                at: at("rrp_mode") ?? ring1Reason.1)
        }
        if mode != .none && ringCount == 1 {
            warnings.append(ConfigWarning(
                "rrp_mode \(mode.rawValue) has no effect with a single ring", at: at("rrp_mode") ?? fallback))
        }

        var interfaces: [TotemOptions.Interface] = []
        for ring in 0..<ringCount {
            let section = explicit.first { Int($0.ringNumber) == ring }
            var interface = TotemOptions.Interface(
                ringNumber: UInt8(ring), bindNetAddr: section?.bindNetAddr, mcastAddr: section?.mcastAddr,
                mcastPort: section?.mcastPort ?? 5405, ttl: section?.ttl ?? 1)
            try checkTransport(&interface, section: section, settings: settings, warnings: &warnings)
            if let section, section.bindNetAddr != nil, !nodes.isEmpty {
                // corosync 2.x: "Both bindnetaddr and ring0_addr are set", and it uses the nodelist.
                interface.bindNetAddr = nil
                warnings.append(ConfigWarning(
                    "bindnetaddr is ignored: with a nodelist each node binds its own ring\(ring)_addr, as in corosync",
                    at: section.locations["bindnetaddr"] ?? section.location))
            }
            interfaces.append(interface)
        }
        if (settings.transport ?? .udpu) == .udp, interfaces.count == 2,
            interfaces[0].mcastAddr.flatMap(IPAddress.init) == interfaces[1].mcastAddr.flatMap(IPAddress.init),
            abs(Int(interfaces[0].mcastPort) - Int(interfaces[1].mcastPort)) <= 1
        {
            throw ConfigError(
                "the two interfaces use the same mcastaddr and ports less than 2 apart (udp also uses mcastport - 1); expected different mcastaddr or mcastport",
                at: ring1Section?.locations["mcastport"] ?? ring1Section?.location ?? fallback)
        }
        try checkAddressFamilies(ringCount: ringCount, warnings: &warnings)
        try checkEffectiveToken(settings)
        settings.interfaces = interfaces
        return settings
    }

    private func checkTransport(_ interface: inout TotemOptions.Interface, section: TotemSection.InterfaceSection?,
                                settings: TotemOptions.Settings, warnings: inout [ConfigWarning]) throws(ConfigError) {
        let transport = settings.transport ?? .udpu
        if let section, let ttl = section.ttl, ttl != 1, transport != .udp {
            throw ConfigError(
                "ttl can only be set with transport udp (multicast); transport is \(transport.rawValue)",
                at: section.locations["ttl"] ?? section.location)
        }
        guard transport == .udp else {
            if let section, section.mcastAddr != nil {
                let why = settings.transport == nil ? " (TotemKV's default; corosync 2.x defaults to udp)" : ""
                warnings.append(ConfigWarning(
                    "mcastaddr is only used with transport udp; transport is \(transport.rawValue)\(why)",
                    at: section.locations["mcastaddr"] ?? section.location))
            }
            return
        }
        if interface.mcastAddr == nil, let name = settings.clusterName {
            interface.mcastAddr = Self.clusterMulticastAddress(name, ring: interface.ringNumber)
        }
        guard let mcast = interface.mcastAddr else {
            throw ConfigError(
                "transport udp needs mcastaddr in interface ringnumber \(interface.ringNumber), or cluster_name to derive it from",
                at: section?.location ?? at("transport") ?? fallback)
        }
        let mcastAt = section?.locations["mcastaddr"] ?? at("cluster_name") ?? section?.location ?? fallback
        guard let group = IPAddress(mcast), group.isMulticast else {
            throw ConfigError(
                "mcastaddr \(mcast) is not a multicast address; expected one in 224.0.0.0/4 or ff00::/8",
                at: mcastAt)
        }
        if let bind = interface.bindNetAddr.flatMap(IPAddress.init), bind.isIPv4 != group.isIPv4 {
            throw ConfigError(
                "mcastaddr \(mcast) and bindnetaddr \(interface.bindNetAddr ?? "") are of different IP families",
                at: mcastAt)
        }
    }

    /// corosync 2.x `get_cluster_mcast_addr`: a 16-bit fold of the name plus the ring number,
    /// as 239.192.(h >> 8).(h % 0xFF). The fold uses C's signed char and int, reproduced here.
    static func clusterMulticastAddress(_ name: String, ring: UInt8) -> String {
        var value: Int32 = 0
        for byte in name.utf8 {
            value = (value &<< 1) &+ Int32(Int8(bitPattern: byte))
        }
        let h = UInt16(truncatingIfNeeded: value & 0xFFFF) &+ UInt16(ring)
        return "239.192.\(h >> 8).\(h % 0xFF)"
    }

    /// All literal addresses of one ring in one IP family (corosync: "Not all bind address
    /// belong to the same IP family").
    private func checkAddressFamilies(ringCount: Int, warnings: inout [ConfigWarning]) throws(ConfigError) {
        for ring in 0..<ringCount {
            var first: (isIPv4: Bool, line: Int)?
            for (i, node) in nodes.enumerated() {
                guard let address = node.address(ring: ring), let ip = IPAddress(address) else { continue }
                let line = nodelist.locations[i].section.line
                guard let family = first else {
                    first = (ip.isIPv4, line)
                    continue
                }
                if family.isIPv4 != ip.isIPv4 {
                    throw ConfigError(
                        "ring\(ring)_addr \(address) is \(ip.isIPv4 ? "IPv4" : "IPv6") but the node at line \(family.line) uses \(family.isIPv4 ? "IPv4" : "IPv6") on ring \(ring); expected one IP family per ring",
                        at: nodelist.locations[i].keys["ring\(ring)_addr"] ?? nodelist.locations[i].section)
                }
            }
        }
        for (i, node) in nodes.enumerated() {
            if let ring1 = node.ring1Addr, NodelistSection.sameAddress(node.ring0Addr, ring1) {
                warnings.append(ConfigWarning(
                    "ring0_addr and ring1_addr are the same address; the second ring adds no redundancy",
                    at: nodelist.locations[i].keys["ring1_addr"] ?? nodelist.locations[i].section))
            }
        }
    }

    /// The effective token, `token + (nodes - 2) x token_coefficient`, must stay within the
    /// timeout bound before `TotemOptions` computes with it.
    private func checkEffectiveToken(_ settings: TotemOptions.Settings) throws(ConfigError) {
        let configured = UInt64(settings.token ?? 1000)
        let coefficient = UInt64(settings.tokenCoefficient ?? 650)
        let effective = nodes.count >= 3 ? configured + UInt64(nodes.count - 2) * coefficient : configured
        if effective > UInt64(TotemSection.maxMilliseconds) {
            throw ConfigError(
                "the effective token timeout, token + (\(nodes.count) nodes - 2) x token_coefficient = \(effective) ms, is above \(TotemSection.maxMilliseconds) ms",
                at: at("token_coefficient") ?? at("token") ?? fallback)
        }
    }

    /// corosync's minimum timeouts for derived values, and TotemKV's consensus rule.
    func checkTiming(_ options: TotemOptions, warnings: inout [ConfigWarning]) throws(ConfigError) {
        let settings = totem.settings
        let minimum = TotemSection.minimumTimeout
        if settings.tokenRetransmit == nil && options.tokenRetransmit < minimum {
            throw ConfigError(
                "Not appropriate token or token_retransmits_before_loss_const value set: token_retransmit = token / (token_retransmits_before_loss_const + 0.2) = \(options.tokenRetransmit) ms, below \(minimum) ms",
                at: at("token_retransmits_before_loss_const") ?? at("token") ?? fallback)
        }
        if settings.hold == nil && options.hold < minimum {
            throw ConfigError(
                "the derived hold = token_retransmit x 0.8 - 10 = \(options.hold) ms is below \(minimum) ms; expected a larger token or token_retransmit, or hold set explicitly",
                at: at("token_retransmit") ?? at("token_retransmits_before_loss_const") ?? at("token") ?? fallback)
        }
        let minimumConsensus = UInt32(UInt64(options.token) * 12 / 10)
        if let consensus = settings.consensus, consensus < minimumConsensus, let consensusAt = at("consensus") {
            let scaled = options.token == options.configuredToken
                ? "token \(options.token) ms"
                : "effective token \(options.token) ms for \(nodes.count) nodes"
            throw ConfigError(
                "consensus \(consensus) ms is below 1.2 x token = \(minimumConsensus) ms (\(scaled)); expected consensus >= \(minimumConsensus)",
                at: consensusAt)
        }
        if options.consensus < options.join {
            throw ConfigError(
                "consensus (\(options.consensus) ms) may not be less than join (\(options.join) ms)",
                at: at("consensus") ?? at("join") ?? fallback)
        }
        if options.rrpMode != .none {
            let detection = UInt64(options.rrpProblemCountThreshold) * UInt64(options.rrpTokenExpiredTimeout)
            if detection + 50 > UInt64(options.token) {
                warnings.append(ConfigWarning(
                    "rrp_problem_count_threshold x rrp_token_expired_timeout = \(detection) ms is not at least 50 ms below token (\(options.token) ms): the ring re-forms before a faulty ring is noticed (corosync.conf(5))",
                    at: at("rrp_problem_count_threshold") ?? at("rrp_token_expired_timeout") ?? at("rrp_mode") ?? fallback))
            }
        }
    }

    /// Every node's client endpoint fits in a port number and no two nodes share one.
    func checkClientEndpoints(_ config: ClusterConfig) throws(ConfigError) {
        let portAt = clientSection?.items.last { $0.key == "port" }?.valueLocation
        // Looked up only, never iterated.
        var taken: [String: Int] = [:]
        for (i, node) in config.nodes.enumerated() {
            let nodeAt = nodelist.locations[i]
            if node.clientPort == nil && Int(config.client.port) + i > Int(UInt16.max) {
                throw ConfigError(
                    "the client port of node \(node.nodeID) would be \(config.client.port) + \(i) = \(Int(config.client.port) + i), above 65535; expected a lower client.port or client_port in the node",
                    at: portAt ?? nodeAt.section)
            }
            let endpoint = config.clientEndpoint(for: node)
            let key = "\(NodelistSection.addressKey(endpoint.address)) \(endpoint.port)"
            if let clash = taken[key] {
                throw ConfigError(
                    "node \(node.nodeID)'s client endpoint \(endpoint.address):\(endpoint.port) is already used by the node at line \(nodelist.locations[clash].section.line)",
                    at: nodeAt.keys["client_port"] ?? nodeAt.keys["client_address"] ?? nodeAt.section)
            }
            taken[key] = i
        }
    }
}
