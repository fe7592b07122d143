import Basics
import Foundation

/// `status.json` in the node's data directory, rewritten every `statusFileInterval` (atomic
/// rename): how `totemkv up` watches its children without depending on the client server.
@available(macOS 15, *)
extension NodeRuntime {
    public static let statusFileName = "status.json"

    func writeStatusFile() {
        guard !isStopped else { return }
        noteWork(.statusFile, at: now())
        let s = makeStatus()
        let rings = s.rings.map { "{\"ring\":\($0.ringNumber),\"faulty\":\($0.isFaulty)}" }.joined(separator: ",")
        let json = """
            {"node":\(s.nodeID.rawValue),"pid":\(ProcessInfo.processInfo.processIdentifier),\
            "ring_rep":\(s.ringID.representative.rawValue),"ring_seq":\(s.ringID.seq),\
            "members":[\(s.members.map { String($0.rawValue) }.joined(separator: ","))],\
            "totem_state":"\(s.totemState)","phase":"\(s.phase)","quorate":\(s.isQuorate),\
            "epoch":\(s.epoch.rawValue),"last_index":\(s.lastIndex.rawValue),\
            "commit_index":\(s.commitIndex.rawValue),"applied_index":\(s.appliedIndex.rawValue),\
            "keys":\(s.keyCount),"rings":[\(rings)],"last_stall":\(Self.stallJSON(s.lastStall))}

            """
        let path = configuration.dataDirectory + "/" + Self.statusFileName
        do {
            try Data(json.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            logger.debug("cannot write \(path): \(error)")
        }
    }

    /// `{"kind":"loop","ms":412,"running":"disk operation on the loop","at_unix_ms":...}`, or null.
    static func stallJSON(_ last: StallStatus?) -> String {
        guard let last else { return "null" }
        return """
            {"kind":"\(last.stall.kind.rawValue)","ms":\(last.stall.duration.rawValue),\
            "running":"\(last.stall.running)","at_unix_ms":\(last.unixMilliseconds),"ago_ms":\(last.agoMilliseconds)}
            """
    }
}
