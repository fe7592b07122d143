import Basics
import Testing

@testable import Simulation

@Suite("History text format")
struct HistoryFormatTests {
    /// One operation of every shape and outcome, with strings that need escaping.
    static let everyShape: [HistoryOperation] = [
        op(0, .set(key: "x", value: "plain"), 0, 10, .ok(.done)),
        op(1, .get(key: "x"), 5, 12, .ok(.value("plain")), mode: .stale),
        op(2, .get(key: "y"), 6, 13, .ok(.value(nil))),
        op(3, .set(key: "q", value: "sp ace \"quote\" back\\slash\nnew\tline é 🦀"), 20, 30, .ok(.done)),
        op(4, .set(key: "e", value: ""), 20, 30, .ok(.done)),
        op(5, .delete(key: "x"), 31, 40, .failed(reason: "NOQUORUM nothing written")),
        op(6, .increment(key: "n", by: -9_223_372_036_854_775_808), 41, 50, .ok(.integer(-9_223_372_036_854_775_808))),
        op(7, .increment(key: "t", by: 3), 41, 50, .ok(.notAnInteger)),
        op(8, .compareAndSet(key: "x", expected: nil, new: "a"), 51, 60, .ok(.swapped(true))),
        op(9, .compareAndSet(key: "x", expected: "a", new: "b"), 51, nil, .unknown),
        op(10, .set(key: "x", value: "c"), 61, 99, .unknown),
        op(11, .delete(key: "x"), UInt64.max - 1, UInt64.max, .ok(.done)),
        op(12, .get(key: "x"), 70, 80, .failed(reason: "")),
    ]

    static func op(
        _ id: UInt64, _ operation: KVOperation, _ invoked: UInt64, _ responded: UInt64?, _ outcome: OperationOutcome,
        mode: ReadMode = .linearizable
    ) -> HistoryOperation {
        HistoryOperation(
            id: OperationID(id), client: ClientID(id % 3), operation: operation, readMode: mode,
            invokedAt: Instant(nanoseconds: invoked), respondedAt: responded.map { Instant(nanoseconds: $0) },
            outcome: outcome)
    }

    @Test func everyShapeRoundTrips() throws {
        let history = try History(operations: Self.everyShape)
        let text = history.serialized()
        #expect(try History(parsing: text) == history)
        // One line per operation plus the header and the column comment, all printable ASCII.
        #expect(text.split(separator: "\n").count == Self.everyShape.count + 2)
        #expect(text.utf8.allSatisfy { $0 == 0x0A || (0x20...0x7E).contains($0) })
    }

    @Test func linesReadAsDocumented() throws {
        #expect(Self.everyShape[0].formatted() == #"0 0 lin 0 10 set "x" "plain" ok"#)
        #expect(Self.everyShape[1].formatted() == #"1 1 stale 5 12 get "x" ok "plain""#)
        #expect(Self.everyShape[2].formatted() == #"2 2 lin 6 13 get "y" ok nil"#)
        #expect(Self.everyShape[5].formatted() == #"5 2 lin 31 40 del "x" failed "NOQUORUM nothing written""#)
        #expect(Self.everyShape[7].formatted() == #"7 1 lin 41 50 incr "t" 3 ok not-integer"#)
        #expect(Self.everyShape[8].formatted() == #"8 2 lin 51 60 cas "x" nil "a" ok true"#)
        #expect(Self.everyShape[9].formatted() == #"9 0 lin 51 - cas "x" "a" "b" unknown"#)
    }

    @Test func theExampleInTheDocsParsesAndIsLinearizable() throws {
        // Keep in step with docs/consistency-checking.md, "The text format".
        let report = try checkHistoryFile(
            """
            totemkv-history 1
            # id client mode invoked-ns responded-ns operation... outcome...
            0 1 lin 1000 2500 set "x" "one" ok
            1 2 stale 1200 3000 get "x" ok "one"
            2 2 lin 3100 3300 get "x" ok "one"
            3 1 lin 2600 - incr "n" 5 unknown
            4 3 lin 3400 3500 incr "n" 1 ok 6
            5 3 lin 3600 3700 incr "x" 1 ok not-integer
            6 1 lin 3600 3900 cas "x" nil "2" ok false
            7 1 lin 4000 4100 del "x" failed "NOQUORUM"
            """)
        #expect(report.isLinearizable, "\(report)")
        #expect(report.keysChecked == 2)
        #expect(report.unknownOutcomeOperations == 1)
        #expect(report.failedOperationsRemoved == 1)
        #expect(report.staleReads.fresh == 1)
    }

    @Test func commentsBlankLinesAndCRLFAreAccepted() throws {
        let text =
            "# saved by a test\r\n\r\ntotemkv-history 1\r\n  # indented comment\n0 1 lin 0 10 set \"x\" \"1\" ok\r\n\n"
        let history = try History(parsing: text)
        #expect(
            history.operations == [
                HistoryOperation(
                    id: OperationID(0), client: ClientID(1), operation: .set(key: "x", value: "1"),
                    invokedAt: Instant(nanoseconds: 0), respondedAt: Instant(nanoseconds: 10), outcome: .ok(.done))
            ])
    }

    @Test(arguments: [
        ("", 1, "missing the header"),
        ("totemkv-history 2\n", 1, "expected the header"),
        ("totemkv-history 1\n0 1 linear 0 10 get \"x\" ok nil", 2, "read mode"),
        ("totemkv-history 1\n0 1 lin 10 5 get \"x\" ok nil", 2, "before invocation"),
        ("totemkv-history 1\n0 1 lin 0 10 get \"x\" ok true", 2, "quoted string or nil"),
        ("totemkv-history 1\n0 1 lin 0 - get \"x\" ok nil", 2, "needs a response time"),
        ("totemkv-history 1\n0 1 lin 0 10 get \"x\" ok nil\n0 1 lin 0 10 get \"x\" ok nil", 3, "appears twice"),
        ("totemkv-history 1\n0 1 lin 0 10 get \"x ok nil", 2, "unterminated string"),
        ("totemkv-history 1\n0 1 lin 0 10 get \"\\xff\" ok nil", 2, "not valid UTF-8"),
        ("totemkv-history 1\n0 1 lin 0 10 get \"\\q\" ok nil", 2, "unknown escape"),
        ("totemkv-history 1\n0 1 lin 0 10 get \"x\"y ok nil", 2, "followed by a space"),
        ("totemkv-history 1\n0 1 lin 0 10 get \"x\" ok nil extra", 2, "unexpected field"),
        ("totemkv-history 1\n0 1 lin 0 10 get x ok nil", 2, "quoted string"),
        ("totemkv-history 1\n0 1 lin 0 10 incr \"n\" 99999999999999999999 ok 1", 2, "64-bit integer"),
        ("totemkv-history 1\n0 1 lin 0 10 cas \"n\" nil \"a\" ok maybe", 2, "true or false"),
        ("totemkv-history 1\n0 1 lin 0 10 put \"n\" ok", 2, "unknown operation"),
        ("totemkv-history 1\n0 1 lin 0 10 set \"n\" \"1\" done", 2, "outcome must be"),
        ("totemkv-history 1\n-1 1 lin 0 10 set \"n\" \"1\" ok", 2, "operation id"),
        ("totemkv-history 1\n0 1 lin 0 10 set \"n\"", 2, "missing value"),
        ("totemkv-history 1\n0 1 lin 0 10 set \u{7F} ok", 2, "unexpected byte"),
    ])
    func malformedInputIsAClearError(_ text: String, _ line: Int, _ message: String) {
        #expect {
            try History(parsing: text)
        } throws: { error in
            guard let error = error as? HistoryError else { return false }
            return error.position == line && error.message.contains(message)
        }
    }

    @Test func mutatedFilesNeverCrash() throws {
        // Random byte edits of a valid file: each either parses (and then round-trips) or
        // throws a HistoryError. Bounded: 2,000 mutants.
        let valid = Array(try History(operations: Self.everyShape).serialized().utf8)
        let alphabet = Array(" \"\\x0123456789abcdefnil-okstale\n\t#".utf8) + [0x00, 0xC3, 0xFF]
        var generator = SeededGenerator(seed: 0x5EED)
        var parsed = 0
        for _ in 0..<2_000 {
            var bytes = valid
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                let position = Int.random(in: 0..<bytes.count, using: &generator)
                switch Int.random(in: 0..<3, using: &generator) {
                case 0: bytes[position] = alphabet.randomElement(using: &generator) ?? 0
                case 1: bytes.remove(at: position)
                default: bytes.insert(alphabet.randomElement(using: &generator) ?? 0, at: position)
                }
            }
            do {
                let history = try History(parsing: String(decoding: bytes, as: UTF8.self))
                #expect(try History(parsing: history.serialized()) == history)
                parsed += 1
            } catch {
                #expect(!error.message.isEmpty)
            }
        }
        // Some mutants stay valid (an edited digit or value), most do not.
        #expect(parsed > 0 && parsed < 2_000)
    }
}
