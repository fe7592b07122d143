import Testing
@testable import TotemConfig

let testFile = "test.conf"

/// Parses `text` as test.conf.
func parse(_ text: String) throws(ConfigError) -> ClusterConfig {
    try ClusterConfig.parse(text, fileName: testFile)
}

/// The error `text` gives; records a failure and returns nil when it parses.
func parseError(_ text: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) -> ConfigError? {
    do {
        let config = try parse(text)
        Issue.record("expected an error, got a configuration with \(config.nodes.count) nodes", sourceLocation: sourceLocation)
        return nil
    } catch {
        return error
    }
}

/// Expects `text` to fail at `line`:`column` with a message containing `fragment`.
func expectError(_ text: String, line: Int, column: Int, _ fragment: String,
                 sourceLocation: Testing.SourceLocation = #_sourceLocation) {
    guard let error = parseError(text, sourceLocation: sourceLocation) else { return }
    #expect(error.fileName == testFile, sourceLocation: sourceLocation)
    #expect(error.line == line, "\(error)", sourceLocation: sourceLocation)
    #expect(error.column == column, "\(error)", sourceLocation: sourceLocation)
    #expect(error.message.contains(fragment), "\(error)", sourceLocation: sourceLocation)
}

/// A value of the effective listing.
func effective(_ config: ClusterConfig, _ key: String) -> String? {
    config.effectiveKeyValues().first { $0.key == key }?.value
}

/// A nodelist of `count` nodes on 127.0.0.1, 127.0.0.2, ...
func nodelist(_ count: Int) -> String {
    var text = "nodelist {\n"
    for i in 1...count {
        text += "\tnode {\n\t\tnodeid: \(i)\n\t\tring0_addr: 127.0.0.\(i)\n\t}\n"
    }
    return text + "}\n"
}

/// A file with a `totem` section holding `totemBody` and a nodelist of `nodes` nodes.
func cluster(nodes: Int, totem totemBody: String = "") -> String {
    "totem {\n\tversion: 2\n\(totemBody)}\n" + (nodes > 0 ? nodelist(nodes) : "")
}
