// Classifying `stale`-mode reads against the linearization found for their key.
//
// A read could have been answered at position k of the linearization (after its first k
// operations) if k respects real time: every operation before k was invoked no later than the
// read's response, and every operation from k on responded no earlier than the read's
// invocation (the same tie rule as the search). Because prefix maxima of invocation times and
// suffix minima of response times both grow with k, the admissible positions form one range
// [low, high]. The read is fresh if the key held the returned value somewhere in that range,
// stale if only before it, unexplained otherwise. This is relative to the one linearization
// found, so it is a measurement, never a verdict.

struct StaleReadClassifier {
    /// values[k]: the key's value after the first k operations of the linearization.
    private var values: [RegisterValue]
    private var prefixInvokedMax: [UInt64]
    private var suffixRespondedMin: [UInt64]

    init(operations: [RegisterOperation], order: [Int]) {
        values = [.absent]
        values.reserveCapacity(order.count + 1)
        prefixInvokedMax = [0]
        for index in order {
            values.append(operations[index].command.apply(to: values[values.count - 1]).next)
            prefixInvokedMax.append(max(prefixInvokedMax[prefixInvokedMax.count - 1], operations[index].invokedAt))
        }
        suffixRespondedMin = Array(repeating: UInt64.max, count: order.count + 1)
        for k in stride(from: order.count - 1, through: 0, by: -1) {
            suffixRespondedMin[k] = min(suffixRespondedMin[k + 1], operations[order[k]].respondedAt)
        }
    }

    enum Freshness: Equatable {
        case fresh
        case stale(versionsBehind: Int)
        case unexplained
    }

    func classify(value: RegisterValue, invokedAt: UInt64, respondedAt: UInt64) -> Freshness {
        let positions = values.count
        // Largest k whose prefix was all invoked by the response (k = 0 always qualifies).
        let high = partitionPoint(positions) { prefixInvokedMax[$0] > respondedAt } - 1
        // Smallest k whose suffix all responded at or after the invocation (k = last always does).
        let low = min(partitionPoint(positions) { suffixRespondedMin[$0] >= invokedAt }, high)
        if values[low...high].contains(value) { return .fresh }
        guard let held = values[..<low].lastIndex(of: value) else { return .unexplained }
        var changes = 0
        for k in (held + 1)...low where values[k] != values[k - 1] { changes += 1 }
        return .stale(versionsBehind: changes)
    }

    /// The first index in 0..<count for which `isAfter` holds (count if none); `isAfter` must
    /// be false then true along the indexes.
    private func partitionPoint(_ count: Int, _ isAfter: (Int) -> Bool) -> Int {
        var low = 0
        var high = count
        while low < high {
            let middle = low + (high - low) / 2
            if isAfter(middle) { high = middle } else { low = middle + 1 }
        }
        return low
    }
}
