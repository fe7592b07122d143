import ArgumentParser
import Foundation
import Simulation

/// `totemkv check HISTORY_FILE`: checks a saved client history for linearizability.
/// Exit status: 0 linearizable, 1 a violation, 2 undecided or a malformed file.
struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check a recorded client history for linearizability.",
        discussion: "Exit status: 0 linearizable, 1 violation found, 2 undecided (the search gave up) or malformed file.")

    @Argument(help: "The history file (the simulator's format).") var historyFile: String

    func run() throws {
        let text: String
        do {
            text = try String(contentsOfFile: historyFile, encoding: .utf8)
        } catch {
            print("cannot read \(historyFile): \(error.localizedDescription)")
            throw ExitCode(2)
        }
        let report: LinearizabilityReport
        do {
            report = try checkHistoryFile(text)
        } catch {
            print("\(historyFile): \(error)")
            throw ExitCode(2)
        }
        print(report.description)
        switch report.verdict {
        case .linearizable: return
        case .violation: throw ExitCode(1)
        case .unknown: throw ExitCode(2)
        }
    }
}
