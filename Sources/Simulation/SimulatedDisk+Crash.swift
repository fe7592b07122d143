import Basics
import RingLog

/// Crashes and stored-data faults of the simulated disk.
extension SimulatedDisk {
    /// The power fails now: every further operation fails until `crash(_:)`.
    public func powerOff() {
        isPoweredOff = true
    }

    /// A machine crash and restart: decides from the seed what of the unsynced state
    /// survives (see `CrashMode`), closes every handle and powers the disk back on.
    /// Files and directories are visited in a sorted order so the outcome depends only on
    /// the seed.
    public func crash(_ mode: CrashMode) {
        for id in inodes.keys.sorted() {
            let inode = inodes[id]!
            var durable = inode.durable
            let count = inode.pending.count
            for (k, write) in inode.pending.enumerated() {
                if let survivor = survivor(of: write, isLast: k == count - 1, mode: mode) {
                    Self.apply(survivor, to: &durable)
                }
            }
            inodes[id]!.restart(with: durable)
        }
        for path in directories.keys.sorted() {
            var dir = directories[path]!
            let kept: Int
            switch mode {
            case .loseUnsynced: kept = 0
            case .keepUnsynced: kept = dir.pending.count
            case .tearLast, .random: kept = Int(generator.next() % UInt64(dir.pending.count + 1))
            }
            for change in dir.pending.prefix(kept) { Self.apply(change, to: &dir.durable) }
            dir.live = dir.durable
            dir.pending.removeAll()
            directories[path] = dir
        }
        // Files no directory names any more are gone.
        let referenced = Set(directories.values.flatMap { $0.durable.values })
        for id in inodes.keys.sorted() where !referenced.contains(id) { inodes[id] = nil }
        handles.removeAll()
        isPoweredOff = false
        operationsUntilPowerFailure = nil
        crashCount += 1
    }

    /// What reaches the durable image of one unsynced write, or nil if it is lost.
    private func survivor(of write: PendingWrite, isLast: Bool, mode: CrashMode) -> PendingWrite? {
        switch mode {
        case .loseUnsynced: return nil
        case .keepUnsynced: return write
        case .tearLast: return isLast ? torn(write) : write
        case .random:
            switch generator.next() % 3 {
            case 0: return write
            case 1: return nil
            default: return torn(write)
            }
        }
    }

    /// A write cut at a random byte (possibly all of it lost); a truncation happens or not.
    private func torn(_ write: PendingWrite) -> PendingWrite? {
        switch write {
        case .write(let offset, let bytes):
            let kept = Int(generator.next() % UInt64(bytes.count + 1))
            return kept == 0 ? nil : .write(offset: offset, bytes: Array(bytes.prefix(kept)))
        case .truncate:
            return generator.chance(0.5) ? write : nil
        }
    }

    // MARK: - Inspection and stored-data faults

    /// The current content of a file (including unsynced writes), or nil if it does not exist.
    public func contents(of path: String) -> [UInt8]? {
        guard let (dir, name) = try? split(path, .read), let id = directories[dir]?.live[name] else { return nil }
        return inodes[id]?.live
    }

    /// Flips one bit of a stored file, in its durable image and its current content: a
    /// media error the checksum must catch.
    public func flipBit(in path: String, byteOffset: Int, bit: Int = 0) {
        guard let (dir, name) = try? split(path, .write), let id = directories[dir]?.live[name] else {
            preconditionFailure("flipBit in missing file \(path)")
        }
        precondition(byteOffset >= 0 && byteOffset < inodes[id]!.live.count, "flipBit past the end of \(path)")
        let mask = UInt8(1) << UInt8(bit & 7)
        inodes[id]!.damage { bytes in
            if byteOffset < bytes.count { bytes[byteOffset] ^= mask }
        }
    }

    /// Flips a bit chosen by the disk's seed in a stored file (a media error); returns its
    /// byte offset, or nil if the file is missing or empty.
    @discardableResult
    public func flipRandomBit(in path: String) -> Int? {
        guard let size = contents(of: path)?.count, size > 0 else { return nil }
        let offset = draw(below: size)
        flipBit(in: path, byteOffset: offset, bit: draw(below: 8))
        return offset
    }

    /// Overwrites part of a stored file, durably (as a test's deliberate damage).
    public func overwrite(in path: String, at byteOffset: Int, with bytes: [UInt8]) {
        guard let (dir, name) = try? split(path, .write), let id = directories[dir]?.live[name] else {
            preconditionFailure("overwrite in missing file \(path)")
        }
        inodes[id]!.damage { Self.apply(.write(offset: byteOffset, bytes: bytes), to: &$0) }
    }

    /// A checksum of everything the disk holds (names, durable and current contents, and
    /// the pending changes), visited in sorted order: the same seed and the same workload
    /// must give the same digest.
    public func stateDigest() -> UInt32 {
        var crc: UInt32 = 0
        func mix(_ bytes: [UInt8]) { crc = CRC32C.checksum(bytes, continuing: crc) }
        func mix(_ value: Int) { withUnsafeBytes(of: Int64(value).littleEndian) { crc = CRC32C.checksum($0, continuing: crc) } }
        for path in directories.keys.sorted() {
            let dir = directories[path]!
            mix(Array(path.utf8))
            for (name, id) in dir.live.sorted(by: { $0.key < $1.key }) {
                mix(Array(name.utf8))
                mix(dir.durable[name] == id ? 1 : 0)
                mix(inodes[id]?.durable ?? [])
                mix(inodes[id]?.live ?? [])
                mix(inodes[id]?.pending.count ?? 0)
            }
            mix(dir.pending.count)
        }
        mix(operationCount)
        return crc
    }

    /// A random number from the disk's own stream, for tests that pick fault positions.
    public func draw(below bound: Int) -> Int {
        precondition(bound > 0, "draw below \(bound)")
        return Int(generator.next() % UInt64(bound))
    }
}
