/// `logging { ... }`: the subset of corosync's logging options TotemKV's node honours.
/// Defaults: corosync's, except `to_stderr`, which is on because a TotemKV node runs in the
/// foreground.
public struct LoggingConfig: Hashable, Sendable {
    /// syslog priorities as corosync spells them (`logfile_priority`), most severe first,
    /// plus `trace` for `debug: trace`.
    public enum Level: String, Hashable, Sendable, CaseIterable, Comparable {
        case emergency = "emerg", alert, critical = "crit", error = "err", warning, notice, info, debug, trace

        /// More verbose levels compare greater: `.debug > .info`.
        public static func < (a: Level, b: Level) -> Bool {
            let order = allCases
            return order.firstIndex(of: a) ?? 0 < order.firstIndex(of: b) ?? 0
        }
    }

    public var toStderr: Bool
    public var toLogfile: Bool
    /// Required when `toLogfile` is on.
    public var logfile: String?
    /// `debug: on` (or `trace`).
    public var debug: Bool
    public var timestamp: Bool
    /// The most verbose level written: `debug: on` gives `.debug`, `debug: trace` gives
    /// `.trace`; otherwise `logfile_priority`, `.info` unless set.
    public var level: Level

    public init(toStderr: Bool = true, toLogfile: Bool = false, logfile: String? = nil,
                debug: Bool = false, timestamp: Bool = false, level: Level = .info) {
        self.toStderr = toStderr
        self.toLogfile = toLogfile
        self.logfile = logfile
        self.debug = debug
        self.timestamp = timestamp
        self.level = level
    }

    static let keys = ["to_stderr", "to_logfile", "logfile", "debug", "timestamp", "logfile_priority"]

    static func read(_ section: ConfigSection, warnings: inout [ConfigWarning]) throws(ConfigError) -> LoggingConfig {
        for sub in section.sections {
            guard sub.name == "logger_subsys" else {
                throw ConfigError(
                    "unknown section \"\(sub.name)\" in logging; expected logger_subsys", at: sub.location)
            }
            warnings.append(ConfigWarning(
                "logging.logger_subsys is a corosync option TotemKV does not implement; ignored",
                at: sub.location))
        }
        let items = try SectionItems(section, path: "logging", implemented: keys,
                                     corosyncOnly: CorosyncKeys.logging, warnings: &warnings)
        var logging = LoggingConfig()
        if let item = items["to_stderr"] { logging.toStderr = try ConfigValues.boolean(item, style: .yesNo) }
        if let item = items["to_logfile"] { logging.toLogfile = try ConfigValues.boolean(item, style: .yesNo) }
        if let item = items["logfile"] { logging.logfile = try ConfigValues.nonEmpty(item, what: "a file path") }
        if let item = items["timestamp"] {
            if item.value == "hires" {
                logging.timestamp = true
                warnings.append(ConfigWarning("timestamp hires is read as on", at: item.valueLocation))
            } else {
                logging.timestamp = try ConfigValues.boolean(item, style: .onOff)
            }
        }
        if let item = items["logfile_priority"] {
            let names = Level.allCases.filter { $0 != .trace }.map(\.rawValue)
            logging.level = Level(rawValue: try ConfigValues.choice(item, of: names)) ?? .info
        }
        if let item = items["debug"] {
            if item.value == "trace" {
                logging.debug = true
                logging.level = .trace
            } else {
                logging.debug = try ConfigValues.boolean(item, style: .onOff)
                if logging.debug { logging.level = max(logging.level, .debug) }
            }
        }
        if logging.toLogfile && logging.logfile == nil {
            throw ConfigError("to_logfile is on, so expected logfile: the file to log to",
                              at: items["to_logfile"]?.valueLocation ?? section.location)
        }
        return logging
    }
}
