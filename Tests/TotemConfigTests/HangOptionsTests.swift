import Testing
@testable import TotemConfig

/// `totem.token_warning` (corosync 3.x) and `runtime.watchdog`: the options behind the node's
/// hang detection (docs/node.md, "Hangs").
@Suite struct HangOptionsTests {
    @Test func tokenWarningDefaultsToSeventyFivePercent() throws {
        let config = try parse(cluster(nodes: 2))
        #expect(config.totem.tokenWarning == 75)
        #expect(config.warnings.allSatisfy { !$0.message.contains("token_warning") })
    }

    @Test func tokenWarningIsReadWithoutAWarningAndZeroDisablesIt() throws {
        let set = try parse(cluster(nodes: 2, totem: "\ttoken_warning: 50\n"))
        #expect(set.totem.tokenWarning == 50)
        #expect(set.warnings.isEmpty, "\(set.warnings)")
        #expect(effective(set, "totem.token_warning") == "50")
        // 0 is not "the default" here: it turns the warnings off, as in corosync 3.x.
        let off = try parse(cluster(nodes: 2, totem: "\ttoken_warning: 0\n"))
        #expect(off.totem.tokenWarning == 0)
        #expect(off.warnings.isEmpty, "\(off.warnings)")
    }

    @Test func tokenWarningOutOfRangeIsAnError() {
        expectError(cluster(nodes: 2, totem: "\ttoken_warning: 100\n"), line: 3, column: 17, "token_warning")
        expectError(cluster(nodes: 2, totem: "\ttoken_warning: many\n"), line: 3, column: 17, "token_warning")
    }

    @Test func watchdogIsOffUnlessTheRuntimeSectionTurnsItOn() throws {
        #expect(try parse(cluster(nodes: 2)).runtime.watchdog == false)
        let on = try parse(cluster(nodes: 2) + "runtime {\n\twatchdog: on\n}\n")
        #expect(on.runtime.watchdog)
        #expect(effective(on, "runtime.watchdog") == "on")
    }

    @Test func runtimeSectionRefusesUnknownKeysAndBadValues() {
        let base = cluster(nodes: 2)
        let lines = base.split(separator: "\n", omittingEmptySubsequences: false).count
        expectError(base + "runtime {\n\twatchdgo: on\n}\n", line: lines + 1, column: 2, "did you mean \"watchdog\"")
        expectError(base + "runtime {\n\twatchdog: maybe\n}\n", line: lines + 1, column: 12, "watchdog")
    }
}
