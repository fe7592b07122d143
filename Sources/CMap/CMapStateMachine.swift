import Basics

/// The store as a node runs it: the replicated state plus the node-local change tracking.
/// `apply` is called once per committed entry, in index order, so tracked events come out
/// in commit order, once each.
public struct CMapStateMachine: Sendable {
    public private(set) var state: CMapState
    public var tracker: CMapTracker

    public init(state: CMapState = CMapState(), tracker: CMapTracker = CMapTracker()) {
        self.state = state
        self.tracker = tracker
    }

    /// Applies a committed entry and queues its change on the matching tracks
    /// (`tracker.takeReady()` then names the tracks with events).
    public mutating func apply(
        _ op: CMapOperation, at index: LogIndex, client: ClientID? = nil, requestID: UInt64? = nil
    ) -> CMapResult {
        let applied = state.apply(op, at: index, client: client, requestID: requestID)
        // Checked first: binding the change copies it (a retain and a release of its key and
        // values), for nothing when no track exists.
        if tracker.trackCount > 0, let change = applied.change { tracker.publish(change) }
        return applied.result
    }

    /// Applies a committed write batch (one entry, `CMapCodec.encodeBatch`): each operation in
    /// order at `index`, with the result and the tracked change it would have as an entry of
    /// its own there, so the changes reach the tracks one by one, in order. With a client
    /// and request id the batch is one request: a retry of it (the same request id as the
    /// client's last) returns the recorded results and changes nothing; an older request
    /// id gets `staleRequest` for every operation. The result is `.batch`, one per operation.
    /// Every key the batch changes gets version `index`.
    public mutating func applyBatch(
        _ ops: [CMapOperation], at index: LogIndex, client: ClientID? = nil, requestID: UInt64? = nil
    ) -> CMapResult {
        precondition(index > state.appliedIndex,
                     "CMapStateMachine.applyBatch: index \(index) is not after the applied index \(state.appliedIndex)")
        precondition(!ops.isEmpty, "CMapStateMachine.applyBatch: an empty batch at \(index)")
        if let client, let requestID, let last = state.duplicateRecord(for: client) {
            if requestID == last.requestID, case .batch(let recorded) = last.result, recorded.count == ops.count {
                state.advance(to: index)
                return last.result
            }
            if requestID <= last.requestID {
                state.advance(to: index)
                let stale = CMapError.staleRequest(client: client, requestID: requestID, lastRequestID: last.requestID)
                return .batch(Array(repeating: .error(stale), count: ops.count))
            }
        }
        var results: [CMapResult] = []
        results.reserveCapacity(ops.count)
        // Through a buffer pointer, whose elements are borrowed: iterating the array by value
        // copies each operation (a retain and a release of its key and value per write).
        ops.withUnsafeBufferPointer { buffer in
            for i in buffer.indices {
                var applied = state.applyInBatch(buffer[i], at: index)
                if tracker.trackCount > 0, let change = applied.change { tracker.publish(change) }
                // Swapped out, not copied: appending `applied.result` retained its payload
                // and destroying `applied` released it again, once per write.
                var result = CMapResult.ok
                swap(&result, &applied.result)
                results.append(result)
            }
        }
        let result = CMapResult.batch(results)
        if let client, let requestID {
            state.duplicates.record(DuplicateRecord(requestID: requestID, index: index, result: result), for: client)
        }
        return result
    }

    /// Marks entries up to `index` applied that carry no CMap operation.
    public mutating func advance(to index: LogIndex) { state.advance(to: index) }

    /// An O(1) immutable copy of the state at `state.appliedIndex`, for a snapshot to be
    /// encoded elsewhere while `apply` goes on.
    public func capture() -> CMapState { state }

    /// Replaces the state (a snapshot received during sync). The changes in between cannot be
    /// reported one by one, so every track is dropped with a reason and must be re-created.
    public mutating func replaceState(with newState: CMapState) {
        state = newState
        tracker.dropAll(reason: "the store was replaced by a snapshot at index \(newState.appliedIndex); read it again and track anew")
    }
}
