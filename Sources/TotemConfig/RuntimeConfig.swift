/// `runtime { ... }`: TotemKV's own section for how a node process watches itself.
///
/// corosync's FAQ "what to do when corosync hangs" asks for two things: notice that the
/// process was not scheduled (`token_warning`, in the totem section), and make a node that
/// stayed stalled for longer than the token timeout go away instead of coming back with
/// beliefs (ring, token, membership) the rest of the cluster abandoned meanwhile. The second
/// is `watchdog`: off by default, because without a supervisor (systemd `Restart=`) an exit
/// only turns a slow node into a dead one.
public struct RuntimeConfig: Hashable, Sendable {
    /// `watchdog: on | off`. On: a node whose event loop stays stalled beyond the effective
    /// token timeout (measured by the loop itself on resuming, and by a watchdog thread while
    /// it is stuck) logs why and exits with status 75 so that its supervisor restarts it.
    public var watchdog: Bool

    public init(watchdog: Bool = false) {
        self.watchdog = watchdog
    }

    static func read(_ section: ConfigSection, warnings: inout [ConfigWarning]) throws(ConfigError) -> RuntimeConfig {
        if let sub = section.sections.first {
            throw ConfigError("unknown section \"\(sub.name)\" in runtime; expected keys only", at: sub.location)
        }
        let items = try SectionItems(section, path: "runtime", implemented: ["watchdog"],
                                     corosyncOnly: [:], warnings: &warnings)
        var runtime = RuntimeConfig()
        if let item = items["watchdog"] { runtime.watchdog = try ConfigValues.boolean(item, style: .onOff) }
        return runtime
    }
}
