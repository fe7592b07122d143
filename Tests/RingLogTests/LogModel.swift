import Basics
import RingLog
import Testing

/// The naive oracle the crash tests compare a recovered log with: every record ever in the
/// log by index (entries of an installed snapshot are placeholders), the boundary, the
/// durable index and the meta, as of the operations that returned.
struct LogModel: Equatable {
    var records: [LogRecord] = []
    var boundary = LogPosition.zero
    var durable = LogIndex.zero
    var meta: LogMeta?

    var last: LogIndex { LogIndex(UInt64(records.count)) }

    func record(_ index: LogIndex) -> LogRecord { records[Int(index.rawValue) - 1] }

    mutating func truncate(after index: LogIndex) {
        records.removeLast(records.count - Int(index.rawValue))
        durable = min(durable, index)
    }

    /// Why `log` is not a state this model allows, or nil if it is one: the same boundary
    /// and meta, and a prefix of the records that holds everything durable.
    func mismatch(_ log: RingLog, durableAtLeast minDurable: LogIndex) throws -> String? {
        if log.boundary != boundary { return "boundary \(log.boundary), model \(boundary)" }
        if log.firstIndex != boundary.index.next { return "first index \(log.firstIndex), boundary \(boundary)" }
        if log.meta != meta { return "meta \(String(describing: log.meta)), model \(String(describing: meta))" }
        if log.lastIndex > last { return "last index \(log.lastIndex) past the model's \(last)" }
        if log.lastIndex < minDurable { return "last index \(log.lastIndex) below the durable \(minDurable)" }
        if log.epoch(of: boundary.index) != boundary.epoch { return "epoch of the boundary" }
        let got = try log.read(from: log.firstIndex, through: log.lastIndex)
        let expected = Array(records[Int(boundary.index.rawValue)..<Int(log.lastIndex.rawValue)])
        if got != expected {
            let at = Array(zip(got, expected)).firstIndex { $0.0 != $0.1 } ?? min(got.count, expected.count)
            return "records differ at index \(boundary.index.rawValue + UInt64(at) + 1)"
        }
        for index in stride(from: log.firstIndex.rawValue, through: log.lastIndex.rawValue, by: 7) {
            if log.epoch(of: LogIndex(index)) != record(LogIndex(index)).epoch { return "epoch of \(index)" }
        }
        return nil
    }

    /// Checks that the recovered `log` matches one of `candidates` (the state before and
    /// after the operation a crash interrupted) and returns that one, cut to what survived.
    static func recovered(_ log: RingLog, candidates: [LogModel], context: String) throws -> LogModel? {
        let minDurable = candidates.map(\.durable).min() ?? .zero
        var reasons: [String] = []
        for candidate in candidates {
            if let reason = try candidate.mismatch(log, durableAtLeast: minDurable) {
                reasons.append(reason)
                continue
            }
            var survivor = candidate
            survivor.truncate(after: log.lastIndex)
            survivor.durable = log.lastIndex
            return survivor
        }
        Issue.record("\(context): recovered log matches no allowed state: \(reasons)")
        return nil
    }
}
