import ArgumentParser
import Foundation
import TotemConfig

struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config", abstract: "Configuration tools.", subcommands: [ConfigCheckCommand.self])
}

/// `totemkv config check FILE`: validates a corosync.conf-style file; prints the warnings on
/// standard error and the effective configuration, one `section.key = value` a line, on
/// standard output. Exit status 0, or 1 with `FILE:LINE:COL: message` on standard error.
struct ConfigCheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Validate a configuration file and print its effective values, derived ones included.")

    @Argument(help: "The configuration file (corosync.conf syntax).")
    var file: String

    func run() throws {
        let config: ClusterConfig
        do {
            config = try ClusterConfig.load(path: file)
        } catch {
            standardError("\(error)\n")
            throw ExitCode.failure
        }
        for warning in config.warnings {
            standardError("\(warning)\n")
        }
        var output = ""
        for (key, value) in config.effectiveKeyValues() {
            output += "\(key) = \(value)\n"
        }
        print(output, terminator: "")
    }

    private func standardError(_ text: String) {
        FileHandle.standardError.write(Data(text.utf8))
    }
}
