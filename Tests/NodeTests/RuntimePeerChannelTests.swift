import Basics
import NIOCore
import NIOPosix
import Replication
import Synchronization
import Testing
@testable import Node

/// The peer channel over real TCP on 127.0.0.1: messages arrive, a corrupt frame is counted
/// and closes its connection, and the sender reconnects after its peer comes back.
@Suite struct RuntimePeerChannelTests {
    final class Inbox: Sendable {
        let messages = Mutex<[(NodeID, PeerMessage)]>([])
        var receiver: PeerChannel.Receiver { { from, message in self.messages.withLock { $0.append((from, message)) } } }
        var count: Int { messages.withLock { $0.count } }
    }

    /// Sends `message` from `sender` every 20 ms until `inbox` has more than `before` messages
    /// (the first sends only start the connection), at most 200 times.
    func deliver(_ message: PeerMessage, from sender: PeerChannel, to peer: NodeID, inbox: Inbox, before: Int) async throws -> Bool {
        for _ in 0..<200 {
            try await sender.eventLoop.submit { sender.send(message, to: peer) }.get()
            if inbox.count > before { return true }
            try await Task.sleep(for: .milliseconds(20))
        }
        return false
    }

    /// Node 2's channel (`sender`) knowing node 1's (`receiver`, delivering into `inbox`), on
    /// one loop; both closed after `body`.
    func withPair(_ body: (_ loop: any EventLoop, _ inbox: Inbox, _ receiver: PeerChannel, _ sender: PeerChannel) async throws -> Void) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let inbox = Inbox()
        let receiver = try await PeerChannel.bind(host: "127.0.0.1", port: 0, localNodeID: NodeID(1), on: loop,
                                                  receiver: inbox.receiver)
        let sender = try await PeerChannel.bind(host: "127.0.0.1", port: 0, localNodeID: NodeID(2), on: loop) { _, _ in }
        try await loop.submit { sender.setPeers([NodeID(1): receiver.localAddress]) }.get()
        do { try await body(loop, inbox, receiver, sender) } catch { Issue.record("\(error)") }
        await sender.close()
        await receiver.close()
        try await group.shutdownGracefully()
    }

    @Test(.timeLimit(.minutes(1))) func deliversMessagesAndRejectsCorruptFrames() async throws {
        try await withPair { loop, inbox, receiver, sender in
            let ack = PeerMessage.ack(epoch: Epoch(3), durableIndex: LogIndex(7), barrierID: 9)
            #expect(try await deliver(ack, from: sender, to: NodeID(1), inbox: inbox, before: 0))
            let first = inbox.messages.withLock { $0.first }
            #expect(first?.0 == NodeID(2))
            #expect(first?.1 == ack)

            // A frame whose checksum does not match: counted, its connection closed, nothing delivered.
            let raw = try await ClientBootstrap(group: loop).connect(to: receiver.localAddress).get()
            var buffer = raw.allocator.buffer(capacity: 32)
            #expect(PeerFrame.write(ack.encoded(), from: NodeID(5), into: &buffer))
            buffer.setInteger(UInt32(0xDEAD_BEEF), at: buffer.readerIndex + 4)
            let delivered = inbox.count
            try await raw.writeAndFlush(buffer)
            try await raw.closeFuture.get()  // the receiver closes it
            #expect(try await loop.submit { receiver.counters.rejected }.get() == 1)
            #expect(inbox.count == delivered)

            // A frame longer than the cap is refused from its header alone.
            let big = try await ClientBootstrap(group: loop).connect(to: receiver.localAddress).get()
            var header = big.allocator.buffer(capacity: 12)
            header.writeInteger(UInt32(PeerFrame.payloadBytesMax + 1))
            header.writeInteger(UInt32(0))
            header.writeInteger(UInt32(5))
            try await big.writeAndFlush(header)
            try await big.closeFuture.get()
            #expect(try await loop.submit { receiver.counters.rejected }.get() == 2)
        }
    }

    /// Messages sent to a peer during one turn of the loop leave in one flush, in order.
    @Test(.timeLimit(.minutes(1))) func sendsOfOneLoopTurnShareOneFlush() async throws {
        try await withPair { loop, inbox, receiver, sender in
            let first = PeerMessage.ack(epoch: Epoch(3), durableIndex: LogIndex(1), barrierID: 0)
            #expect(try await deliver(first, from: sender, to: NodeID(1), inbox: inbox, before: 0))
            let before = try await loop.submit { (sender.counters.sent, sender.counters.flushes) }.get()

            let acks = (2...6).map { PeerMessage.ack(epoch: Epoch(3), durableIndex: LogIndex(UInt64($0)), barrierID: 0) }
            try await loop.submit { for ack in acks { sender.send(ack, to: NodeID(1)) } }.get()
            // The flush runs after the submitted block, on the same loop: once it has, every
            // message is on its way.
            let after = try await loop.submit { (sender.counters.sent, sender.counters.flushes) }.get()
            #expect(after.0 - before.0 == 5)
            #expect(after.1 - before.1 == 1)
            // TCP keeps their order on the one connection: wait for the last one.
            for _ in 0..<200 where inbox.messages.withLock({ $0.last?.1 }) != acks.last {
                try await Task.sleep(for: .milliseconds(10))
            }
            let tail = inbox.messages.withLock { Array($0.suffix(5)).map(\.1) }
            #expect(tail == acks)
        }
    }
}

