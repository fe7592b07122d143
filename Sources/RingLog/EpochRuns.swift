import Basics

/// The epoch of every index of the log, kept as runs (first index, epoch) since epochs
/// change rarely. Memory grows with the number of epoch changes, not entries.
struct EpochRuns {
    private var runs: [(first: LogIndex, epoch: Epoch)] = []

    mutating func append(_ index: LogIndex, _ epoch: Epoch) {
        if let last = runs.last, last.epoch == epoch { return }
        runs.append((index, epoch))
    }

    /// The epoch of `index`, assuming the caller checked that the log holds it.
    func epoch(of index: LogIndex) -> Epoch? {
        var low = 0
        var high = runs.count
        while low < high {  // first run starting after index
            let mid = (low + high) / 2
            if runs[mid].first <= index { low = mid + 1 } else { high = mid }
        }
        return low == 0 ? nil : runs[low - 1].epoch
    }

    /// Forgets every index after `index`.
    mutating func truncate(after index: LogIndex) {
        while let last = runs.last, last.first > index { runs.removeLast() }
    }

    /// Forgets every index below `first`.
    mutating func drop(below first: LogIndex) {
        guard let epoch = epoch(of: first) else {
            runs.removeAll()
            return
        }
        runs.removeAll { $0.first <= first }
        runs.insert((first, epoch), at: 0)
    }

    mutating func removeAll() { runs.removeAll() }
}
