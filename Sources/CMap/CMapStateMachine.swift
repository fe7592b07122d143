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
        if let change = applied.change { tracker.publish(change) }
        return applied.result
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
