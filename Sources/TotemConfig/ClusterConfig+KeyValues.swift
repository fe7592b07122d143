extension ClusterConfig {
    /// Every effective value, derived ones included, as `section.key` names spelt as in
    /// corosync.conf (`totem.token_retransmit`, `totem.interface.0.mcastport`,
    /// `nodelist.node.0.ring0_addr`, `quorum.expected_votes`, `store.fsync`), in the style of
    /// `corosync-cmapctl`. Sorted by key, numeric components numerically (`node.2` before
    /// `node.10`). Optional values that are unset are left out; the password is never shown.
    ///
    /// `totem.token` is the effective token, after `token_coefficient`.
    public func effectiveKeyValues() -> [(key: String, value: String)] {
        var out: [(key: String, value: String)] = []
        func add(_ key: String, _ value: String?) {
            if let value { out.append((key, value)) }
        }
        appendTotem(add)
        for (i, node) in nodes.enumerated() {
            let prefix = "nodelist.node.\(i)."
            let endpoint = clientEndpoint(for: node)
            add(prefix + "nodeid", String(node.nodeID))
            add(prefix + "name", node.name)
            add(prefix + "ring0_addr", node.ring0Addr)
            add(prefix + "ring1_addr", node.ring1Addr)
            add(prefix + "quorum_votes", String(node.quorumVotes))
            add(prefix + "client_address", endpoint.address)
            add(prefix + "client_port", String(endpoint.port))
        }
        let flag = BooleanStyle.oneZero
        add("quorum.provider", quorum.provider)
        if quorum.expectedVotes != nil || !nodes.isEmpty { add("quorum.expected_votes", String(expectedVotes)) }
        add("quorum.two_node", flag.spell(quorum.twoNode))
        add("quorum.wait_for_all", flag.spell(quorum.waitForAll))
        add("quorum.last_man_standing", flag.spell(quorum.lastManStanding))
        add("quorum.last_man_standing_window", String(quorum.lastManStandingWindow))
        add("quorum.auto_tie_breaker", flag.spell(quorum.autoTieBreaker))
        add("quorum.auto_tie_breaker_node", quorum.autoTieBreakerNode.description)
        add("quorum.allow_downscale", flag.spell(quorum.allowDownscale))

        add("logging.to_stderr", BooleanStyle.yesNo.spell(logging.toStderr))
        add("logging.to_logfile", BooleanStyle.yesNo.spell(logging.toLogfile))
        add("logging.logfile", logging.logfile)
        add("logging.debug", logging.level == .trace ? "trace" : BooleanStyle.onOff.spell(logging.debug))
        add("logging.timestamp", BooleanStyle.onOff.spell(logging.timestamp))
        add("logging.logfile_priority", logging.level.rawValue)

        add("store.data_directory", store.dataDirectory)
        add("store.fsync", BooleanStyle.onOff.spell(store.fsync))
        add("store.snapshot_entries", String(store.snapshotEntries))
        add("store.snapshot_bytes", String(store.snapshotBytes))
        add("store.snapshot_growth_percent", String(store.snapshotGrowthPercent))
        add("store.max_value_bytes", String(store.maxValueBytes))

        add("runtime.watchdog", BooleanStyle.onOff.spell(runtime.watchdog))

        add("client.bind_address", client.bindAddress)
        add("client.port", String(client.port))
        add("client.password", client.password.map { _ in "(set)" })
        return out.sorted { KeyOrder.precedes($0.key, $1.key) }
    }

    private func appendTotem(_ add: (String, String?) -> Void) {
        let t = totem
        let isCrypto = t.cryptoCipher != "none" || t.cryptoHash != "none"
        let numbers: [(String, UInt32)] = [
            ("token", t.token), ("token_coefficient", t.tokenCoefficient),
            ("token_retransmit", t.tokenRetransmit),
            ("token_retransmits_before_loss_const", t.tokenRetransmitsBeforeLossConst),
            ("token_warning", t.tokenWarning),
            ("hold", t.hold), ("join", t.join), ("send_join", t.sendJoin), ("consensus", t.consensus),
            ("merge", t.merge), ("downcheck", t.downcheck), ("fail_recv_const", t.failRecvConst),
            ("seqno_unchanged_const", t.seqnoUnchangedConst),
            ("heartbeat_failures_allowed", t.heartbeatFailuresAllowed),
            ("max_network_delay", t.maxNetworkDelay), ("window_size", t.windowSize),
            ("max_messages", t.maxMessages), ("miss_count_const", t.missCountConst), ("netmtu", t.netmtu),
            ("rrp_token_expired_timeout", t.rrpTokenExpiredTimeout),
            ("rrp_problem_count_timeout", t.rrpProblemCountTimeout),
            ("rrp_problem_count_threshold", t.rrpProblemCountThreshold),
            ("rrp_problem_count_mcast_threshold", t.rrpProblemCountMcastThreshold),
            ("rrp_autorecovery_check_timeout", t.rrpAutorecoveryCheckTimeout),
        ]
        for (key, value) in numbers { add("totem." + key, String(value)) }
        add("totem.version", "2")
        add("totem.cluster_name", t.clusterName.isEmpty ? nil : t.clusterName)
        add("totem.cancel_token_hold_on_retransmit", BooleanStyle.yesNo.spell(t.cancelTokenHoldOnRetransmit))
        add("totem.transport", t.transport.rawValue)
        add("totem.rrp_mode", t.rrpMode.rawValue)
        add("totem.secauth", BooleanStyle.onOff.spell(isCrypto))
        add("totem.crypto_cipher", t.cryptoCipher)
        add("totem.crypto_hash", t.cryptoHash)
        add("totem.keyfile", isCrypto ? t.keyFile : nil)
        for interface in t.interfaces {
            let prefix = "totem.interface.\(interface.ringNumber)."
            add(prefix + "bindnetaddr", interface.bindNetAddr)
            add(prefix + "mcastaddr", interface.mcastAddr)
            add(prefix + "mcastport", String(interface.mcastPort))
            add(prefix + "ttl", String(interface.ttl))
        }
    }
}

/// Key order for listings: component by component, numbers numerically.
enum KeyOrder {
    static func precedes(_ a: String, _ b: String) -> Bool {
        let x = a.split(separator: ".", omittingEmptySubsequences: false)
        let y = b.split(separator: ".", omittingEmptySubsequences: false)
        for (p, q) in zip(x, y) where p != q {
            if let m = UInt64(p), let n = UInt64(q) { return m < n }
            return p < q
        }
        return x.count < y.count
    }
}
