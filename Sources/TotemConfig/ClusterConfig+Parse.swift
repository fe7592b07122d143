import Foundation  // only to read the file in `load(path:)`

extension ClusterConfig {
    /// The top-level sections TotemKV reads. corosync's other sections (`system`, `qb`,
    /// `resources`, ...) and unknown ones are ignored with a warning.
    static let sectionNames = ["totem", "nodelist", "quorum", "logging", "store", "client", "runtime"]

    /// Parses and validates a configuration. Throws the first problem found.
    public static func parse(_ text: String, fileName: String) throws(ConfigError) -> ClusterConfig {
        try parse(bytes: Array(text.utf8), fileName: fileName)
    }

    /// Parses and validates a configuration given as raw bytes (what a file holds, which may
    /// not be UTF-8 or may carry Latin-1 non-breaking spaces).
    public static func parse(bytes: [UInt8], fileName: String) throws(ConfigError) -> ClusterConfig {
        let root = try ConfigParser.parse(bytes: bytes, fileName: fileName)
        var assembler = Assembler(fileName: fileName)
        return try assembler.assemble(root)
    }

    /// Reads the file at `path` (at most `ConfigParser.maxFileBytes`) and parses it; errors
    /// name the file as `path`. A file that cannot be read is an error at line 0.
    public static func load(path: String) throws(ConfigError) -> ClusterConfig {
        let fileLevel = ConfigLocation(fileName: path, line: 0, column: 0)
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            throw ConfigError("is a directory; expected a configuration file", at: fileLevel)
        }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw ConfigError("cannot open the file (missing or unreadable)", at: fileLevel)
        }
        defer { try? handle.close() }
        let bytes: [UInt8]
        do {
            // One byte more than allowed, so that an oversized file is seen as such.
            bytes = Array(try handle.read(upToCount: ConfigParser.maxFileBytes + 1) ?? Data())
        } catch {
            throw ConfigError("cannot read the file (\(error.localizedDescription))", at: fileLevel)
        }
        return try parse(bytes: bytes, fileName: path)
    }
}

/// Turns the syntax tree into a `ClusterConfig`: one reader per section, then the rules
/// that span sections (`ClusterConfig+Rules.swift`).
struct Assembler {
    let fileName: String
    var warnings: [ConfigWarning] = []

    init(fileName: String) { self.fileName = fileName }

    mutating func assemble(_ root: ConfigSection) throws(ConfigError) -> ClusterConfig {
        let sections = try topLevelSections(root)
        let totem: TotemSection
        if let section = sections["totem"] {
            totem = try TotemSection(section, warnings: &warnings)
            if totem.version == nil {
                warnings.append(ConfigWarning(
                    "totem.version is missing; corosync requires version: 2", at: section.location))
            }
        } else {
            totem = TotemSection()
            warnings.append(ConfigWarning(
                "no totem section; every totem option takes its default", at: root.location))
        }
        let nodelist: NodelistSection
        if let section = sections["nodelist"] {
            nodelist = try NodelistSection(section, clearNodeHighBit: totem.clearNodeHighBit, warnings: &warnings)
            if nodelist.nodes.isEmpty {
                warnings.append(ConfigWarning(
                    "nodelist has no node; a TotemKV node cannot start without knowing the members",
                    at: section.location))
            }
        } else {
            nodelist = NodelistSection()
            warnings.append(ConfigWarning(
                "no nodelist section (accepted, as corosync 2.x did for multicast clusters); a TotemKV node needs nodelist { node { ring0_addr nodeid } } to know the members",
                at: totem.location ?? root.location))
        }
        let nodes = nodelist.nodes
        if !nodes.isEmpty && nodes.allSatisfy({ $0.quorumVotes == 0 }) {
            throw ConfigError(
                "every node has quorum_votes 0; expected at least one vote, or no write could ever commit",
                at: nodelist.location ?? root.location)
        }
        var config = ClusterConfig(fileName: fileName, nodes: nodes)
        if let section = sections["quorum"] {
            config.quorum = try QuorumConfig.read(section, nodes: nodes, warnings: &warnings)
        }
        if let section = sections["logging"] {
            config.logging = try LoggingConfig.read(section, warnings: &warnings)
        }
        if let section = sections["store"] {
            config.store = try StoreConfig.read(section, warnings: &warnings)
        }
        if let section = sections["client"] {
            config.client = try ClientConfig.read(section, warnings: &warnings)
        }
        if let section = sections["runtime"] {
            config.runtime = try RuntimeConfig.read(section, warnings: &warnings)
        }
        let rules = Rules(totem: totem, nodelist: nodelist, clientSection: sections["client"], root: root)
        config.totemSettings = try rules.resolveTotem(warnings: &warnings)
        config.totem = TotemOptions(config.totemSettings, nodeCount: nodes.count)
        try rules.checkTiming(config.totem, warnings: &warnings)
        try rules.checkClientEndpoints(config)
        // File order; warnings at the same place keep the order they were found in.
        config.warnings = warnings.enumerated()
            .sorted { ($0.element.location, $0.offset) < ($1.element.location, $1.offset) }
            .map(\.element)
        return config
    }

    /// The known top-level sections by name; warns about everything else at the top level.
    private mutating func topLevelSections(_ root: ConfigSection) throws(ConfigError) -> [String: ConfigSection] {
        var result: [String: ConfigSection] = [:]
        for entry in root.entries {
            switch entry {
            case .item(let item):
                warnings.append(ConfigWarning(
                    "top-level key \"\(item.key)\" is not part of any section (corosync 1.x); ignored",
                    at: item.keyLocation))
            case .section(let section):
                if ClusterConfig.sectionNames.contains(section.name) {
                    if let earlier = result[section.name] {
                        throw ConfigError(
                            "section \(section.name) appears twice (first at line \(earlier.location.line)); expected one",
                            at: section.location)
                    }
                    result[section.name] = section
                } else if let note = CorosyncKeys.topLevelSections[section.name] {
                    warnings.append(ConfigWarning(
                        "section \(section.name) is a corosync section TotemKV does not use; ignored\(note.isEmpty ? "" : " (\(note))")",
                        at: section.location))
                } else {
                    let known = ClusterConfig.sectionNames + CorosyncKeys.topLevelSections.keys.sorted()
                    warnings.append(ConfigWarning(
                        "unknown section \"\(section.name)\"\(Suggestion.didYouMean(section.name, among: known)); ignored",
                        at: section.location))
                }
            }
        }
        return result
    }
}
