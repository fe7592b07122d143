import Foundation
import NIOCore
import Replication
import Totem

/// A member's pushes written by the hand-over itself (ProcessGroupDirectPush.swift): the
/// runtime's half of the marker protocol. Loop-confined, like the rest of the links.
@available(macOS 15, *)
extension ProcessGroupLinks {
    enum DirectPush {
        /// Attached, marker sent: the stream still holds batches ahead of the marker, so
        /// what is handed over meanwhile waits here (at most `pushesQueuedMax` batches).
        case awaitingReader(any ProcessGroupPushSink, [[ProcessGroupDelivery]])
        /// Every batch goes to the sink at once.
        case direct(any ProcessGroupPushSink)
    }
}

@available(macOS 15, *)
extension NodeRuntime: ProcessGroupDirectPushing {
    func processGroupAttachSink(_ sink: any ProcessGroupPushSink, group: ProcessGroupName,
                                connection: ConnectionID) -> Bool {
        guard eventLoop.inEventLoop, sink.eventLoop.inEventLoop else { return false }
        let key = ProcessGroupLinks.Key(connection: connection, group: group)
        guard processGroupLinks.directPushes[key] == nil, let stream = processGroupLinks.streams[key],
              case .enqueued = stream.yield([]) else { return false }
        processGroupLinks.directPushes[key] = .awaitingReader(sink, [])
        return true
    }

    func processGroupSinkReady(group: ProcessGroupName, connection: ConnectionID) {
        guard eventLoop.inEventLoop else { return }
        let key = ProcessGroupLinks.Key(connection: connection, group: group)
        guard case .awaitingReader(let sink, let kept)? = processGroupLinks.directPushes[key] else { return }
        processGroupLinks.directPushes[key] = .direct(sink)
        for batch in kept { handOver(batch, to: key) }
    }

    /// One member's batch: to its sink when it has one that takes it, else to its stream. A
    /// member whose queue is full leaves the group (process down) and its stream ends.
    func handOver(_ batch: [ProcessGroupDelivery], to key: ProcessGroupLinks.Key) {
        guard let stream = processGroupLinks.streams[key] else { return }
        switch processGroupLinks.directPushes[key] {
        case .awaitingReader(let sink, var kept)?:
            guard kept.count < ProcessGroupLinks.pushesQueuedMax else { return memberFellBehind(key) }
            processGroupLinks.directPushes[key] = nil  // `kept` uniquely referenced: no copy
            kept.append(batch)
            processGroupLinks.directPushes[key] = .awaitingReader(sink, kept)
            return
        case .direct(let sink)?:
            let flushesNow = !processGroupLinks.isSinkFlushDeferred
            if sink.write(batch, flush: flushesNow) {
                processGroupLinks.directPushBatches &+= 1
                if !flushesNow { flushAtTurnEnd(sink) }
                if batch.last?.isFinal == true {
                    // The second marker: the reader's stream ends after a final delivery.
                    stream.yield([])
                    endStream(key)
                }
                return
            }
            processGroupLinks.directPushes[key] = nil
        case nil:
            break
        }
        switch stream.yield(batch) {
        case .enqueued:
            if batch.last?.isFinal == true { endStream(key) }
        case .dropped:
            memberFellBehind(key)
        case .terminated:
            forgetStream(key)
        @unknown default:
            forgetStream(key)
        }
    }

    /// A sink written without a flush is flushed at the end of the loop turn, unless its
    /// connection flushes first (its own replies).
    private func flushAtTurnEnd(_ sink: any ProcessGroupPushSink) {
        if processGroupLinks.sinksToFlush.isEmpty {
            eventLoop.execute {
                let sinks = self.processGroupLinks.sinksToFlush
                self.processGroupLinks.sinksToFlush = []
                for sink in sinks { sink.flush() }
            }
        }
        processGroupLinks.sinksToFlush.append(sink)
    }

    /// A multicast stepped from its client's read on the held token is delivered here at
    /// once (the 0 ms `deliverOwn` timer fired early, in its own step after the
    /// submission's), not on the timer's loop pass after the client's `OK` was flushed; its
    /// local members' pushes are written before the `OK`, without a flush: the connection's
    /// flush of the `OK` at the end of the read carries both, one write and one wake-up of
    /// the client instead of two. `TOTEMKV_CPG_OWN_FIRST=0` turns it off, for A/B runs.
    static let ownDeliveryFirst = ProcessInfo.processInfo.environment["TOTEMKV_CPG_OWN_FIRST"] != "0"

    func deliverOwnNow() {
        guard !isDraining, !isStopped else { return }
        let kind = TotemTimerKind.deliverOwn
        guard let generation = totemTimerTable.fireEarly(Int(kind.rawValue), now: NIODeadline.now().uptimeNanoseconds) else {
            return
        }
        CPGTrace.shared?.record(.totemTimerFired, UInt64(kind.rawValue))
        // Deferred across the step too: when deliveries are rare the step itself hands over.
        processGroupLinks.isSinkFlushDeferred = true
        defer { processGroupLinks.isSinkFlushDeferred = false }
        enqueue(.core(.totemTimerFired(kind, generation, at: now())))
        guard !processGroupLinks.gathered.isEmpty else { return }
        handOverProcessGroupDeliveries()
    }

    /// Finishes a member's stream and forgets it.
    func endStream(_ key: ProcessGroupLinks.Key) {
        processGroupLinks.streams.removeValue(forKey: key)?.finish()
        forgetStream(key)
    }

    /// Forgets a member's stream (its reader is gone or it was finished).
    func forgetStream(_ key: ProcessGroupLinks.Key) {
        processGroupLinks.streams[key] = nil
        processGroupLinks.awaitingJoin.remove(key)
        processGroupLinks.directPushes[key] = nil
    }
}
