import Basics

/// An opaque handle for a client request, chosen by the shell; the core hands it back in
/// the action that answers the request.
public struct ClientToken: Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt64
    public init(_ rawValue: UInt64) { self.rawValue = rawValue }
    public var description: String { "c\(rawValue)" }
}

/// Why a request was answered without a result. The wording matters to clients: only
/// `.noQuorum` and `.notWritten` promise that nothing was written.
public enum RequestFailure: Hashable, Sendable {
    /// Refused at once: this node is not in a quorate, synced configuration. Nothing written.
    case noQuorum
    /// Ordered in a later ring than the one it was submitted in: every node that delivered
    /// it dropped it. Nothing written.
    case notWritten
    /// Timed out: the write may or may not have happened.
    case unknownOutcome
    /// A linearizable read could not be confirmed in time; nothing changed, retry.
    case readNotConfirmed
}

public enum ConfigurationKind: Hashable, Sendable { case transitional, regular }

/// One message of a `deliveredBatch`.
public struct DeliveredMessage: Hashable, Sendable {
    public var originator: NodeID
    /// Usually a slice of the Totem frame that carried it (`Delivery.bytes`): not copied.
    public var payload: ArraySlice<UInt8>
    public init(originator: NodeID, payload: ArraySlice<UInt8>) {
        self.originator = originator
        self.payload = payload
    }
    public init(originator: NodeID, payload: [UInt8]) {
        self.init(originator: originator, payload: payload[...])
    }
}

/// Events the shell feeds the replica, in the order they happened (past tense).
public enum ReplicaEvent: Hashable, Sendable {
    /// Totem delivered a configuration change. The epoch of a regular one is its ring seq.
    case configurationChanged(ConfigurationKind, ringID: RingID, members: [NodeID], at: Instant)
    /// Totem delivered a message in agreed order.
    /// The payload is usually a slice of the Totem frame that carried it (not copied).
    case delivered(originator: NodeID, payload: ArraySlice<UInt8>, at: Instant)
    /// Totem delivered these messages one after the other, in agreed order: the same as that
    /// many `.delivered` events, in one step (the shell groups the deliveries of one Totem
    /// step, so the replica appends them as one batch).
    case deliveredBatch([DeliveredMessage], at: Instant)
    /// A point-to-point message arrived from a peer.
    case peerMessageReceived(from: NodeID, PeerMessage, at: Instant)
    /// Everything appended up to this index is on disk (group commit finished).
    case appendDurable(through: LogIndex, at: Instant)
    /// A client asked for a write of `op` (an encoded state-machine operation).
    case writeRequested(ClientToken, clientID: UInt64, clientSeq: UInt64, op: [UInt8], at: Instant)
    /// A client asked for a linearizable read.
    case readRequested(ClientToken, at: Instant)
    case tickFired(generation: UInt64, at: Instant)
    /// The source sent a snapshot (already decoded and verified by the shell) because it
    /// compacted its log past what this member asked for.
    case snapshotOffered(from: NodeID, epoch: Epoch, index: LogIndex, snapshotEpoch: Epoch, at: Instant)
    /// Totem refused a payload of a `.broadcast` (its send queue was full): nothing of it
    /// was sent.
    case broadcastRefused([UInt8], at: Instant)
}

/// Actions the shell performs, in the order given (imperative). Ordering rules the shell
/// must keep: `truncate` and `append` are performed in order; `persistNormalEpoch` is
/// durable before any later `send` is performed (an ack must never precede the record of
/// the epoch it is for).
public enum ReplicaAction: Hashable, Sendable {
    /// Submit to Totem for ordered delivery to every member.
    case broadcast([UInt8])
    case send(PeerMessage, to: NodeID)
    /// Append to the log (buffered); report `appendDurable` after the covering fsync.
    case append([Entry])
    /// Remove every entry above `after`, durably, before later appends.
    case truncate(after: LogIndex)
    /// Write the meta file (normal epoch and known commit index) durably, now.
    case persistNormalEpoch(Epoch, commitIndex: LogIndex)
    /// Apply a committed entry to the state machine, in index order; when `reply` is set,
    /// answer that client with the result.
    case apply(Entry, reply: ClientToken?)
    /// These linearizable reads may now be answered from local state.
    case answerReads([ClientToken])
    case fail(ClientToken, RequestFailure)
    /// Read entries `from...through` of the local log and send them to `peer` as
    /// `.entries(epoch:)` (or a snapshot, when compacted past `from`).
    case serveFetch(to: NodeID, epoch: Epoch, from: LogIndex, through: LogIndex)
    case startTick(generation: UInt64, after: Milliseconds)
    /// Replace the state machine with the offered snapshot, store the snapshot durably, and
    /// reset the log so that it starts after `index` (removing every entry), before any later
    /// append.
    case installSnapshot(index: LogIndex, epoch: Epoch)
}
