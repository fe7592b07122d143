import NIOConcurrencyHelpers
import Replication

/// The fake as a `PipelinedNodeService`, with the controls tests use to see pipelining.
///
/// `submit` appends to an inbox under a lock, in call order, and asks the actor to take
/// the inbox; the actor takes everything queued so far, in order, so the fake runs requests
/// in submission order whatever order its tasks run in. Like the real node, a stale read is
/// answered from the state when the fake takes it, even while earlier writes are held;
/// writes and linearizable reads are "ordered" and may be held.
extension FakeNodeService: PipelinedNodeService {
    public nonisolated func submit(_ request: ReplicatedNode.ClientRequest) -> PendingReply {
        let pending = PendingReply()
        inbox.withLockedValue { $0.append((request, pending)) }
        submissions.withLockedValue { $0 += 1 }
        Task { await self.takeInbox() }
        return pending
    }

    private func takeInbox() {
        let taken = inbox.withLockedValue { queued in
            defer { queued.removeAll(keepingCapacity: true) }
            return queued
        }
        var round = 0
        for (request, pending) in taken {
            if case .read(_, .stale) = request {
                pending.resume(returning: run(request))
            } else if isHolding {
                held.append((request, pending))
            } else {
                pending.resume(returning: run(request))
                round += 1
            }
        }
        countRound(round)
        let ready = heldWaiters.filter { $0.count <= held.count }
        heldWaiters.removeAll { $0.count <= held.count }
        for waiter in ready { waiter.continuation.resume(returning: true) }
    }

    private func countRound(_ size: Int) {
        guard size > 0 else { return }
        rounds += 1
        largestRound = max(largestRound, size)
    }

    /// From now on, writes and linearizable reads wait until `releaseHeld`.
    public func holdOrderedRequests() { isHolding = true }

    /// The number of requests held now.
    public var heldCount: Int { held.count }

    /// Requests submitted so far (held, taken or not yet taken).
    public nonisolated var submittedCount: Int { submissions.withLockedValue { $0 } }

    /// Returns true once at least `count` requests are held, false if `releaseHeld` came
    /// first.
    public func waitUntilHeld(_ count: Int) async -> Bool {
        guard held.count < count else { return true }
        return await withCheckedContinuation { heldWaiters.append((count, $0)) }
    }

    /// Runs every held request, in order, as one round, and stops holding.
    public func releaseHeld() {
        isHolding = false
        let released = held
        held = []
        for (request, pending) in released { pending.resume(returning: run(request)) }
        countRound(released.count)
        let waiters = heldWaiters
        heldWaiters = []
        for waiter in waiters { waiter.continuation.resume(returning: false) }
    }
}
