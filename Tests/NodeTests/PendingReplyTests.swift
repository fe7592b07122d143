import NIOConcurrencyHelpers
import Node
import Replication
import Testing

@Suite("PendingReply: callbacks and awaiting")
struct PendingReplyTests {
    @Test func aCallbackGivenBeforeTheReplyGetsItOnce() {
        let seen = NIOLockedValueBox<[ReplicatedNode.ClientReply]>([])
        let pending = PendingReply()
        pending.whenComplete { reply in seen.withLockedValue { $0.append(reply) } }
        #expect(seen.withLockedValue { $0 }.isEmpty)
        pending.resume(returning: .failure(.noQuorum))
        pending.resume(returning: .failure(.unknownOutcome))
        #expect(seen.withLockedValue { $0 } == [.failure(.noQuorum)])
        #expect(pending.isComplete)
    }

    @Test func aCallbackGivenAfterTheReplyGetsItAtOnce() {
        let seen = NIOLockedValueBox<[ReplicatedNode.ClientReply]>([])
        let pending = PendingReply()
        pending.resume(returning: .failure(.unknownOutcome))
        pending.whenComplete { reply in seen.withLockedValue { $0.append(reply) } }
        #expect(seen.withLockedValue { $0 } == [.failure(.unknownOutcome)])
    }

    @Test func aReplyMadeWithACallbackCallsIt() {
        let seen = NIOLockedValueBox<[ReplicatedNode.ClientReply]>([])
        let pending = PendingReply { reply in seen.withLockedValue { $0.append(reply) } }
        #expect(!pending.isComplete)
        pending.resume(returning: .failure(.noQuorum))
        #expect(seen.withLockedValue { $0 } == [.failure(.noQuorum)])
    }

    @Test func anAwaitedReplyStillArrives() async {
        let pending = PendingReply()
        let waiter = Task { await pending.value }
        pending.resume(returning: .failure(.noQuorum))
        #expect(await waiter.value == .failure(.noQuorum))
    }
}
