import Foundation
import RESP
import Synchronization
import Testing

/// SIGSTOP of a node beyond the token timeout, then SIGCONT (the seed's FAQ "what to do when
/// corosync hangs"). The token holder is not observable from outside, so node 3 is paused
/// while it takes part in the token rotation like every other member.
@Suite(.serialized)
struct PausedNodeTests {
    /// A writer and a linearizable reader on node 1 (and a reader on node 2) run throughout;
    /// node 3 is paused until the others form a ring without it, then resumed. Every
    /// acknowledged write is on every node afterwards, and no read returned a value older
    /// than a write acknowledged before the read started.
    @Test(.timeLimit(.minutes(6))) func pausedNodeLosesNothingAcknowledgedAndNoReadIsStale() async throws {
        let (cluster, formed) = try await ProcessCluster.formed()
        defer {
            cluster.send(SIGCONT, to: 3)
            cluster.stopAll()
        }
        #expect(formed, "\(formed ? "" : cluster.logTails())")
        guard formed else { return }

        let history = ClientHistory()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await Self.write(through: 1, cluster: cluster, history: history) }
            group.addTask { await Self.read(at: 1, cluster: cluster, history: history) }
            group.addTask { await Self.read(at: 2, cluster: cluster, history: history) }

            // Phase 1: all three up.
            #expect(await cluster.eventually { history.acknowledged.count >= 20 })
            cluster.send(SIGSTOP, to: 3)
            // Phase 2: beyond the token timeout (300 ms): nodes 1 and 2 form a ring without 3.
            let shrunk = await cluster.eventually { cluster.allQuorate(members: [1, 2], among: [1, 2]) }
            #expect(shrunk, "\(shrunk ? "" : cluster.logTails())")
            let duringPause = history.acknowledged.count
            #expect(await cluster.eventually { history.acknowledged.count >= duringPause + 20 })
            cluster.send(SIGCONT, to: 3)
            // Phase 3: node 3 comes back with its stale beliefs and rejoins.
            let rejoined = await cluster.eventually { cluster.allQuorate(members: [1, 2, 3]) }
            #expect(rejoined, "\(rejoined ? "" : cluster.logTails())")
            let afterResume = history.acknowledged.count
            #expect(await cluster.eventually { history.acknowledged.count >= afterResume + 20 })
            // The resumed node noticed that its loop did not run beyond the token timeout, and
            // says so (watchdog off: it carries on).
            let stalls = try await cluster.call(3, ["INFO", "stalls"])
            #expect(Int(stalls.infoField("stalls_loop") ?? "") ?? 0 >= 1, "\(stalls.cliText())")
            #expect(Int(stalls.infoField("loop_stall_longest_ms") ?? "") ?? 0 > 300, "\(stalls.cliText())")
            #expect(cluster.status(of: 3)?["last_stall"] is [String: Any])
            history.finish()
            try await group.waitForAll()
        }

        #expect(history.staleReads.isEmpty, "stale reads: \(history.staleReads.prefix(10))")
        #expect(history.readsChecked >= 10, "only \(history.readsChecked) reads answered")
        // Every acknowledged write, on every node (a linearizable GET at each).
        let acknowledged = history.acknowledged
        #expect(!acknowledged.isEmpty)
        for id in 1...3 {
            var missing: [Int] = []
            for n in acknowledged {
                let value = await cluster.getAnswered(id, "k.\(n)")
                if value?.string != String(n) { missing.append(n) }
                if missing.count > 10 { break }
            }
            #expect(missing.isEmpty, "node \(id) lacks acknowledged writes \(missing)")
        }
    }

    /// With `runtime { watchdog: on }`, the paused node does not carry on with its stale
    /// beliefs once resumed: it exits with status 75 and a message saying why, and a restart
    /// (what a supervisor would do) rejoins. A longer token keeps the busy machine's ordinary
    /// scheduling delays far from the watchdog's bound on the nodes that are not paused.
    @Test(.timeLimit(.minutes(5))) func watchdogEndsANodeResumedAfterTheTokenTimeout() async throws {
        let (cluster, formed) = try await ProcessCluster.formed { cluster in
            try cluster.editConfiguration {
                $0.replacingOccurrences(of: " token: 300\n", with: " token: 2000\n token_warning: 50\n")
                    + "runtime {\n watchdog: on\n}\n"
            }
        }
        defer {
            cluster.send(SIGCONT, to: 3)
            cluster.stopAll()
        }
        #expect(formed, "\(formed ? "" : cluster.logTails())")
        guard formed else { return }

        cluster.send(SIGSTOP, to: 3)
        let shrunk = await cluster.eventually { cluster.allQuorate(members: [1, 2], among: [1, 2]) }
        #expect(shrunk, "\(shrunk ? "" : cluster.logTails())")
        cluster.send(SIGCONT, to: 3)
        let status = await cluster.exitStatus(3)
        #expect(status == 75, "node 3: \(status.map(String.init) ?? "still running")\n\(cluster.logTails())")
        let log = (try? String(contentsOfFile: cluster.root + "/node-3.log", encoding: .utf8)) ?? ""
        #expect(log.contains("watchdog") && log.contains("longer than the 2000 ms token timeout"), "\(cluster.logTails())")

        // The supervisor's restart: node 3 recovers from its files and rejoins.
        try cluster.start(3)
        let rejoined = await cluster.eventually { cluster.allQuorate(members: [1, 2, 3]) }
        #expect(rejoined, "\(rejoined ? "" : cluster.logTails())")
        #expect(await cluster.setAcknowledged(3, "after.watchdog", "1") == .ok)
        // The nodes that were not paused never tripped their own watchdog.
        for id in 1...2 { #expect(cluster.processes[id]?.isRunning == true) }
        let stalls = try await cluster.call(1, ["INFO", "stalls"])
        #expect(stalls.infoField("stalls_loop") != nil, "\(stalls.cliText())")
    }

    /// Writes `k.i = i`, then `reg = i`, for i = 1, 2, ... until told to stop (bounded by
    /// 20,000 writes). A write is acknowledged only by its OK.
    static func write(through id: Int, cluster: ProcessCluster, history: ClientHistory) async {
        var n = 0
        while !history.isFinished && n < 20_000 {
            n += 1
            guard (try? await cluster.call(id, ["SET", "k.\(n)", String(n)], timeout: .seconds(15))) == .ok else { continue }
            history.acknowledge(key: n)
            if (try? await cluster.call(id, ["SET", "reg", String(n)], timeout: .seconds(15))) == .ok {
                history.acknowledge(register: n)
            }
        }
    }

    /// Linearizable reads (the connection's default mode) of `reg` and of the last
    /// acknowledged `k.i`, each checked against what was acknowledged before it started.
    static func read(at id: Int, cluster: ProcessCluster, history: ClientHistory) async {
        var reads = 0
        while !history.isFinished && reads < 20_000 {
            reads += 1
            let (register, key) = history.acknowledgedNow
            if let reply = try? await cluster.call(id, ["GET", "reg"], timeout: .seconds(15)), !reply.isError {
                let value = reply.string.flatMap { Int($0) } ?? 0
                history.check(value >= register, "GET reg at node \(id) returned \(value) after reg = \(register) was acknowledged")
            }
            guard key > 0 else { continue }
            if let reply = try? await cluster.call(id, ["GET", "k.\(key)"], timeout: .seconds(15)), !reply.isError {
                history.check(reply.string == String(key), "GET k.\(key) at node \(id) returned \(reply.cliText()) after it was acknowledged")
            }
        }
    }
}

/// What the clients saw, shared between their tasks.
final class ClientHistory: Sendable {
    private struct State {
        var acknowledged: [Int] = []
        var register = 0
        var staleReads: [String] = []
        var readsChecked = 0
        var isFinished = false
    }

    private let state = Mutex(State())

    func acknowledge(key: Int) { state.withLock { $0.acknowledged.append(key) } }
    func acknowledge(register value: Int) { state.withLock { $0.register = max($0.register, value) } }

    /// The register value and the last key acknowledged so far.
    var acknowledgedNow: (register: Int, key: Int) {
        state.withLock { ($0.register, $0.acknowledged.last ?? 0) }
    }

    func check(_ isFresh: Bool, _ message: @autoclosure () -> String) {
        let text = isFresh ? nil : message()
        state.withLock {
            $0.readsChecked += 1
            if let text { $0.staleReads.append(text) }
        }
    }

    func finish() { state.withLock { $0.isFinished = true } }
    var isFinished: Bool { state.withLock { $0.isFinished } }
    var acknowledged: [Int] { state.withLock { $0.acknowledged } }
    var staleReads: [String] { state.withLock { $0.staleReads } }
    var readsChecked: Int { state.withLock { $0.readsChecked } }
}
