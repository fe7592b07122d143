import CMap
import Replication

/// What the server remembers about one client connection. A value owned by the connection's
/// task: commands that change it (AUTH, READMODE, CLIENT SETNAME, CMAP.TRACK, SCAN) run in
/// request order, so a pipelined `READMODE stale` applies to the reads after it.
struct Session: Sendable {
    /// CLIENT ID: the connection's number on this server (1, 2, ...), as Redis numbers them.
    let connectionNumber: UInt64
    /// The id the duplicate-request table knows this connection by: random, never 0, so two
    /// connections (on this or another node, before or after a restart) do not collide.
    let clientID: UInt64
    /// The request number of the last write sent; each write takes the next one.
    private(set) var lastClientSeq: UInt64 = 0
    var name: String = ""
    var isAuthenticated: Bool
    var readMode: ReplicatedNode.ReadMode = .linearizable
    /// Active tracks, in the order they were added, with the channel their pushes name.
    var tracks: [(id: TrackID, channel: String)] = []
    /// The QUORUM.TRACK subscription, if any (one per connection, as corosync allows one
    /// trackstart per handle).
    var quorumTrack: QuorumTrackID?
    /// SCAN cursors handed out on this connection (see `ScanCursors`).
    var scanCursors = ScanCursors()
    /// Process groups this connection joined, in order (CommandCPG.swift).
    var processGroups: [ProcessGroupName] = []

    init(connectionNumber: UInt64, clientID: UInt64, isAuthenticated: Bool) {
        self.connectionNumber = connectionNumber
        self.clientID = clientID == 0 ? 1 : clientID
        self.isAuthenticated = isAuthenticated
    }

    /// The request number for the next write (strictly increasing per connection).
    mutating func nextClientSeq() -> UInt64 {
        lastClientSeq &+= 1
        return lastClientSeq
    }
}

/// Redis clients (redis-cli --scan, redis-py's scan_iter) parse the SCAN cursor as an
/// unsigned integer, but the store pages by key. So a cursor is a small number standing for
/// "continue after this key with this prefix", remembered per connection. Bounded: the
/// oldest cursors are forgotten (a client holding one gets an `invalid cursor` error).
struct ScanCursors: Sendable {
    static let limit = 64
    private var entries: [(cursor: UInt64, prefix: CMapPrefix, after: CMapKey)] = []
    private var lastCursor: UInt64 = 0

    /// A new cursor; never 0, which means "start" and "done".
    mutating func remember(prefix: CMapPrefix, after key: CMapKey) -> UInt64 {
        lastCursor &+= 1
        if lastCursor == 0 { lastCursor = 1 }
        if entries.count >= Self.limit { entries.removeFirst() }
        entries.append((lastCursor, prefix, key))
        return lastCursor
    }

    /// The position a cursor stands for; it is used up.
    mutating func take(_ cursor: UInt64) -> (prefix: CMapPrefix, after: CMapKey)? {
        guard let at = entries.firstIndex(where: { $0.cursor == cursor }) else { return nil }
        let entry = entries.remove(at: at)
        return (entry.prefix, entry.after)
    }
}
