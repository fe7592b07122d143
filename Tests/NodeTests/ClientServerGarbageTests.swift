import Basics
import NIOCore
import Node
import RESP
import Testing

@Suite("Client server: garbage input")
struct ClientServerGarbageTests {
    /// Random and mutated request streams, each on its own connection: the server never
    /// crashes, answers every complete request it can frame, and keeps serving others.
    @Test(arguments: [UInt64(1), 2, 3])
    func randomAndMutatedStreamsLeaveTheServerServing(seed: UInt64) async throws {
        var random = SeededGenerator(seed: seed)
        try await ClientServerFixture.run { fixture throws in
            for round in 0..<40 {
                var stream = ByteBuffer()
                RESPCommand(strings: ["SET", "k\(round)", "v"]).encode(into: &stream)
                RESPCommand(strings: ["GET", "k\(round)"]).encode(into: &stream)
                stream.writeString("PING\r\n")
                var bytes = Array(stream.readableBytesView)
                if round % 2 == 0 {
                    // Mutate a few bytes of a valid stream.
                    for _ in 0..<Int.random(in: 1...4, using: &random) {
                        bytes[Int.random(in: 0..<bytes.count, using: &random)] = UInt8.random(in: 0...255, using: &random)
                    }
                } else {
                    bytes = (0..<Int.random(in: 1...200, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }
                }
                try await fixture.client { client throws in
                    try await client.sendRaw(ByteBuffer(bytes: bytes))
                    // Replies are not read: a mutated length may leave the server waiting for
                    // bytes that never come. The client closes; the server must survive that.
                    // A stream the server cannot resynchronise it closes, possibly before
                    // this second write: then the write finds the channel closed.
                    do {
                        try await client.sendRaw("\r\n*1\r\n$4\r\nPING\r\n")
                    } catch ChannelError.ioOnClosedChannel {}
                }
            }
            try await fixture.client { client throws in
                #expect(try await client.call(["PING"]) == .simpleString("PONG"))
                #expect(try await client.call(["SET", "after", "1"]) == .ok)
                #expect(try await client.call(["GET", "after"]) == .bulk("1"))
            }
        }
    }
}
