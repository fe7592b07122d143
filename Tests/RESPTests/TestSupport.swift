import NIOCore
import Testing

@testable import RESP

/// A small seeded generator (SplitMix64) so every random test reproduces from its seed.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}

/// What a parser produced for a stream, in order, comparable across ways of splitting it.
enum Outcome: Equatable, CustomStringConvertible {
    case command([[UInt8]])
    case error(RESPError)

    var description: String {
        switch self {
        case .command(let args): return "command(\(args.map { String(decoding: $0, as: UTF8.self) }))"
        case .error(let error): return "error(\(error))"
        }
    }
}

/// The result of parsing a whole stream: the outcomes and whether the parser was left holding
/// part of a request.
struct StreamResult: Equatable {
    var outcomes: [Outcome]
    var isWithinRequest: Bool
}

func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

func command(_ args: String...) -> Outcome { .command(args.map { Array($0.utf8) }) }

func errorOutcome(_ kind: RESPError.Kind) -> Outcome { .error(RESPError(kind)) }

/// Feeds `stream` to a command parser in chunks whose sizes `chunk` picks (given how many
/// bytes remain), draining the parser after each chunk the way a channel handler does. Stops
/// at the first fatal error. With `discardEvery`, discards read bytes now and then, which a
/// NIO cumulation buffer may do between reads.
func parseStream(
    _ stream: [UInt8], limits: RESPLimits = RESPLimits(), discardReadBytes: Bool = false,
    chunk: (Int) -> Int = { $0 }
) -> StreamResult {
    var parser = RESPCommandParser(limits: limits)
    var buffer = ByteBuffer()
    var outcomes: [Outcome] = []
    var fed = 0
    var reads = 0
    // Each read feeds at least one byte, so there are at most stream.count + 1 drains.
    while reads <= stream.count {
        reads += 1
        // A drain makes at most one call per buffered byte plus the final nil.
        var calls = 0
        let callsMax = buffer.readableBytes + 1
        drain: while calls <= callsMax {
            calls += 1
            do {
                guard let command = try parser.next(&buffer) else { break drain }
                outcomes.append(.command(command.arguments.map { Array($0.readableBytesView) }))
            } catch {
                outcomes.append(.error(error))
                if error.isFatal { return StreamResult(outcomes: outcomes, isWithinRequest: false) }
            }
        }
        if fed == stream.count { break }
        let size = max(1, min(chunk(stream.count - fed), stream.count - fed))
        buffer.writeBytes(stream[fed..<fed + size])
        fed += size
        if discardReadBytes { buffer.discardReadBytes() }
    }
    return StreamResult(outcomes: outcomes, isWithinRequest: parser.isWithinRequest)
}

/// Parses `stream` whole, one byte at a time, and in random chunks (with read bytes
/// discarded between reads), expects the three to agree, and returns the whole-stream result.
@discardableResult
func parseEverySplit(
    _ stream: [UInt8], limits: RESPLimits = RESPLimits(), seed: UInt64 = 1,
    sourceLocation: SourceLocation = #_sourceLocation
) -> StreamResult {
    let whole = parseStream(stream, limits: limits)
    let drip = parseStream(stream, limits: limits) { _ in 1 }
    var random = SplitMix(seed: seed)
    let chunked = parseStream(stream, limits: limits, discardReadBytes: true) { remaining in
        Int.random(in: 1...max(1, min(remaining, 17)), using: &random)
    }
    #expect(drip == whole, "one byte at a time differs", sourceLocation: sourceLocation)
    #expect(chunked == whole, "random chunks differ (seed \(seed))", sourceLocation: sourceLocation)
    return whole
}

/// Encodes commands as RESP arrays of bulk strings, the way client libraries send them.
func encodeCommands(_ commands: [[[UInt8]]]) -> [UInt8] {
    var buffer = ByteBuffer()
    for args in commands {
        RESPCommand(args.map { ByteBuffer(bytes: $0) }).encode(into: &buffer)
    }
    return Array(buffer.readableBytesView)
}

/// Feeds `stream` to a reply parser in chunks and collects the replies; nil on an error.
func parseReplies(_ stream: [UInt8], chunk: (Int) -> Int = { $0 }) throws -> [RESPValue] {
    var parser = RESPReplyParser()
    var buffer = ByteBuffer()
    var values: [RESPValue] = []
    var fed = 0
    var reads = 0
    while reads <= stream.count {
        reads += 1
        var calls = 0
        let callsMax = buffer.readableBytes + 1
        while calls <= callsMax, let value = try parser.next(&buffer) {
            calls += 1
            values.append(value)
        }
        if fed == stream.count { break }
        let size = max(1, min(chunk(stream.count - fed), stream.count - fed))
        buffer.writeBytes(stream[fed..<fed + size])
        fed += size
    }
    #expect(buffer.readableBytes == 0, "reply bytes left unparsed")
    return values
}
