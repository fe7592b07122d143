/// Reading one typed value from a `key: value` item. Every failure names the key, the value
/// and what was expected, in corosync's words where corosync has them (`safe_atoq` in
/// exec/coroparse.c), and points at the value's column.
enum ConfigValues {
    /// A whole decimal integer in `range`, e.g.
    /// `Value of key "token" is expected to be integer in range (30..86400000), but "abc" was given`.
    static func integer<T: FixedWidthInteger & UnsignedInteger>(
        _ item: ConfigItem, in range: ClosedRange<T>
    ) throws(ConfigError) -> T {
        if let value = parseDecimal(item.value), value >= UInt64(range.lowerBound),
            value <= UInt64(range.upperBound)
        {
            return T(value)
        }
        throw ConfigError(
            "Value of key \"\(item.key)\" is expected to be integer in range (\(range.lowerBound)..\(range.upperBound)), but \"\(item.value)\" was given\(commentHint(item))",
            at: item.valueLocation)
    }

    /// Digits only (no sign, no blanks); nil when empty, not decimal or above UInt64.max.
    static func parseDecimal(_ text: String) -> UInt64? {
        guard !text.isEmpty, text.utf8.count <= 40 else { return nil }
        var value: UInt64 = 0
        for byte in text.utf8 {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(UInt64(byte - UInt8(ascii: "0")))
            if overflow1 || overflow2 { return nil }
            value = sum
        }
        return value
    }

    /// A Boolean. corosync spells them differently per key (`secauth: on`, `two_node: 1`,
    /// `to_stderr: yes`); every spelling is accepted everywhere, and `style` is the one
    /// named in the message and used when printing.
    static func boolean(_ item: ConfigItem, style: BooleanStyle) throws(ConfigError) -> Bool {
        switch item.value {
        case "on", "yes", "1", "true": return true
        case "off", "no", "0", "false": return false
        default:
            throw ConfigError(
                "Value of key \"\(item.key)\" is expected to be \(style.trueSpelling) or \(style.falseSpelling), but \"\(item.value)\" was given\(commentHint(item))",
                at: item.valueLocation)
        }
    }

    /// One of a fixed set of words.
    static func choice(_ item: ConfigItem, of choices: [String]) throws(ConfigError) -> String {
        if choices.contains(item.value) { return item.value }
        throw ConfigError(
            "Value of key \"\(item.key)\" is expected to be one of \(choices.joined(separator: ", ")), but \"\(item.value)\" was given\(commentHint(item))",
            at: item.valueLocation)
    }

    static func nonEmpty(_ item: ConfigItem, what: String) throws(ConfigError) -> String {
        guard !item.value.isEmpty else {
            throw ConfigError("Value of key \"\(item.key)\" is expected to be \(what), but it is empty",
                              at: item.valueLocation)
        }
        return item.value
    }

    /// An IPv4 or IPv6 literal or a host name, as corosync's `totemip_parse` accepts.
    static func address(_ item: ConfigItem) throws(ConfigError) -> String {
        if IPAddress(item.value) != nil || IPAddress.isHostName(item.value) { return item.value }
        throw ConfigError(
            "Value of key \"\(item.key)\" is expected to be an IPv4 or IPv6 address or a host name, but \"\(item.value)\" was given\(commentHint(item))",
            at: item.valueLocation)
    }

    /// corosync has no trailing comments; say so when a `#` is probably why a value is bad.
    private static func commentHint(_ item: ConfigItem) -> String {
        item.value.contains("#") && !item.isQuoted
            ? " ('#' starts a comment only at the beginning of a line)" : ""
    }
}

/// How a Boolean key is spelled in corosync.conf(5), votequorum(5) or our own sections.
enum BooleanStyle {
    case onOff, yesNo, oneZero

    var trueSpelling: String {
        switch self {
        case .onOff: "on"
        case .yesNo: "yes"
        case .oneZero: "1"
        }
    }

    var falseSpelling: String {
        switch self {
        case .onOff: "off"
        case .yesNo: "no"
        case .oneZero: "0"
        }
    }

    func spell(_ value: Bool) -> String { value ? trueSpelling : falseSpelling }
}
