import NIOCore
import Testing

@testable import RESP

/// Random and mutated streams: the parser never crashes, never loops, and gives the same
/// commands and errors however the stream is split into reads (whole, byte by byte, random
/// chunks with read bytes discarded) — so it cannot silently lose its place in one case and
/// not the other. Small limits make the limit and discard paths common.
@Suite("RESP fuzz")
struct FuzzTests {
    static let smallLimits = RESPLimits(
        bulkBytesMax: 16, argumentsMax: 4, inlineBytesMax: 32, requestBytesMax: 40, discardBulkBytesMax: 64,
        pendingRequestsMax: 8)

    /// Bytes that matter to the grammar, drawn more often than the rest.
    static let alphabet: [UInt8] = Array("*$\r\n\r\n0123456789-+ \t\"'\\xaA:".utf8)

    static func randomByte(_ random: inout SplitMix) -> UInt8 {
        if Bool.random(using: &random) { return alphabet[Int.random(in: 0..<alphabet.count, using: &random)] }
        return UInt8.random(in: 0...255, using: &random)
    }

    /// A request the generator wrote: its arguments, and whether it was sent inline.
    struct Request {
        var arguments: [[UInt8]]
        var isInline: Bool
    }

    /// A stream of valid requests: arrays, inline lines (some quoted), blank lines, empty arrays.
    static func validStream(_ random: inout SplitMix) -> (stream: [UInt8], commands: [[[UInt8]]]) {
        let (stream, requests) = validRequests(&random)
        return (stream, requests.map(\.arguments))
    }

    static func validRequests(_ random: inout SplitMix) -> (stream: [UInt8], requests: [Request]) {
        var stream: [UInt8] = []
        var requests: [Request] = []
        for _ in 0..<Int.random(in: 1...4, using: &random) {
            switch Int.random(in: 0...5, using: &random) {
            case 0, 1, 2:
                let args = (0..<Int.random(in: 1...6, using: &random)).map { _ in
                    (0..<Int.random(in: 0...24, using: &random)).map { _ in randomByte(&random) }
                }
                stream += encodeCommands([args])
                requests.append(Request(arguments: args, isInline: false))
            case 3:
                let words = (0..<Int.random(in: 1...5, using: &random)).map { _ in
                    (0..<Int.random(in: 1...4, using: &random)).map { _ in UInt8.random(in: 97...122, using: &random) }
                }
                stream += Array(words.joined(separator: [32])) + bytes(Bool.random(using: &random) ? "\r\n" : "\n")
                requests.append(Request(arguments: words, isInline: true))
            case 4:
                stream += bytes(#"ECHO "a\x41\n" 'b c'"# + "\r\n")
                requests.append(Request(arguments: [bytes("ECHO"), bytes("aA\n"), bytes("b c")], isInline: true))
            default:
                stream += bytes(Bool.random(using: &random) ? "*0\r\n" : "\r\n")
            }
        }
        return (stream, requests)
    }

    /// What the parser must make of a well-framed request under `limits`: the command, or the
    /// one non-fatal refusal (the naive oracle for the parser's limit checks).
    static func expectedOutcome(_ request: Request, _ limits: RESPLimits) -> Outcome {
        let args = request.arguments
        if args.count > limits.argumentsMax {
            let counted = request.isInline ? limits.argumentsMax + 1 : args.count
            return errorOutcome(.tooManyArguments(count: Int64(counted), limit: limits.argumentsMax))
        }
        var total = 0
        for arg in args where !request.isInline {
            if arg.count > limits.bulkBytesMax {
                return errorOutcome(.bulkTooLong(length: Int64(arg.count), limit: limits.bulkBytesMax))
            }
            total += arg.count
            if total > limits.requestBytesMax { return errorOutcome(.requestTooLarge(limit: limits.requestBytesMax)) }
        }
        return .command(args)
    }

    static func mutate(_ stream: [UInt8], _ random: inout SplitMix) -> [UInt8] {
        var out = stream
        for _ in 0..<Int.random(in: 1...3, using: &random) {
            let position = out.isEmpty ? 0 : Int.random(in: 0..<out.count, using: &random)
            switch Int.random(in: 0...3, using: &random) {
            case 0 where !out.isEmpty: out[position] = randomByte(&random)
            case 1: out.insert(randomByte(&random), at: min(position, out.count))
            case 2 where !out.isEmpty: out.remove(at: position)
            default: out = Array(out.prefix(position))
            }
        }
        return out
    }

    @Test func validStreamsParseToTheirCommands() {
        var random = SplitMix(seed: 11)
        for round in 0..<500 {
            let (stream, commands) = Self.validStream(&random)
            let result = parseEverySplit(stream, seed: UInt64(round))
            #expect(result.outcomes == commands.map { .command($0) }, "round \(round)")
            #expect(!result.isWithinRequest)
        }
    }

    /// Each well-framed request gives exactly one outcome, a command or a non-fatal refusal,
    /// so a refusal never swallows or splits its neighbours.
    @Test func wellFramedRequestsOverTheLimitsAreRefusedOneByOne() {
        var random = SplitMix(seed: 15)
        var refusals = 0
        for round in 0..<1000 {
            let (stream, requests) = Self.validRequests(&random)
            let expected = requests.map { Self.expectedOutcome($0, Self.smallLimits) }
            let result = parseEverySplit(stream, limits: Self.smallLimits, seed: UInt64(round))
            #expect(result.outcomes == expected, "round \(round)")
            #expect(!result.isWithinRequest)
            refusals += expected.filter { if case .error = $0 { true } else { false } }.count
        }
        #expect(refusals > 300)
    }

    @Test func randomBytesNeverCrashAndAgreeAcrossSplits() {
        var random = SplitMix(seed: 12)
        for round in 0..<1500 {
            let stream = (0..<Int.random(in: 0...80, using: &random)).map { _ in Self.randomByte(&random) }
            let limits = round % 2 == 0 ? Self.smallLimits : RESPLimits()
            parseEverySplit(stream, limits: limits, seed: UInt64(round))
        }
    }

    @Test func mutatedStreamsNeverCrashAndAgreeAcrossSplits() {
        var random = SplitMix(seed: 13)
        var errors = 0
        var commands = 0
        for round in 0..<2000 {
            let stream = Self.mutate(Self.validStream(&random).stream, &random)
            let limits = round % 2 == 0 ? Self.smallLimits : RESPLimits()
            let result = parseEverySplit(stream, limits: limits, seed: UInt64(round))
            for outcome in result.outcomes {
                if case .error = outcome { errors += 1 } else { commands += 1 }
            }
        }
        // The mutations must actually reach both the error paths and the success paths.
        #expect(errors > 200)
        #expect(commands > 1000)
    }

    enum ReplyOutcome: Equatable {
        case value(RESPValue)
        case error(RESPError)
    }

    /// Replies and the first error of a stream fed in chunks.
    static func replyOutcomes(_ stream: [UInt8], chunk: Int) -> [ReplyOutcome] {
        var parser = RESPReplyParser()
        var buffer = ByteBuffer()
        var outcomes: [ReplyOutcome] = []
        for start in stride(from: 0, to: stream.count, by: chunk) {
            buffer.writeBytes(stream[start..<min(start + chunk, stream.count)])
            // Each successful call consumes at least one byte.
            for _ in 0...buffer.readableBytes {
                do {
                    guard let value = try parser.next(&buffer) else { break }
                    outcomes.append(.value(value))
                } catch {
                    outcomes.append(.error(error))
                    return outcomes
                }
            }
        }
        return outcomes
    }

    @Test func replyParserSurvivesMutatedRepliesAndAgreesAcrossSplits() {
        var random = SplitMix(seed: 14)
        for round in 0..<1000 {
            var buffer = ByteBuffer()
            for _ in 0..<Int.random(in: 1...3, using: &random) {
                EncoderTests.randomValue(&random, depth: 2).encode(into: &buffer)
            }
            let stream = Self.mutate(Array(buffer.readableBytesView), &random)
            let whole = Self.replyOutcomes(stream, chunk: max(1, stream.count))
            #expect(Self.replyOutcomes(stream, chunk: 1) == whole, "round \(round)")
            #expect(Self.replyOutcomes(stream, chunk: 7) == whole, "round \(round)")
        }
    }
}
