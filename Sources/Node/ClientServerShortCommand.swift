import NIOCore
import RESP
import Replication

/// The commands clients send most, taken by a connection without building a
/// `PreparedCommand` (its closures and arrays) for each: a linearizable `GET key` and a
/// plain `SET key value` (`ClientConnectionHandler.classify`). Anything unusual (a bad
/// key, other arguments, a value too large, stale reads) takes the general way.
enum ShortCommand: Sendable {
    case get, set

    /// The reply shapes of the prepared GET and SET (CommandPrepared.swift), a GET's value
    /// written straight from the stored bytes.
    func encode(_ answer: ReplicatedNode.ClientReply, into buffer: inout ByteBuffer) {
        switch (self, answer) {
        case (.get, .result(.value(let value, _), _)):
            buffer.writeRESPBulkString(value.textBytes)
        case (.get, .result(.notFound, _)):
            buffer.writeRESPNullBulkString()
        default:
            switch PreparedCommand.outcome(answer) {
            case .failure(let error): error.encode(into: &buffer)
            case .success where self == .set: buffer.writeRESPOK()
            case .success(let result): PreparedCommand.unexpected(result, "GET").encode(into: &buffer)
            }
        }
    }
}
