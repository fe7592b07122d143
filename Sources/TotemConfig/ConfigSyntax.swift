/// The syntax tree of a corosync.conf-style file: what `ConfigParser` produces and the
/// section readers consume. It keeps every entry in file order with its location, so that a
/// later rule (consensus below 1.2 x token, a duplicate node id) can name the line it is about.

/// One `key: value` line. `value` is trimmed and, when it was written in double quotes,
/// unquoted.
public struct ConfigItem: Hashable, Sendable {
    public var key: String
    public var value: String
    public var keyLocation: ConfigLocation
    /// Where the value starts (its opening quote when quoted; just after the colon when empty).
    public var valueLocation: ConfigLocation
    public var isQuoted: Bool

    public init(key: String, value: String, keyLocation: ConfigLocation,
                valueLocation: ConfigLocation, isQuoted: Bool = false) {
        self.key = key
        self.value = value
        self.keyLocation = keyLocation
        self.valueLocation = valueLocation
        self.isQuoted = isQuoted
    }
}

/// `name { ... }`. The root of a file is a section with an empty name.
public struct ConfigSection: Hashable, Sendable {
    public var name: String
    /// Where the name starts (line 1, column 1 for the root).
    public var location: ConfigLocation
    public var entries: [ConfigEntry]

    public init(name: String, location: ConfigLocation, entries: [ConfigEntry] = []) {
        self.name = name
        self.location = location
        self.entries = entries
    }

    /// The `key: value` items, in file order.
    public var items: [ConfigItem] {
        entries.compactMap { if case .item(let item) = $0 { item } else { nil } }
    }

    /// The subsections, in file order.
    public var sections: [ConfigSection] {
        entries.compactMap { if case .section(let section) = $0 { section } else { nil } }
    }
}

public enum ConfigEntry: Hashable, Sendable {
    case item(ConfigItem)
    case section(ConfigSection)
}
