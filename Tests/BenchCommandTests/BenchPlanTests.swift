import Testing
@testable import totemkv

/// `totemkv bench` argument parsing: defaults, every bound, the port order and the budgets.
struct BenchPlanTests {
    private func plan(_ arguments: [String]) throws -> BenchPlan {
        try BenchCommand.parse(arguments).plan()
    }

    @Test func defaultsAimAtTheUpClusterWithSixteenWritersForTenSeconds() throws {
        let plan = try plan([])
        #expect(plan.host == "127.0.0.1")
        #expect(plan.ports == [7379, 7380, 7381])
        #expect(plan.failoverPorts == [])
        #expect(plan.clients == 16)
        #expect(plan.valueBytes == 256)
        #expect(plan.operation == .set)
        #expect(plan.readPercent == 0)
        #expect(plan.stop == .duration(seconds: 10))
        #expect(plan.kill == nil)
        #expect(plan.threads == 1)
    }

    @Test func optionsReachThePlan() throws {
        let plan = try plan([
            "-h", "10.0.0.1", "--ports", "7000, 7001", "--failover-ports", "7002", "-c", "64", "-d", "100",
            "-n", "5000", "--op", "mixed", "--read-percent", "30", "--keyspace", "10", "--key-prefix", "k:",
            "--kill-pid", "4242", "--kill-after", "2.5", "--threads", "2", "-a", "secret",
        ])
        #expect(plan.host == "10.0.0.1")
        #expect(plan.ports == [7000, 7001])
        #expect(plan.failoverPorts == [7002])
        #expect(plan.clients == 64)
        #expect(plan.valueBytes == 100)
        #expect(plan.stop == .requests(5000))
        #expect(plan.operation == .mixed)
        #expect(plan.readPercent == 30)
        #expect(plan.key(7) == "k:7")
        #expect(plan.kill == BenchPlan.Kill(pid: 4242, afterSeconds: 2.5))
        #expect(plan.threads == 2)
        #expect(plan.password == "secret")
    }

    @Test func getReadsOnlyAndSetWritesOnlyWhateverReadPercentSays() throws {
        #expect(try plan(["--op", "get", "--read-percent", "10"]).readPercent == 100)
        #expect(try plan(["--op", "set", "--read-percent", "90"]).readPercent == 0)
    }

    @Test(arguments: [
        (["--duration", "5", "--requests", "10"], "not both"),
        (["--ports", "7379,x"], "not a port"),
        (["--ports", "0"], "not a port"),
        (["--ports", "7379,7379"], "listed twice"),
        (["--ports", ""], "not a port"),
        (["--clients", "0"], "--clients"),
        (["--clients", "5000"], "--clients"),
        (["--value-size", "0"], "--value-size"),
        (["--keyspace", "0"], "--keyspace"),
        (["--read-percent", "101"], "--read-percent"),
        (["--duration", "0"], "--duration"),
        (["--duration", "700"], "--duration"),
        (["--requests", "0"], "--requests"),
        (["--time-limit", "4000"], "--time-limit"),
        (["--key-prefix", "a b"], "--key-prefix"),
        (["--kill-pid", "99"], "go together"),
        (["--kill-pid", "99", "--kill-after", "10"], "below --duration"),
        (["--kill-pid", "1", "--kill-after", "1"], "--kill-pid"),
        (["--threads", "0"], "--threads"),
        (["--error-backoff", "70000"], "--error-backoff"),
    ])
    func badOptionsAreRefusedWithAMessageNamingThem(arguments: [String], expected: String) {
        #expect {
            _ = try plan(arguments)
        } throws: { error in
            "\(error)".contains(expected)
        }
        // ArgumentParser's own validation says the same through `validate()`.
        #expect(throws: (any Error).self) { _ = try BenchCommand.parseAsRoot(["bench"] + arguments) }
    }

    @Test func clientsStartRoundRobinAndFailOverThroughTheOtherPortsThenTheFailoverList() throws {
        let plan = try plan(["--ports", "1,2,3", "--failover-ports", "4,2,5"])
        #expect(plan.portOrder(ofClient: 0) == [1, 2, 3, 4, 5])
        #expect(plan.portOrder(ofClient: 1) == [2, 3, 1, 4, 5])
        #expect(plan.portOrder(ofClient: 5) == [3, 1, 2, 4, 5])
        let single = try self.plan(["--ports", "7379", "--failover-ports", "7380,7381"])
        #expect(single.portOrder(ofClient: 9) == [7379, 7380, 7381])
    }

    @Test func requestsAreSplitEvenlyAndAddUpToTheTotal() throws {
        let plan = try plan(["-c", "4", "-n", "10"])
        #expect((0..<4).map { plan.requestBudget(ofClient: $0) } == [3, 3, 2, 2])
        let many = try self.plan(["-c", "7", "-n", "1000003"])
        #expect((0..<7).reduce(UInt64(0)) { $0 + (many.requestBudget(ofClient: $1) ?? 0) } == 1_000_003)
        let fewer = try self.plan(["-c", "5", "-n", "2"])
        #expect((0..<5).map { fewer.requestBudget(ofClient: $0) } == [1, 1, 0, 0, 0])
        #expect(try self.plan(["--duration", "1"]).requestBudget(ofClient: 0) == nil)
    }
}
