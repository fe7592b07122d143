/// Which milliseconds of a run saw at least one acknowledged write: one bit per millisecond
/// since the run started, bounded by the run's time limit. The longest stretch of empty
/// milliseconds between two acknowledgements is the run's longest write unavailability. One
/// timeline per event loop; merged with `formUnion` (any loop's acknowledgement counts).
struct BenchAckTimeline: Equatable, Sendable {
    private var words: [UInt64]
    let capacityMilliseconds: Int

    init(capacityMilliseconds: Int) {
        precondition(capacityMilliseconds > 0, "a timeline covers at least 1 ms, not \(capacityMilliseconds)")
        self.capacityMilliseconds = capacityMilliseconds
        words = Array(repeating: 0, count: (capacityMilliseconds + 63) / 64)
    }

    /// Marks millisecond `ms` (since the run started); a value past the capacity is ignored
    /// (the run ends at its time limit, so that only happens at the very end).
    mutating func mark(_ ms: Int) {
        guard ms >= 0, ms < capacityMilliseconds else { return }
        words[ms / 64] |= 1 << UInt64(ms % 64)
    }

    func isMarked(_ ms: Int) -> Bool {
        guard ms >= 0, ms < capacityMilliseconds else { return false }
        return words[ms / 64] & (1 << UInt64(ms % 64)) != 0
    }

    mutating func formUnion(_ other: BenchAckTimeline) {
        precondition(other.capacityMilliseconds == capacityMilliseconds,
                     "timelines of \(capacityMilliseconds) and \(other.capacityMilliseconds) ms")
        for index in words.indices { words[index] |= other.words[index] }
    }

    /// A stretch between two marked milliseconds: acknowledgements at `from` and `to`, none
    /// in between. `milliseconds` is `to - from` (1 when acknowledgements are continuous).
    struct Gap: Equatable, Sendable, Codable {
        var from: Int
        var to: Int
        var milliseconds: Int { to - from }
    }

    /// The longest gap between the first and the last marked millisecond (the earliest of
    /// equal ones); nil with fewer than two marked milliseconds.
    func longestGap() -> Gap? {
        var previous: Int?
        var longest: Gap?
        for ms in markedMilliseconds() {
            if let previous, ms - previous > (longest?.milliseconds ?? 0) {
                longest = Gap(from: previous, to: ms)
            }
            previous = ms
        }
        return longest
    }

    /// The longest gap that ends after millisecond `instant` (a kill): the one around the
    /// instant or a later one. Writes already ordered when a node dies may still be
    /// acknowledged for a moment before the ring notices, so the gap the kill causes can
    /// start a little after it. Nil when no acknowledgement follows the instant or none
    /// precedes the first one that does.
    func longestGap(endingAfter instant: Int) -> Gap? {
        var previous: Int?
        var longest: Gap?
        for ms in markedMilliseconds() {
            if let previous, ms > instant, ms - previous > (longest?.milliseconds ?? 0) {
                longest = Gap(from: previous, to: ms)
            }
            previous = ms
        }
        return longest
    }

    /// The marked milliseconds in increasing order (skipping empty words 64 at a time).
    func markedMilliseconds() -> some Sequence<Int> {
        words.indices.lazy.flatMap { index -> [Int] in
            var word = words[index]
            var marked: [Int] = []
            while word != 0 {
                let bit = word.trailingZeroBitCount
                marked.append(index * 64 + bit)
                word &= word &- 1
            }
            return marked
        }
    }
}
