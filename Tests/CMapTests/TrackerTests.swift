import Basics
import Testing
@testable import CMap

@Suite struct TrackerTests {
    func change(_ kind: CMapChangeKind, _ key: String, _ index: UInt64) -> CMapChange {
        CMapChange(kind: kind, key: CMapKey(key), oldValue: nil, newValue: nil, index: LogIndex(index))
    }

    @Test func eventsComeInApplyOrderOnceWithOldAndNewValues() {
        var m = CMapStateMachine()
        m.tracker.add(TrackID(1), filter: CMapTrackFilter(.prefix(CMapPrefix("a."))))
        m.tracker.add(TrackID(2), filter: CMapTrackFilter(.key(CMapKey("a.x"))))
        let k = CMapKey("a.x")
        _ = m.apply(.set(k, .uint8(1)), at: LogIndex(1))
        _ = m.apply(.set(k, .uint8(1)), at: LogIndex(2))  // identical: no event
        _ = m.apply(.adjust(k, by: 1), at: LogIndex(3))
        _ = m.apply(.set(CMapKey("b.x"), .uint8(1)), at: LogIndex(4))  // not tracked
        _ = m.apply(.delete(k), at: LogIndex(5))
        _ = m.apply(.delete(k), at: LogIndex(6))  // not found: no event
        _ = m.apply(.set(CMapKey("a.y"), .string("v")), at: LogIndex(7))
        #expect(m.tracker.takeReady() == [TrackID(1), TrackID(2)])
        let expected: [CMapTrackEvent] = [
            .changed(CMapChange(kind: .added, key: k, oldValue: nil, newValue: .uint8(1), index: LogIndex(1))),
            .changed(CMapChange(kind: .modified, key: k, oldValue: .uint8(1), newValue: .uint8(2), index: LogIndex(3))),
            .changed(CMapChange(kind: .deleted, key: k, oldValue: .uint8(2), newValue: nil, index: LogIndex(5))),
        ]
        #expect(m.tracker.take(TrackID(2)) == expected)
        #expect(m.tracker.take(TrackID(1), max: 2) == Array(expected.prefix(2)))
        #expect(m.tracker.take(TrackID(1)) == [expected[2], .changed(CMapChange(kind: .added, key: CMapKey("a.y"), oldValue: nil, newValue: .string("v"), index: LogIndex(7)))])
        // Exactly once: nothing is delivered twice, and a retried request adds nothing.
        #expect(m.tracker.take(TrackID(1)).isEmpty && m.tracker.take(TrackID(2)).isEmpty)
        _ = m.apply(.set(k, .uint8(5)), at: LogIndex(8), client: ClientID(1), requestID: 1)
        _ = m.apply(.set(k, .uint8(5)), at: LogIndex(9), client: ClientID(1), requestID: 1)
        #expect(m.tracker.take(TrackID(2)).count == 1)
        #expect(m.tracker.takeReady() == [TrackID(1)])
    }

    @Test func kindFiltersAndTheEmptyPrefix() {
        var t = CMapTracker()
        t.add(TrackID(1), filter: CMapTrackFilter(.prefix(.all), kinds: [.add]))
        t.add(TrackID(2), filter: CMapTrackFilter(.prefix(.all), kinds: [.delete, .modify]))
        t.add(TrackID(3), filter: CMapTrackFilter(.key(CMapKey("x.y")), kinds: .modify))
        t.add(TrackID(4), filter: CMapTrackFilter(.prefix(CMapPrefix("x.y.")), kinds: .all))
        for c in [change(.added, "x.y", 1), change(.modified, "x.y", 2), change(.deleted, "x.y", 3), change(.added, "x.y.z", 4)] {
            t.publish(c)
        }
        func indexes(_ id: UInt64) -> [UInt64] {
            t.take(TrackID(id)).compactMap { if case .changed(let c) = $0 { c.index.rawValue } else { nil } }
        }
        #expect(indexes(1) == [1, 4])
        #expect(indexes(2) == [2, 3])
        #expect(indexes(3) == [2])
        #expect(indexes(4) == [4])
        #expect(CMapTrackKinds(corosyncFlags: 8) == nil && CMapTrackKinds(corosyncFlags: 0) == nil)
        #expect(CMapTrackKinds(corosyncFlags: 5) == [.add, .delete])
    }

    @Test func aSlowTrackIsDroppedWithAReasonAndMemoryStaysBounded() {
        var t = CMapTracker()
        t.add(TrackID(1), filter: CMapTrackFilter(.prefix(.all)), queueLimit: 3)
        t.add(TrackID(2), filter: CMapTrackFilter(.prefix(.all)), queueLimit: 100)
        for i in UInt64(1)...10 { t.publish(change(.added, "k", i)) }
        #expect(t.pendingCount(TrackID(1)) == 4)
        let events = t.take(TrackID(1), max: 10)
        #expect(events.count == 4)
        #expect(Array(events.prefix(3)) == (1...3).map { .changed(change(.added, "k", UInt64($0))) })
        guard case .dropped(let reason) = events.last else { Issue.record("no dropped event"); return }
        #expect(reason.contains("fell behind") && reason.contains("index 4"))
        // The dropped track is gone; the other one got everything.
        #expect(!t.contains(TrackID(1)))
        #expect(t.take(TrackID(2)).count == 10)
        // A consumer that keeps up is never dropped.
        for i in UInt64(11)...1000 {
            t.publish(change(.added, "k", i))
            #expect(t.take(TrackID(2)).count == 1)
        }
        #expect(t.contains(TrackID(2)))
    }

    @Test func removeAndReplaceState() {
        var m = CMapStateMachine()
        m.tracker.add(TrackID(1), filter: CMapTrackFilter(.key(CMapKey("k"))))
        m.tracker.add(TrackID(2), filter: CMapTrackFilter(.key(CMapKey("k"))))
        _ = m.apply(.set(CMapKey("k"), .uint8(1)), at: LogIndex(1))
        m.tracker.remove(TrackID(1))
        #expect(m.tracker.take(TrackID(1)).isEmpty && m.tracker.trackCount == 1)
        m.replaceState(with: CMapState())
        let events = m.tracker.take(TrackID(2))
        #expect(events.count == 2)
        if case .dropped(let reason) = events.last { #expect(reason.contains("snapshot")) } else { Issue.record("not dropped") }
        #expect(m.tracker.trackCount == 0)
    }
}
