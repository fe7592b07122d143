/// Change tracking (corosync's cmap_track_add): a track follows one key or every key with a
/// prefix, for some of add / delete / modify, and queues one event per matching committed
/// change, in apply order. Tracks are local to a node (a client connection's), not replicated,
/// and not in snapshots.
///
/// Bounded: each track has a queue limit. When a change arrives at a full queue, the track is
/// dropped: the events already queued stay deliverable, followed by one `.dropped` event that
/// says why, and nothing more is queued. Memory per track is at most limit + 1 events.
public struct CMapTracker: Sendable {
    public static let defaultQueueLimit = 10_000

    private var tracks: [TrackID: Track] = [:]
    /// Key tracks by key, so a change is matched in O(tracks of that key + prefix tracks).
    private var keyTracks: [CMapKey: [TrackID]] = [:]
    /// Prefix tracks, sorted by id.
    private var prefixTracks: [TrackID] = []
    /// Tracks that got events since the last `takeReady()`.
    private var ready: Set<TrackID> = []

    public init() {}

    private struct Track: Sendable {
        var filter: CMapTrackFilter
        var queueLimit: Int
        var queue = EventQueue()
        var isDropped = false

        enum Offer { case queued, full(limit: Int), ignored }

        mutating func offer(_ change: CMapChange) -> Offer {
            guard !isDropped, filter.kinds.contains(change.kind) else { return .ignored }
            guard queue.count < queueLimit else { return .full(limit: queueLimit) }
            queue.append(.changed(change))
            return .queued
        }
    }

    public var trackCount: Int { tracks.count }

    /// Starts a track. The id must be new (ids are the caller's, e.g. per connection).
    public mutating func add(_ id: TrackID, filter: CMapTrackFilter, queueLimit: Int = defaultQueueLimit) {
        precondition(tracks[id] == nil, "CMapTracker.add: track \(id) already exists")
        precondition(queueLimit >= 1, "CMapTracker.add: queue limit \(queueLimit) must be at least 1")
        tracks[id] = Track(filter: filter, queueLimit: queueLimit)
        switch filter.target {
        case .key(let key): keyTracks[key, default: []].append(id)
        case .prefix:
            let at = prefixTracks.firstIndex(where: { $0 > id }) ?? prefixTracks.count
            prefixTracks.insert(id, at: at)
        }
    }

    /// Stops a track and forgets its queued events (corosync's cmap_track_delete).
    public mutating func remove(_ id: TrackID) {
        guard let track = tracks.removeValue(forKey: id) else { return }
        ready.remove(id)
        switch track.filter.target {
        case .key(let key):
            keyTracks[key]?.removeAll { $0 == id }
            if keyTracks[key]?.isEmpty == true { keyTracks[key] = nil }
        case .prefix:
            prefixTracks.removeAll { $0 == id }
        }
    }

    /// Drops every track with the reason (e.g. the state was replaced by a snapshot, so
    /// changes in between cannot be reported one by one).
    public mutating func dropAll(reason: String) {
        for id in tracks.keys.sorted() { drop(id, reason: reason) }
    }

    /// Queues the change on every matching track. Call once per committed change, in apply
    /// order (CMapStateMachine does).
    public mutating func publish(_ change: CMapChange) {
        // The common case on a busy node: nothing tracked, so no key is hashed per write.
        guard !tracks.isEmpty else { return }
        var matched: [TrackID] = keyTracks[change.key] ?? []
        for id in prefixTracks {
            if case .prefix(let p) = tracks[id]?.filter.target, change.key.hasPrefix(p) { matched.append(id) }
        }
        for id in matched {
            // Mutated in place through the dictionary, so the queue is never copied.
            switch tracks[id]?.offer(change) {
            case .queued?:
                ready.insert(id)
            case .full(let limit)?:
                drop(id, reason: "track \(id) fell behind: \(limit) events were waiting when the change at index \(change.index) came")
            case .ignored?, nil:
                continue
            }
        }
    }

    private mutating func drop(_ id: TrackID, reason: String) {
        guard tracks[id]?.isDropped == false else { return }
        tracks[id]?.isDropped = true
        tracks[id]?.queue.append(.dropped(reason: reason))
        ready.insert(id)
    }

    /// Up to `max` queued events of the track, oldest first. After its `.dropped` event is
    /// taken, the track is gone.
    public mutating func take(_ id: TrackID, max: Int = .max) -> [CMapTrackEvent] {
        guard var track = tracks[id] else { return [] }
        tracks[id] = nil  // keep the queue uniquely referenced while it is mutated
        let events = track.queue.removeFirst(max)
        if track.isDropped && track.queue.count == 0 {
            tracks[id] = track
            remove(id)
        } else {
            tracks[id] = track
            if track.queue.count == 0 { ready.remove(id) }
        }
        return events
    }

    public func pendingCount(_ id: TrackID) -> Int { tracks[id]?.queue.count ?? 0 }

    public func contains(_ id: TrackID) -> Bool { tracks[id] != nil }

    /// Tracks with events waiting that were not reported by the previous call, in id order.
    public mutating func takeReady() -> [TrackID] {
        let ids = ready.filter { pendingCount($0) > 0 }.sorted()
        ready.removeAll()
        return ids
    }
}

/// A track's identity, chosen by the caller.
public struct TrackID: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var rawValue: UInt64
    public init(_ rawValue: UInt64) { self.rawValue = rawValue }
    public static func < (a: TrackID, b: TrackID) -> Bool { a.rawValue < b.rawValue }
    public var description: String { String(rawValue) }
}

/// What a track follows.
public struct CMapTrackFilter: Equatable, Sendable {
    public enum Target: Equatable, Sendable {
        case key(CMapKey)
        /// Every key starting with the prefix (the empty prefix follows everything).
        case prefix(CMapPrefix)
    }

    public var target: Target
    public var kinds: CMapTrackKinds

    public init(_ target: Target, kinds: CMapTrackKinds = .all) {
        self.target = target
        self.kinds = kinds
    }
}

/// corosync's CMAP_TRACK_DELETE = 1, MODIFY = 2, ADD = 4.
public struct CMapTrackKinds: OptionSet, Sendable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let delete = CMapTrackKinds(rawValue: 1)
    public static let modify = CMapTrackKinds(rawValue: 2)
    public static let add = CMapTrackKinds(rawValue: 4)
    public static let all: CMapTrackKinds = [.add, .delete, .modify]

    /// The flags corosync accepts; unknown bits are refused (CS_ERR_INVALID_PARAM).
    public init?(corosyncFlags: UInt8) {
        guard corosyncFlags & ~0x07 == 0, corosyncFlags != 0 else { return nil }
        self.rawValue = corosyncFlags
    }

    func contains(_ kind: CMapChangeKind) -> Bool { rawValue & kind.rawValue != 0 }
}

/// What a track delivers.
public enum CMapTrackEvent: Equatable, Sendable {
    case changed(CMapChange)
    /// The last event of a track that was dropped, and why.
    case dropped(reason: String)
}

/// A FIFO that does not move its elements on removal (head index, compacted when half used).
struct EventQueue: Sendable {
    private var storage: [CMapTrackEvent] = []
    private var head = 0

    var count: Int { storage.count - head }

    mutating func append(_ e: CMapTrackEvent) { storage.append(e) }

    mutating func removeFirst(_ max: Int) -> [CMapTrackEvent] {
        let n = Swift.min(max, count)
        let out = Array(storage[head..<(head + n)])
        head += n
        if head == storage.count {
            storage.removeAll(keepingCapacity: true)
            head = 0
        } else if head > storage.count / 2 {
            storage.removeFirst(head)
            head = 0
        }
        return out
    }
}
