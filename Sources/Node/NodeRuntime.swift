import Basics
import CMap
import Foundation
import Logging
import NIOCore
import Quorum
import Replication
import RingLog
import Synchronization
import Totem

/// The IO shell of one node: it owns the composed protocol cores (`ReplicatedNode`), the
/// redundant-ring layer, the UDP transport, the peer channel and the log, and interprets the
/// cores' actions for real (the simulator's `ReplicationCluster+Actions` does the same
/// against fakes).
///
/// Threading: confined to one NIO event loop. Every input (packet, timer, peer message,
/// durability report, client request) is queued on the loop and stepped one at a time, in
/// order (`enqueue` / `drain`); no locks guard the cores. The public async API hops onto the
/// loop. The only blocking on the loop is for the disk operations the cores require to be
/// durable before anything later happens (truncate, normal epoch, ring seq): they are rare
/// (membership changes) and short, and doing them inline keeps the action order trivially.
@available(macOS 15, *)
public final class NodeRuntime: @unchecked Sendable {
    public let eventLoop: any EventLoop
    public let configuration: NodeRuntimeConfiguration
    let logger: Logger
    let voters: Voters

    // Loop-confined state.
    var core: ReplicatedNode
    var rings: RedundantRings
    var transport: UDPTransport?
    var peers: PeerChannel?
    let log: GroupCommitLog
    let diskFence: DiskFence
    var queue: [Work] = []
    var queueHead = 0
    var isDraining = false
    var isStarted = false
    public internal(set) var isStopped = false
    var nextToken: UInt64 = 1
    var waiting: [ClientToken: PendingReply] = [:]
    var nextTrack: UInt64 = 1
    var trackStreams: [TrackID: AsyncStream<CMapTrackEvent>.Continuation] = [:]
    /// QUORUM.TRACK subscribers (NodeRuntime+Quorum.swift).
    var quorumStreams: [QuorumTrackID: AsyncStream<QuorumNotification>.Continuation] = [:]
    /// Process-group streams and waiting requests (NodeRuntime+CPG.swift).
    var processGroupLinks = ProcessGroupLinks()
    /// Process-group requests from the connections, drained on the loop (ProcessGroupInbox.swift).
    let processGroupInbox = ProcessGroupInbox()
    var snapshotIndex: LogIndex = .zero
    var rrpTimerGenerations: [RRPTimer: UInt64] = [:]
    /// Totem's timers, by kind (`TotemTimerKind.rawValue`): when each is due, and the loop
    /// task armed for it (NodeRuntime+TotemTimers.swift).
    var totemTimerTable = LazyTimerTable(count: TotemTimerKind.allCases.count)
    var totemTimerTasks: [Scheduled<Void>?] = Array(repeating: nil, count: TotemTimerKind.allCases.count)
    var rrpTimers: [RRPTimer: Scheduled<Void>] = [:]
    /// Holds an arriving token briefly while this node is busy (TokenPacer.swift).
    var tokenPacer = TokenPacer(settings: NodeRuntime.tokenPacerSettings())
    var tokenHoldTimer: Scheduled<Void>?
    var statusTask: RepeatedTask?
    var counters = RuntimeCounters()
    /// The log's durability callback reaches the runtime through this; cleared on close.
    var sink: RuntimeSink?
    /// Hang detection, latency clocks, the snapshot policy (NodeRuntime+Stall/Metrics/Compaction).
    var ops: RuntimeOps
    let metrics: NodeMetrics
    /// Set (from any thread) before the log is closed; read on the log's queue.
    let isLogClosing = Atomic<Bool>(false)

    /// One unit of work for the loop: a core event, or a durability report tagged with the
    /// disk generation it was made in (reports from before a truncation are stale).
    enum Work {
        case core(ReplicatedNode.Event)
        case durable(LogIndex, generation: UInt64)
    }

    struct RuntimeCounters {
        var packetsReceived: UInt64 = 0
        var appendedEntries: UInt64 = 0
        var staleDurableReports: UInt64 = 0
        var fetchesServed: UInt64 = 0
        var ringFaults: UInt64 = 0
        var diskErrors: UInt64 = 0
        var queuedMax: Int = 0
    }

    init(configuration: NodeRuntimeConfiguration, eventLoop: any EventLoop, logger: Logger,
         core: ReplicatedNode, log: GroupCommitLog, diskFence: DiskFence, metrics: NodeMetrics = NodeMetrics()) {
        self.configuration = configuration
        self.eventLoop = eventLoop
        self.logger = logger
        self.voters = Voters(configuration.voters)
        self.core = core
        self.rings = RedundantRings(options: configuration.totem, localNode: configuration.nodeID)
        self.log = log
        self.diskFence = diskFence
        self.metrics = metrics
        self.ops = RuntimeOps(configuration: configuration)
    }

    /// Opens the data directory (log recovery, meta, ring seq), binds the UDP sockets and the
    /// peer listener, and returns the runtime, not started yet: call `start()`. Tests read
    /// the bound addresses in between (`totemAddresses`, `peerAddress`).
    public static func open(_ configuration: NodeRuntimeConfiguration, on eventLoop: any EventLoop,
                            logger: Logger) async throws -> NodeRuntime {
        let metrics = NodeMetrics()
        let ringLog = try RuntimeDisk.openLog(configuration, logger: logger, metrics: metrics)
        let core: ReplicatedNode
        do {
            core = try RuntimeDisk.makeCore(configuration, log: ringLog, logger: logger)
        } catch {
            ringLog.close()
            throw error
        }
        let logFirstIndex = ringLog.firstIndex
        let fence = DiskFence()
        let sink = RuntimeSink()
        let log = GroupCommitLog(ringLog, label: "ringlog.sync.\(configuration.nodeID)",
                                 gathering: RuntimeDisk.syncGathering()) { result in
            let generation = fence.generation
            sink.runtime?.durabilityReported(result, generation: generation)
        }
        let runtime = NodeRuntime(configuration: configuration, eventLoop: eventLoop, logger: logger,
                                  core: core, log: log, diskFence: fence, metrics: metrics)
        runtime.ops.logFirstIndex = logFirstIndex
        if let newest = RuntimeDisk.newestSnapshotFile(configuration) {
            runtime.ops.lastSnapshotUnixMilliseconds = newest.unixMilliseconds
            runtime.ops.snapshotPolicy.snapshotWritten(bytes: newest.bytes)
        }
        sink.runtime = runtime
        runtime.sink = sink
        do {
            runtime.transport = try await UDPTransport.bind(configuration.transport, on: eventLoop) { received in
                runtime.packetReceived(received)
            }
            runtime.peers = try await PeerChannel.bind(
                host: configuration.peerHost, port: configuration.peerPort,
                localNodeID: configuration.nodeID, on: eventLoop) { from, message in
                    runtime.enqueue(.core(.peerMessageReceived(from: from, message, at: runtime.now())))
                }
        } catch {
            await runtime.transport?.close()
            _ = try? await log.perform { $0.close() }
            throw error
        }
        return runtime
    }

    /// The bound Totem sockets, one per ring (ascending ring number).
    public var totemAddresses: [SocketAddress] { transport?.localAddresses ?? [] }
    public var peerAddress: SocketAddress? { peers?.localAddress }

    /// Feeds `.started`, sets the peers' addresses and starts the status file.
    public func start() async throws {
        try await eventLoop.submit {
            guard !self.isStarted else { return }
            self.isStarted = true
            try self.applyPeerAddresses(self.configuration.peerAddresses)
            if let interval = self.configuration.statusFileInterval {
                let ms = Int64(interval.rawValue)
                self.statusTask = self.eventLoop.scheduleRepeatedTask(initialDelay: .zero, delay: .milliseconds(ms)) { _ in
                    self.writeStatusFile()
                }
            }
            self.startStallChecks()
            self.enqueue(.core(.started(at: self.now())))
        }.get()
    }

    /// Replaces the other nodes' addresses: Totem endpoints and peer-channel endpoints (tests
    /// that bind ephemeral ports learn them after `open`).
    public func updatePeers(members: [UDPTransport.Member], peerAddresses: [NodeID: (host: String, port: Int)]) async throws {
        guard let transport else { return }
        try await transport.updateMembers(members).get()
        try await eventLoop.submit { try self.applyPeerAddresses(peerAddresses) }.get()
    }

    private func applyPeerAddresses(_ addresses: [NodeID: (host: String, port: Int)]) throws {
        var resolved: [NodeID: SocketAddress] = [:]
        for (id, endpoint) in addresses.sorted(by: { $0.key < $1.key }) {
            resolved[id] = try SocketAddress.makeAddressResolvingHost(endpoint.host, port: endpoint.port)
        }
        peers?.setPeers(resolved)
    }

    /// Drops (or restores) all traffic of one ring: an injected fault for redundant-ring tests.
    public func setRingBlocked(_ ringNumber: UInt8, _ isBlocked: Bool) async throws {
        try await transport?.setRingBlocked(ringNumber, isBlocked).get()
    }

    func now() -> Instant { Instant(nanoseconds: NIODeadline.now().uptimeNanoseconds) }

    // MARK: - The loop

    /// Queues work and steps everything queued, in order. Re-entrant calls (an action that
    /// produces an input synchronously) only queue.
    func enqueue(_ work: Work) {
        eventLoop.preconditionInEventLoop()
        guard !isStopped else { return }
        queue.append(work)
        counters.queuedMax = max(counters.queuedMax, queue.count - queueHead)
        guard !isDraining else { return }
        isDraining = true
        defer { isDraining = false }
        while queueHead < queue.count, !isStopped {
            let item = queue[queueHead]
            queueHead += 1
            switch item {
            case .core(let event):
                stepCore(event)
            case .durable(let index, let generation):
                guard generation == diskFence.generation else {
                    counters.staleDurableReports &+= 1
                    continue
                }
                stepCore(.appendDurable(through: index, at: now()))
            }
            deliverTrackEvents()
            flushProcessGroupDeliveries()
        }
        queue.removeAll(keepingCapacity: true)
        queueHead = 0
        releaseHeldTokenIfSending()
    }

    /// Called on the log's queue after each group commit.
    func durabilityReported(_ result: Result<LogIndex, RingLogError>, generation: UInt64) {
        eventLoop.execute {
            switch result {
            case .success(let index):
                self.enqueue(.durable(index, generation: generation))
            case .failure(let error):
                self.fail("the log failed: \(error)")
            }
        }
    }

    func packetReceived(_ received: UDPTransport.Received) {
        guard !isStopped else { return }
        counters.packetsReceived &+= 1
        let at = now()
        for action in rings.step(.incoming(received.packet, ringNumber: received.ringNumber, at: at)) {
            performRRP(action)
        }
    }

    /// A disk error the node cannot continue after: stop taking part (a supervisor restarts
    /// the process, which recovers from what is on disk).
    func fail(_ reason: String) {
        guard !isStopped else { return }
        counters.diskErrors &+= 1
        logger.critical("node \(configuration.nodeID) stops: \(reason)")
        stopLocally()
    }

    /// Marks the runtime stopped on the loop: answers every waiting request and ends every
    /// track. Sockets are closed by the caller.
    func stopLocally() {
        isStopped = true
        performPacer(tokenPacer.step(.stopped))
        stopStallChecks()
        statusTask?.cancel()
        statusTask = nil
        let pending = waiting.sorted { $0.key.rawValue < $1.key.rawValue }
        waiting = [:]
        for (_, continuation) in pending { continuation.resume(returning: .failure(.unknownOutcome)) }
        let streams = trackStreams.sorted { $0.key < $1.key }
        trackStreams = [:]
        for (_, stream) in streams { stream.finish() }
        finishQuorumStreams()
        endProcessGroupLinks()
    }
}

/// Lets the log's durability callback, created before the runtime, reach it.
final class RuntimeSink: @unchecked Sendable {
    private let lock = Mutex<AnyObject?>(nil)
    @available(macOS 15, *)
    var runtime: NodeRuntime? {
        get { lock.withLock { $0 } as? NodeRuntime }
        set { lock.withLock { $0 = newValue } }
    }
}

/// Counts truncations, read and bumped on the log's queue: a durability report made before a
/// truncation carries an older generation and is dropped (it may cover truncated entries).
final class DiskFence: Sendable {
    private let value = Atomic<UInt64>(0)
    var generation: UInt64 { value.load(ordering: .acquiring) }
    func bump() { value.add(1, ordering: .releasing) }
}
