import CMap

/// The linearizable reads one connection parsed in one turn, not sent yet: they go to the
/// node together, behind one read barrier (`PipelinedNodeService.submitLinearizableReads`),
/// and each answer goes back to request `index` of reply slot `slot`.
struct ReadBatch: Sendable {
    private(set) var ops: [CMapOperation] = []
    private var slots: [UInt64] = []
    private var indexes: [Int] = []

    var isEmpty: Bool { ops.isEmpty }
    var count: Int { ops.count }

    mutating func append(_ op: CMapOperation, slot: UInt64, index: Int) {
        if ops.isEmpty {
            ops.reserveCapacity(16)
            slots.reserveCapacity(16)
            indexes.reserveCapacity(16)
        }
        ops.append(op)
        slots.append(slot)
        indexes.append(index)
    }

    /// Where the answer to read `position` goes.
    func target(_ position: Int) -> (slot: UInt64, index: Int) { (slots[position], indexes[position]) }

    /// The batch, leaving this one empty.
    mutating func take() -> ReadBatch {
        defer { self = ReadBatch() }
        return self
    }
}
