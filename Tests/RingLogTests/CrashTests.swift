import Basics
import RingLog
import Simulation
import Testing

/// Random workloads on the simulated disk, crashed at random points with random crash
/// modes (swarm style: each seed also draws segment sizes and I/O error rates). After every
/// crash the recovered log must be a prefix of what was appended that holds everything
/// reported durable, with the boundary and meta of before or after the interrupted step.
@Suite("Crashes on the simulated disk")
struct CrashTests {
    static let seeds: [UInt64] = Array(0..<300)

    @Test func randomWorkloadsSurviveCrashes() throws {
        for seed in Self.seeds { try Self.run(seed: seed) }
    }

    /// A run is a function of its seed: the same seed twice leaves the same disk.
    @Test func sameSeedSameDisk() throws {
        for seed: UInt64 in [3, 17, 42] {
            let first = try Self.run(seed: seed)
            let second = try Self.run(seed: seed)
            #expect(first == second)
        }
        #expect(try Self.run(seed: 3) != Self.run(seed: 4))
    }

    @discardableResult
    static func run(seed: UInt64) throws -> UInt32 {
        var g = SeededGenerator(seed: seed)
        let faults =
            g.chance(0.3)
            ? SimulatedDisk.Faults(writeErrorProbability: 0.02, syncErrorProbability: 0.03) : SimulatedDisk.Faults()
        let disk = SimulatedDisk(seed: g.next(), faults: faults)
        // Preallocation by the seed (not `g`, whose draws the workloads keep): none (the old
        // format), a step of 48 bytes (a new zero tail every record or two, mid-segment), or
        // the default, which stops at the segment size.
        let options = RingLogOptions(
            segmentBytesMax: 150 + Int(g.next() % 600), writeBufferBytesMax: 32 + Int(g.next() % 400),
            preallocationBytes: [0, 48, 1 << 20][Int(seed % 3)])
        var model = LogModel()
        var epoch: UInt64 = 1
        guard var log = try open(disk, options, &g, seed: seed) else { return 0 }

        for cycle in 0..<4 {
            var interrupted: LogModel?
            for _ in 0..<25 {
                if disk.operationsUntilPowerFailure == nil && g.chance(0.08) {
                    disk.operationsUntilPowerFailure = Int(g.next() % 10)
                }
                var after = model
                do {
                    try step(log, &after, &epoch, &g)
                    model = after
                } catch {
                    interrupted = after
                    break
                }
            }
            disk.crash(SimulatedDisk.CrashMode.allCases[Int(g.next() % 4)])
            guard let reopened = try open(disk, options, &g, seed: seed) else { return 0 }
            log = reopened
            let candidates = [model] + (interrupted.map { [$0] } ?? [])
            guard let survivor = try LogModel.recovered(log, candidates: candidates, context: "seed \(seed) cycle \(cycle)")
            else { return 0 }
            model = survivor
        }
        return disk.stateDigest()
    }

    /// One random operation, applied to the log and to `model` (the state if it completes).
    static func step(_ log: RingLog, _ model: inout LogModel, _ epoch: inout UInt64, _ g: inout SeededGenerator) throws {
        let commit = model.meta?.commitIndex ?? .zero
        switch g.next() % 12 {
        case 0...4:
            let first = model.last.rawValue + 1
            let batch = (first..<(first + 1 + g.next() % 6)).map {
                record($0, epoch: epoch, payloadBytes: Int(g.next() % 60))
            }
            model.records += batch
            try log.append(batch)
        case 5...6:
            model.durable = model.last
            #expect(try log.sync() == model.last)
        case 7:
            let low = max(model.boundary.index, commit).rawValue
            guard low < model.last.rawValue else { return }
            let index = LogIndex(low + g.next() % (model.last.rawValue - low))
            model.truncate(after: index)
            try log.truncate(after: index)
        case 8:
            if model.durable > model.boundary.index {
                let low = model.boundary.index.rawValue + 1
                let index = LogIndex(low + g.next() % (model.durable.rawValue - low + 1))
                model.boundary = LogPosition(index: index, epoch: model.record(index).epoch)
            } else {
                // A snapshot installed from a peer, past the end of the log.
                let index = LogIndex(model.last.rawValue + 1 + g.next() % 4)
                while model.last < index { model.records.append(record(model.last.rawValue + 1, type: 255)) }
                model.boundary = LogPosition(index: index, epoch: Epoch(epoch))
                model.durable = index
            }
            try log.compact(through: model.boundary)
        case 9:
            let index = LogIndex(commit.rawValue + g.next() % (model.durable.rawValue - commit.rawValue + 1))
            model.meta = LogMeta(
                nodeID: NodeID(1), normalEpoch: Epoch(epoch),
                voters: [.init(nodeID: NodeID(1), votes: 1), .init(nodeID: NodeID(2), votes: UInt32(epoch))],
                commitIndex: index)
            try log.writeMeta(model.meta!)
        default:
            epoch += 1
        }
    }

    /// Opens the log, possibly losing power during recovery too (then crash and retry).
    static func open(
        _ disk: SimulatedDisk, _ options: RingLogOptions, _ g: inout SeededGenerator, seed: UInt64
    ) throws -> RingLog? {
        for _ in 0..<3 {
            if g.chance(0.2) { disk.operationsUntilPowerFailure = Int(g.next() % 6) }
            do {
                let log = try RingLog(disk: disk, directory: "/node", options: options)
                disk.operationsUntilPowerFailure = nil
                return log
            } catch RingLogError.io {
                disk.crash(.random)
            }
        }
        let saved = disk.faults
        disk.faults = SimulatedDisk.Faults()
        defer { disk.faults = saved }
        do {
            return try RingLog(disk: disk, directory: "/node", options: options)
        } catch {
            Issue.record("seed \(seed): the log does not open after a crash: \(error)")
            return nil
        }
    }
}

@Suite("Bit flips on the simulated disk")
struct BitFlipTests {
    /// A flipped bit anywhere in a stored record is found at that record: at or below the
    /// commit index opening fails naming the file and the record's offset; above it the log
    /// is cut right before the record.
    @Test func aFlippedBitIsFoundAtItsRecord() throws {
        var g = SeededGenerator(seed: 99)
        for seed in 0..<200 {
            let disk = SimulatedDisk(seed: UInt64(seed))
            let log = try RingLog(disk: disk, directory: "/n", options: smallSegments)
            let count = 5 + g.next() % 40
            let written = (1...count).map { record($0, epoch: 1 + $0 / 10, payloadBytes: Int(g.next() % 50)) }
            try log.append(written)
            try log.sync()
            let commit = LogIndex(g.next() % (count + 1))
            try log.writeMeta(LogMeta(nodeID: NodeID(1), normalEpoch: Epoch(1), voters: [], commitIndex: commit))
            let victim = LogIndex(1 + g.next() % count)
            let place = try #require(log.location(of: victim))
            let size = written[Int(victim.rawValue) - 1].encodedByteCount
            log.close()
            if seed % 2 == 0 {
                disk.flipBit(in: place.path, byteOffset: Int(place.offset) + Int(g.next() % UInt64(size)), bit: Int(g.next() % 8))
            } else {
                // Anywhere in the file, header included: find which record it hit.
                let offset = UInt64(try #require(disk.flipRandomBit(in: place.path)))
                try Self.expectFoundWhereItIs(disk, place.path, offset, written, commit, seed: seed)
                continue
            }
            do {
                let reopened = try RingLog(disk: disk, directory: "/n", options: smallSegments)
                #expect(victim > commit, "seed \(seed): damage at \(victim) below commit \(commit) not reported")
                #expect(reopened.lastIndex == LogIndex(victim.rawValue - 1))
                #expect(reopened.recovery.cut?.index == victim)
                #expect(reopened.recovery.cut?.offset == place.offset)
                #expect(try allRecords(reopened) == Array(written.prefix(Int(victim.rawValue) - 1)))
            } catch let RingLogError.corruptRecord(file, offset, _) {
                #expect(victim <= commit, "seed \(seed): damage above the commit index refused")
                #expect(file == place.path && offset == place.offset)
            }
        }
    }

    /// Damage at `offset` of a segment: below the commit index opening fails; above it the
    /// log is cut at the damaged record (or, for the header, at the segment's first index;
    /// in the preallocated zero tail, at the end of the segment's records).
    static func expectFoundWhereItIs(
        _ disk: SimulatedDisk, _ path: String, _ offset: UInt64, _ written: [LogRecord], _ commit: LogIndex, seed: Int
    ) throws {
        let first = UInt64(path.split(separator: "/").last!.prefix(20))!
        var victim = first
        var recordStart: UInt64 = 32
        var position: UInt64 = 32
        if offset >= 32 {
            // Past the last record (in the zero tail) the damage is garbage after the end:
            // the cut is there, before the index that would come next.
            while Int(victim) - 1 < written.count, position + UInt64(written[Int(victim) - 1].encodedByteCount) <= offset {
                position += UInt64(written[Int(victim) - 1].encodedByteCount)
                victim += 1
            }
            recordStart = position
        } else {
            recordStart = 0
        }
        do {
            let log = try RingLog(disk: disk, directory: "/n", options: smallSegments)
            #expect(LogIndex(victim) > commit, "seed \(seed): damage at \(victim) below commit \(commit) not reported")
            #expect(log.lastIndex == LogIndex(victim - 1), "seed \(seed)")
            #expect(log.recovery.cut?.offset == recordStart, "seed \(seed)")
        } catch let RingLogError.corruptRecord(file, at, _) {
            #expect(LogIndex(victim) <= commit && file == path && at == recordStart, "seed \(seed)")
        } catch let RingLogError.corruptFile(file, _) {
            #expect(LogIndex(victim) <= commit && file == path && offset < 32, "seed \(seed)")
        }
    }
}
