import Basics
import NIOCore
import Quorum
import Replication
import TotemConfig

/// Identifies one QUORUM.TRACK subscription on a node.
public struct QuorumTrackID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt64
    public init(_ rawValue: UInt64) { self.rawValue = rawValue }
    public static func < (a: QuorumTrackID, b: QuorumTrackID) -> Bool { a.rawValue < b.rawValue }
    public var description: String { "q\(rawValue)" }
}

extension NodeService {
    /// votequorum_setexpected: checked on this node, committed, applied everywhere.
    public func setExpectedVotes(_ expected: Votes) async -> ReplicatedNode.ClientReply {
        await execute(.reconfigure(.expectedVotes(expected)))
    }

    /// votequorum_setvotes (node 0: this node).
    public func setVotes(_ votes: Votes, for node: NodeID) async -> ReplicatedNode.ClientReply {
        await execute(.reconfigure(.nodeVotes(node, votes)))
    }
}

extension NodeRuntimeConfiguration {
    /// The flags votequorum runs with, after corosync's start-up rules, and the configured
    /// expected votes. Throws corosync's fatal configuration errors.
    func resolvedQuorumOptions() throws -> (options: EffectiveQuorumOptions, expectedVotes: Votes?) {
        let expected = quorum.expectedVotes.map { Votes($0) }
        let configured = try VoterConfiguration(
            voters: voters.map { VoterConfiguration.Voter($0.0, votes: Votes($0.1)) }, expectedVotes: expected)
        let tieBreaker: TieBreakerRule = switch quorum.autoTieBreakerNode {
        case .lowest: .lowest
        case .highest: .highest
        case .list(let ids): .list(ids.map { NodeID($0) })
        }
        let options = QuorumOptions(
            twoNode: quorum.twoNode, waitForAll: quorum.waitForAll, lastManStanding: quorum.lastManStanding,
            lastManStandingWindow: Milliseconds(quorum.lastManStandingWindow),
            autoTieBreaker: quorum.autoTieBreaker, autoTieBreakerNode: tieBreaker,
            allowDownscale: quorum.allowDownscale)
        do {
            return (try options.resolved(for: configured), expected)
        } catch {
            throw RuntimeStartError(error.description)
        }
    }
}

@available(macOS 15, *)
extension NodeRuntime {
    public func quorumInfo(_ node: NodeID) async -> QuorumInfo? {
        try? await eventLoop.submit { self.core.quorumService.info(node) }.get() ?? nil
    }

    public func quorumTrack(current: Bool) async -> (QuorumTrackID, AsyncStream<QuorumNotification>) {
        let (stream, continuation) = AsyncStream<QuorumNotification>.makeStream(bufferingPolicy: .bufferingNewest(Self.quorumPushesBuffered))
        let id: QuorumTrackID = (try? await eventLoop.submit {
            let id = QuorumTrackID(self.nextTrack)
            self.nextTrack &+= 1
            guard !self.isStopped else {
                continuation.finish()
                return id
            }
            // CS_TRACK_CHANGES: the current state first, then every change; CHANGES_ONLY: the changes.
            if current, let state = self.core.quorumService.state?.quorumNotification { continuation.yield(state) }
            self.quorumStreams[id] = continuation
            return id
        }.get()) ?? QuorumTrackID(0)
        continuation.onTermination = { _ in
            Task { await self.quorumUntrack(id) }
        }
        return (id, stream)
    }

    public func quorumUntrack(_ id: QuorumTrackID) async {
        try? await eventLoop.submit {
            self.quorumStreams.removeValue(forKey: id)?.finish()
        }.get()
    }

    /// A slow subscriber keeps the newest states: each push is a whole state, so the last
    /// one is what matters.
    static let quorumPushesBuffered = 64

    func publishQuorum(_ notification: QuorumNotification) {
        for id in quorumStreams.keys.sorted() { quorumStreams[id]?.yield(notification) }
    }

    func finishQuorumStreams() {
        let streams = quorumStreams.sorted { $0.key < $1.key }
        quorumStreams = [:]
        for (_, stream) in streams { stream.finish() }
    }
}
