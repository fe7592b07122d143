import NIOCore
import RESP
import Replication

/// Where a member's pushes go when they skip its stream: written by the node's hand-over
/// itself, on the node's loop (docs/cpg.md, "Direct pushes").
///
/// Why: through the stream, a delivery reaches the client as the hand-over's `yield`, a
/// loop task to resume the connection's push task, the task's job (encode and write) and
/// one more job when the write's future completes: ~25 µs of a cold loop per delivery at
/// 100 msgs/s, paid on every node while the next node waits for the CPU. A sink is one call.
protocol ProcessGroupPushSink: AnyObject, Sendable {
    /// The loop the sink is written from (the member's connection's).
    var eventLoop: any EventLoop { get }
    /// Writes `batch` now, on `eventLoop`, or returns false having written nothing (the
    /// connection cannot take it now, or the batch is big enough to be encoded off the
    /// loop): the batch then goes through the stream, and so does what follows.
    /// With `flush` false the write waits for the next flush of the connection (its own
    /// replies', or `flush()`).
    func write(_ batch: [ProcessGroupDelivery], flush: Bool) -> Bool
    func flush()
}

/// A service that can write a member's pushes straight to a sink (the node runtime).
///
/// The hand-over from the stream to the sink keeps the order of the pushes: `attachSink`
/// puts a marker (an empty batch) into the member's stream, and from then on the service
/// keeps what it hands over; the stream's reader writes every batch ahead of the marker,
/// then calls `sinkReady`, and the service writes what it kept, then writes each later
/// batch at once. A batch the sink refuses detaches it: that batch and every later one go
/// through the stream again, until the reader attaches again. When the member's last
/// delivery (its own leave) was written to the sink, the stream gets a second marker and
/// ends: the reader knows it ended normally.
protocol ProcessGroupDirectPushing: Sendable {
    /// Call on the sink's loop. False: not attached (no such member, another loop, or
    /// already attached); no marker was sent.
    func processGroupAttachSink(_ sink: any ProcessGroupPushSink, group: ProcessGroupName,
                                connection: ConnectionID) -> Bool
    /// The reader reached the marker. Call on the sink's loop.
    func processGroupSinkReady(group: ProcessGroupName, connection: ConnectionID)
}

/// A sink that writes to a client connection, as the pub/sub messages the push task writes
/// (ClientServerConnection+Pushes.swift). Used on the connection's loop only.
final class ProcessGroupChannelSink: ProcessGroupPushSink, @unchecked Sendable {
    /// The sink of the push task running now, for the process-group command's stream reader
    /// (CommandCPG.swift): the connection's channel is known only where the task starts.
    @TaskLocal static var current: ProcessGroupChannelSink?

    let channel: any Channel
    let name: ByteBuffer

    init(channel: any Channel, name: ByteBuffer) {
        self.channel = channel
        self.name = name
    }

    var eventLoop: any EventLoop { channel.eventLoop }

    func write(_ batch: [ProcessGroupDelivery], flush: Bool) -> Bool {
        // Not writable: the client reads slower than the group talks; the stream's bounded
        // queue (and the push task awaiting each write) is what takes such a member out.
        guard batch.count <= CommandDispatcher.processGroupPushBatchOffLoop,
              channel.isActive, channel.isWritable else { return false }
        CPGTrace.shared?.record(.pushResumed, UInt64(batch.count))
        var push = channel.allocator.buffer(capacity: 64 &* batch.count &+ 64)
        Self.writePushes(batch, channel: name, into: &push)
        // A failed write reaches the connection's handler (`errorCaught`), which closes it.
        if flush {
            // From a loop task of the node's (hand-over, token arrival) or right after the
            // step that delivered (`ProcessGroupQuietPush`): a writability change may call
            // the handler back, which is fine there (a nested hand-over waits:
            // `handOverProcessGroupDeliveries`; a step the handler causes is queued behind
            // the running one).
            channel.writeAndFlush(push, promise: nil)
        } else {
            // From inside a client's read (`deliverOwnNow`), maybe this connection's own: a
            // writability change would call its handler back in the middle of that read.
            // A writable connection with at most `bytesMax` buffered, plus at most
            // `bytesMax`, stays below NIO's high watermark (64 KiB): no change.
            guard push.readableBytes <= Self.bytesMax,
                  let buffered = try? channel.syncOptions?.getOption(.bufferedWritableBytes),
                  buffered <= Self.bytesMax else { return false }
            channel.write(push, promise: nil)
        }
        CPGTrace.shared?.record(.pushWritten)
        return true
    }

    func flush() { channel.flush() }

    /// Writes `batch` as the pub/sub messages the push task writes (`writeRESPPushMessage`
    /// of `CommandDispatcher.processGroupPushPayloads`), byte for byte; a group message is
    /// written straight into `push`.
    ///
    /// Why: the sink writes on the delivering node's path, between a message's delivery and
    /// the `write` that wakes its member (~100 times a second per member at the latency
    /// bench's rate). The payloads path builds a payload buffer, an array of its ends and
    /// an array of slices, and copies each payload twice: three allocations per push.
    static func writePushes(_ batch: [ProcessGroupDelivery], channel name: ByteBuffer, into push: inout ByteBuffer) {
        for delivery in batch {
            guard case .message(let from, let payload) = delivery.notification else {
                push.writeRESPPushMessage(channel: name,
                                          payload: CommandDispatcher.processGroupPushPayload(delivery.notification))
                continue
            }
            // The bulk string's length first: "message <node>:<connection> <payload>".
            let node = UInt64(from.node.rawValue)
            let connection = from.connection.rawValue
            let length = 8 &+ decimalDigits(node) &+ 1 &+ decimalDigits(connection) &+ 1 &+ payload.count
            push.writeStaticString("*3\r\n$7\r\nmessage\r\n")
            push.writeRESPBulkString(name)
            push.writeInteger(UInt8(ascii: "$"))
            push.writeDecimal(UInt64(length))
            push.writeStaticString("\r\n")
            push.writeProcessGroupMessageText(from: from, payload: payload)
            push.writeStaticString("\r\n")
        }
    }

    /// How many digits `writeDecimal` writes for `value`.
    static func decimalDigits(_ value: UInt64) -> Int {
        var digits = 1
        var rest = value
        while rest >= 10 {
            rest /= 10
            digits &+= 1
        }
        return digits
    }

    /// For an unflushed write: what may be buffered before it, and the largest push; each
    /// below half of NIO's default high watermark (64 KiB), which the client server keeps.
    static let bytesMax = 16 * 1024
}
