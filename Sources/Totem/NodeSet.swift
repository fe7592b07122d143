import Basics

/// A set of processors kept as an ascending array, so that iteration order (ring order,
/// message contents) never depends on hashing. Totem's sets are small (at most
/// `NodeSet.countMax`), so linear operations are fine.
struct NodeSet: Hashable, Sendable, CustomStringConvertible {
    /// corosync's PROCESSOR_COUNT_MAX.
    static let countMax = 384

    private(set) var sorted: [NodeID]

    init() { sorted = [] }
    init<S: Sequence>(_ nodes: S) where S.Element == NodeID {
        sorted = Array(Set(nodes)).sorted()
    }

    var isEmpty: Bool { sorted.isEmpty }
    var count: Int { sorted.count }
    var first: NodeID? { sorted.first }

    func contains(_ node: NodeID) -> Bool { sorted.contains(node) }

    func isSubset(of other: NodeSet) -> Bool { sorted.allSatisfy { other.contains($0) } }

    mutating func insert(_ node: NodeID) {
        guard !contains(node) else { return }
        let at = sorted.firstIndex(where: { $0 > node }) ?? sorted.count
        sorted.insert(node, at: at)
    }

    mutating func formUnion(_ other: NodeSet) {
        for node in other.sorted { insert(node) }
    }

    func subtracting(_ other: NodeSet) -> NodeSet {
        var result = NodeSet()
        result.sorted = sorted.filter { !other.contains($0) }
        return result
    }

    func intersection(_ other: NodeSet) -> NodeSet {
        var result = NodeSet()
        result.sorted = sorted.filter { other.contains($0) }
        return result
    }

    /// The node after `node` in ring order (ascending id, wrapping); `node` itself if alone.
    func successor(of node: NodeID) -> NodeID {
        sorted.first(where: { $0 > node }) ?? sorted.first ?? node
    }

    var description: String { sorted.map(\.description).joined(separator: ",") }
}
