import Basics
import Foundation
import Testing
@testable import CMap

@Suite struct SnapshotStoreTests {
    /// A fresh directory per test (removed at the end).
    func withDirectory(_ name: String, _ body: (String) throws -> Void) throws {
        let dir = NSTemporaryDirectory() + "cmap-store-\(ProcessInfo.processInfo.processIdentifier)-\(name)"
        try? FileManager.default.removeItem(atPath: dir)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try body(dir)
    }

    func state(_ n: Int, at index: UInt64) -> CMapState {
        var s = CMapState()
        for i in 0..<n {
            _ = s.apply(.set(CMapKey("k.\(i)"), .uint64(UInt64(i))), at: LogIndex(index - UInt64(n - i)))
        }
        _ = s.apply(.get(CMapKey("k.0")), at: LogIndex(index))
        return s
    }

    @Test func saveListLoadAndRemove() throws {
        try withDirectory("basic") { dir in
            let store = try SnapshotStore(directory: dir)
            #expect(try store.list().isEmpty)
            #expect(try store.loadNewest().loaded == nil)
            var states: [UInt64: CMapState] = [:]
            for index in [UInt64(100), 300, 200] {
                let s = state(Int(index / 10), at: index)
                states[index] = s
                let file = try store.save(CMapSnapshot.encode(s, epoch: Epoch(1), voters: []), index: LogIndex(index))
                #expect(file.path.hasSuffix("snapshot-00000000000000000\(index).tkvs"))
            }
            // A leftover temporary file and a foreign file are ignored.
            #expect(FileManager.default.createFile(atPath: dir + "/snapshot-00000000000000000400.tkvs.tmp", contents: Data([1, 2])))
            #expect(FileManager.default.createFile(atPath: dir + "/notes.txt", contents: Data([1])))
            #expect(try store.list().map(\.index.rawValue) == [300, 200, 100])
            let (loaded, rejected) = try store.loadNewest()
            #expect(rejected.isEmpty)
            #expect(loaded?.state == states[300] && loaded?.header.index == LogIndex(300))
            let removed = try store.removeOld(below: LogIndex(300), keeping: 2)
            #expect(removed.map(\.index.rawValue) == [100])
            #expect(try store.list().map(\.index.rawValue) == [300, 200])
        }
    }

    /// A corrupt or truncated newest file is reported and the next older valid one is loaded.
    @Test func fallsBackWhenTheNewestIsCorrupt() throws {
        try withDirectory("fallback") { dir in
            let store = try SnapshotStore(directory: dir)
            let old = state(20, at: 50)
            try store.save(CMapSnapshot.encode(old, epoch: Epoch(1), voters: []), index: LogIndex(50))
            let newer = try CMapSnapshot.encode(state(30, at: 80), epoch: Epoch(1), voters: [])
            var flipped = newer
            flipped[flipped.count / 2] ^= 0x10
            try store.save(flipped, index: LogIndex(80))
            try store.save(Array(newer.prefix(newer.count - 5)), index: LogIndex(90))
            // A valid snapshot saved under the wrong name is rejected too.
            try store.save(newer, index: LogIndex(95))
            let (loaded, rejected) = try store.loadNewest()
            #expect(loaded?.state == old && loaded?.file.index == LogIndex(50))
            #expect(rejected.map(\.file.index.rawValue) == [95, 90, 80])
            #expect(rejected.map(\.error) == [
                .corruptHeader("file named for index 95 holds index 80"),
                .wrongLength(expectedBytes: UInt64(newer.count), actualBytes: newer.count - 5),
                .checksumMismatch("compressed body"),
            ])
            // Nothing valid at all: nil, with every file's reason.
            let onlyBad = try SnapshotStore(directory: dir + "/bad")
            try onlyBad.save([1, 2, 3], index: LogIndex(1))
            let none = try onlyBad.loadNewest()
            #expect(none.loaded == nil && none.rejected.map(\.error) == [.notASnapshot])
        }
    }

    @Test func oversizedFilesAreNotRead() throws {
        try withDirectory("big") { dir in
            let store = try SnapshotStore(directory: dir)
            let file = try store.save([UInt8](repeating: 0, count: 1000), index: LogIndex(1))
            #expect(throws: SnapshotError.tooLarge(rawBodyBytes: 1000, limitBytes: 999)) {
                try store.contents(of: file, maxBytes: 999)
            }
        }
    }

    /// `header(of:)` reads only the header: the same header as decoding the whole file, with
    /// voters, and a clear error for a file that is not a snapshot.
    @Test func headerAloneMatchesTheWholeFile() throws {
        try withDirectory("header") { dir in
            let store = try SnapshotStore(directory: dir)
            let voters = (1...40).map { SnapshotVoter(nodeID: NodeID(UInt32($0)), votes: 1) }
            let bytes = try CMapSnapshot.encode(state(500, at: 600), epoch: Epoch(3), voters: voters)
            let file = try store.save(bytes, index: LogIndex(600))
            let whole = try CMapSnapshot.decodeHeader(bytes).header
            #expect(try store.header(of: file) == whole)
            #expect(whole.rawBodyBytes > 0 && whole.voters.count == 40)
            let junk = try store.save([1, 2, 3], index: LogIndex(700))
            #expect(throws: SnapshotError.notASnapshot) { try store.header(of: junk) }
        }
    }
}
