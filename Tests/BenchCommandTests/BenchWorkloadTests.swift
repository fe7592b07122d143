import NIOCore
import RESP
import Testing
@testable import totemkv

/// What the clients send and how replies are read.
struct BenchWorkloadTests {
    private func plan(_ arguments: [String]) throws -> BenchPlan {
        try BenchCommand.parse(arguments).plan()
    }

    @Test func theSameSeedAndClientSendTheSameRequestsAndOtherClientsOtherOnes() throws {
        let plan = try plan(["--op", "mixed", "--keyspace", "1000"])
        var a = BenchWorkload(plan: plan, client: 3)
        var b = BenchWorkload(plan: plan, client: 3)
        var c = BenchWorkload(plan: plan, client: 4)
        let first = (0..<100).map { _ in a.next() }
        #expect(first == (0..<100).map { _ in b.next() })
        #expect(first != (0..<100).map { _ in c.next() })
        #expect(first.allSatisfy { (0..<1000).contains($0.key) })
        // Mixed at 50 %: both kinds appear in 100 draws (a fixed seed, so no flakiness).
        #expect(first.contains { $0.kind == .get } && first.contains { $0.kind == .set })
    }

    @Test func setOnlyWritesAndGetOnlyReads() throws {
        var writer = BenchWorkload(plan: try plan(["--op", "set"]), client: 0)
        var reader = BenchWorkload(plan: try plan(["--op", "get"]), client: 0)
        #expect((0..<200).allSatisfy { _ in writer.next().kind == .set })
        #expect((0..<200).allSatisfy { _ in reader.next().kind == .get })
    }

    @Test func requestsAreEncodedAsRESPArraysOfBulkStrings() throws {
        let workload = BenchWorkload(plan: try plan(["-d", "5", "--key-prefix", "b:"]), client: 0)
        #expect(workload.value.count == 5)
        var set = ByteBuffer()
        workload.encode(BenchRequest(kind: .set, key: 42), keyPrefix: "b:", into: &set)
        let value = String(decoding: workload.value, as: UTF8.self)
        #expect(String(buffer: set) == "*3\r\n$3\r\nSET\r\n$4\r\nb:42\r\n$5\r\n\(value)\r\n")
        var get = ByteBuffer()
        workload.encode(BenchRequest(kind: .get, key: 7), keyPrefix: "b:", into: &get)
        #expect(String(buffer: get) == "*2\r\n$3\r\nGET\r\n$3\r\nb:7\r\n")
    }

    @Test func repliesAreClassifiedByWhatTheyMeanForTheRequest() {
        #expect(BenchOutcome.classify(.ok, to: .set) == .acknowledged)
        #expect(BenchOutcome.classify(.bulk("v"), to: .get) == .read(hit: true))
        #expect(BenchOutcome.classify(.nullBulkString, to: .get) == .read(hit: false))
        #expect(BenchOutcome.classify(.error("NOQUORUM not in a quorate configuration: nothing was written"), to: .set)
            == .failed(.noQuorum))
        #expect(BenchOutcome.classify(.error("UNKNOWN the write may or may not have happened"), to: .set)
            == .failed(.unknown))
        #expect(BenchOutcome.classify(.error("ERR invalid key"), to: .get) == .failed(.server("ERR")))
        #expect(BenchOutcome.classify(.error(""), to: .get) == .failed(.server("")))
        // A shape the request cannot get is not counted as a success.
        #expect(BenchOutcome.classify(.bulk("OK"), to: .set) == .failed(.unexpectedReply))
        #expect(BenchOutcome.classify(.ok, to: .get) == .failed(.unexpectedReply))
        let long = String(repeating: "X", count: 100)
        #expect(BenchErrorKind(serverError: long + " text") == .server(String(repeating: "X", count: 32)))
    }

    @Test func errorKindsSortByLabelAndKnowWhichAreConnectionErrors() {
        let kinds: [BenchErrorKind] = [.timeout, .noQuorum, .connectionLost, .server("ERR"), .unknown, .connectFailed]
        #expect(kinds.sorted().map(\.label) == ["ERR", "NOQUORUM", "UNKNOWN", "connect-failed", "connection-lost", "timeout"])
        #expect(kinds.filter(\.isConnection).sorted() == [.connectFailed, .connectionLost, .timeout])
    }
}
