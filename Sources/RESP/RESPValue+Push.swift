import NIOCore

/// Pub/sub replies in their RESP2 shape, used for `SUBSCRIBE`-style pushes and for
/// `CMAP.TRACK` events: a client in subscribed mode reads arrays whose first element names
/// the kind. This is the shape redis-cli and client libraries already understand.
extension RESPValue {
    /// The confirmation kinds, each answered with `[kind, channel, subscriptionCount]`.
    public enum SubscriptionKind: String, Sendable {
        case subscribe, unsubscribe, psubscribe, punsubscribe
    }

    /// `["message", channel, payload]`: an event delivered to a subscriber.
    public static func pushMessage(channel: ByteBuffer, payload: ByteBuffer) -> RESPValue {
        .array([.bulk("message"), .bulkString(channel), .bulkString(payload)])
    }

    /// `["pmessage", pattern, channel, payload]`: an event delivered through a pattern
    /// subscription.
    public static func pushPatternMessage(pattern: ByteBuffer, channel: ByteBuffer, payload: ByteBuffer) -> RESPValue {
        .array([.bulk("pmessage"), .bulkString(pattern), .bulkString(channel), .bulkString(payload)])
    }

    /// `[kind, channel, count]`: the reply to (un)subscribing, where `count` is the number of
    /// subscriptions the connection holds afterwards. `channel` is nil (a null bulk string)
    /// for an unsubscribe with nothing to unsubscribe from, as in Redis.
    public static func subscription(_ kind: SubscriptionKind, channel: ByteBuffer?, count: Int) -> RESPValue {
        .array([.bulk(kind.rawValue), channel.map { .bulkString($0) } ?? .nullBulkString, .integer(Int64(count))])
    }
}

extension ByteBuffer {
    /// Writes `["message", channel, payload]` without building a `RESPValue`.
    public mutating func writeRESPPushMessage(channel: ByteBuffer, payload: ByteBuffer) {
        writeStaticString("*3\r\n$7\r\nmessage\r\n")
        writeRESPBulkString(channel)
        writeRESPBulkString(payload)
    }
}
