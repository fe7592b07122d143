extension SimulatedDisk {
    /// One file: its current content (`live`), the writes not yet synced (`pending`) and
    /// the image a crash falls back to (`durable`, which always equals `live` with the
    /// pending writes undone).
    ///
    /// The durable image is kept as a length while it is a prefix of `live` (the common
    /// case of a log: appends, then a sync). A sync then costs nothing and a write copies its
    /// bytes once; a separate array is made only when a write or truncation reaches into
    /// the durable part, and lasts until the next sync.
    struct Inode {
        private(set) var live: [UInt8] = []
        private(set) var pending: [PendingWrite] = []
        /// When set, the durable image is `live[0..<durablePrefix]`.
        private var durablePrefix: Int? = 0
        /// The durable image when `durablePrefix` is nil.
        private var durableImage: [UInt8] = []

        var durable: [UInt8] {
            if let n = durablePrefix { return Array(live[0..<n]) }
            return durableImage
        }

        /// Applies a write to the current content; it stays pending until `sync()`.
        mutating func apply(_ write: PendingWrite) {
            if let n = durablePrefix, Self.reaches(write, below: n) { materializeDurable() }
            SimulatedDisk.apply(write, to: &live)
            pending.append(write)
        }

        /// Everything written so far becomes durable.
        mutating func sync() {
            durablePrefix = live.count
            durableImage = []
            pending.removeAll()
        }

        /// After a crash: the file holds `durable` (what survived), all of it durable.
        mutating func restart(with durable: [UInt8]) {
            live = durable
            durablePrefix = durable.count
            durableImage = []
            pending.removeAll()
        }

        /// Changes stored bytes in both images (media faults and deliberate damage in tests).
        mutating func damage(_ body: (inout [UInt8]) -> Void) {
            materializeDurable()
            body(&live)
            body(&durableImage)
        }

        private mutating func materializeDurable() {
            guard let n = durablePrefix else { return }
            durableImage = Array(live[0..<n])
            durablePrefix = nil
        }

        /// Whether the write changes any byte below `n` (live is at least `n` long).
        private static func reaches(_ write: PendingWrite, below n: Int) -> Bool {
            switch write {
            case .write(let offset, let bytes): offset < n && !bytes.isEmpty
            case .truncate(let size): size < n
            }
        }
    }
}
