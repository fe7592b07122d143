/// Where something is in a configuration file: 1-based line and column. Columns count
/// UTF-8 bytes (as gcc and clang do), so a tab or a non-breaking space is one or two columns.
/// Line 0 means "the file as a whole" (it could not be read at all).
public struct ConfigLocation: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var fileName: String
    public var line: Int
    public var column: Int

    public init(fileName: String, line: Int, column: Int) {
        self.fileName = fileName
        self.line = line
        self.column = column
    }

    public static func < (a: ConfigLocation, b: ConfigLocation) -> Bool {
        (a.line, a.column) < (b.line, b.column)
    }

    /// `FILE:LINE:COL`, or `FILE` for a file-level location.
    public var description: String {
        line == 0 ? fileName : "\(fileName):\(line):\(column)"
    }
}

/// A configuration that cannot be used. The message says what was expected, e.g.
/// `three.conf:12:5: expected ':' after key name "token"`.
public struct ConfigError: Error, Hashable, Sendable, CustomStringConvertible {
    public var location: ConfigLocation
    public var message: String

    public init(_ message: String, at location: ConfigLocation) {
        self.message = message
        self.location = location
    }

    public var fileName: String { location.fileName }
    public var line: Int { location.line }
    public var column: Int { location.column }

    /// `FILE:LINE:COL: message`, the format compilers use, so editors can jump to it.
    public var description: String { "\(location): \(message)" }
}

/// Something in the file that TotemKV accepts but ignores or reads differently from what
/// the author may expect: an option corosync has and TotemKV does not implement, a section
/// that is missing, a key given twice.
public struct ConfigWarning: Hashable, Sendable, CustomStringConvertible {
    public var location: ConfigLocation
    public var message: String

    public init(_ message: String, at location: ConfigLocation) {
        self.message = message
        self.location = location
    }

    public var description: String { "\(location): warning: \(message)" }
}
