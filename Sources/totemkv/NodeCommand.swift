import ArgumentParser
import Basics
import Dispatch
import Foundation
import Logging
import NIOCore
import NIOPosix
import Node
import TotemConfig

/// `totemkv node --config FILE [--nodeid N]`: runs one node until SIGTERM or SIGINT, then
/// leaves the ring, waits for the in-flight fsyncs and exits 0. See docs/node.md.
struct NodeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "node", abstract: "Run one node of the cluster described by a configuration file.")

    @Option(name: .long, help: "The configuration file (corosync.conf syntax).")
    var config: String

    @Option(name: .long, help: "This node's id in the nodelist (default: the node whose ring0_addr is local).")
    var nodeid: UInt32?

    func run() async throws {
        let cluster: ClusterConfig
        do {
            cluster = try ClusterConfig.load(path: config)
        } catch {
            throw fatal("\(error)")
        }
        let node = try pickNode(cluster)
        try bootstrapLogging(cluster.logging)
        let logger = Logger(label: "totemkv.node\(node.nodeID)")
        for warning in cluster.warnings { logger.warning("\(warning)") }
        var key: ClusterKey?
        if cluster.totem.cryptoCipher != "none" || cluster.totem.cryptoHash != "none" {
            do {
                let loaded = try KeyFile.load(from: cluster.totem.keyFile)
                for warning in loaded.warnings { logger.warning("\(warning)") }
                key = loaded.key
            } catch {
                throw fatal("\(error)")
            }
        }
        let configuration: NodeRuntimeConfiguration
        do {
            configuration = try NodeRuntimeConfiguration(cluster: cluster, node: node, key: key)
        } catch {
            throw fatal("\(error)")
        }
        let client = cluster.clientEndpoint(for: node)
        let password = cluster.client.password
        // The runtime gets one loop of its own; the client server shares the group.
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let holder = RuntimeHolder()
        Task {
            do {
                let runtime = try await NodeRuntime.open(configuration, on: group.next(), logger: logger)
                holder.set(runtime)
                try await runtime.start()
                let server = try await RuntimeClientServerHook.start(
                    service: runtime, host: client.address, port: Int(client.port), password: password,
                    valueBytesMax: Int(clamping: cluster.store.maxValueBytes), on: group)
                holder.keep(server)
                logger.notice("""
                    node \(node.nodeID) running: totem \(runtime.totemAddresses.map { "\($0)" }.joined(separator: ", ")), \
                    peers \(runtime.peerAddress.map { "\($0)" } ?? "-"), \
                    client \(server == nil ? "not built in" : "\(client.address):\(client.port)"), \
                    data \(configuration.dataDirectory)
                    """)
            } catch {
                FileHandle.standardError.write(Data("totemkv node: error: \(error)\n".utf8))
                Foundation.exit(1)
            }
        }
        installSignalHandlers(holder: holder, logger: logger)
        // The root command is async, so its main already drains the main queue (which the
        // signal sources use); this task just never returns. The process ends by exit().
        await withUnsafeContinuation { (_: UnsafeContinuation<Void, Never>) in }
    }

    private func pickNode(_ cluster: ClusterConfig) throws -> NodeConfig {
        if let nodeid {
            guard let node = cluster.node(id: nodeid) else {
                throw fatal("node \(nodeid) is not in the nodelist of \(config)")
            }
            return node
        }
        switch RuntimeLocalNode.find(in: cluster) {
        case .found(let node): return node
        case .none: throw fatal("no node of \(config) has a local ring0_addr: pass --nodeid")
        case .several(let ids): throw fatal("nodes \(ids) of \(config) all have local addresses: pass --nodeid")
        }
    }

    private func fatal(_ message: String) -> ExitCode {
        FileHandle.standardError.write(Data("totemkv node: error: \(message)\n".utf8))
        return ExitCode.failure
    }

    /// Standard error and/or `logfile` (appended), as the `logging` section says.
    private func bootstrapLogging(_ logging: LoggingConfig) throws {
        let level: Logger.Level
        switch logging.debug ? .debug : logging.level {
        case .emergency, .alert, .critical: level = .critical
        case .error: level = .error
        case .warning: level = .warning
        case .notice: level = .notice
        case .info: level = .info
        case .debug: level = .debug
        case .trace: level = .trace
        }
        var file: FileHandle?
        if logging.toLogfile, let path = logging.logfile {
            if !FileManager.default.fileExists(atPath: path) {
                _ = FileManager.default.createFile(atPath: path, contents: nil)
            }
            guard let handle = FileHandle(forWritingAtPath: path) else {
                throw fatal("cannot open the logfile \(path) for writing")
            }
            handle.seekToEndOfFile()
            file = handle
        }
        let sink = file.map(LogFileSink.init)
        let toStderr = logging.toStderr
        LoggingSystem.bootstrap { label in
            var handlers: [any LogHandler] = []
            if toStderr { handlers.append(StreamLogHandler.standardError(label: label)) }
            if let sink { handlers.append(StreamLogHandler(label: label, stream: sink)) }
            var handler = MultiplexLogHandler(handlers)
            handler.logLevel = level
            return handler
        }
    }

    /// SIGTERM and SIGINT: leave cleanly and exit 0. A second signal exits at once.
    private func installSignalHandlers(holder: RuntimeHolder, logger: Logger) {
        for sig in [SIGTERM, SIGINT] {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .main)
            source.setEventHandler {
                guard holder.beginStopping() else { Foundation.exit(1) }
                logger.notice("signal \(sig): leaving the ring")
                Task {
                    await holder.runtime?.stop()
                    Foundation.exit(0)
                }
            }
            source.resume()
            holder.keep(source)
        }
    }
}

/// Appends log lines to the configured logfile (one write per line, under a lock).
final class LogFileSink: TextOutputStream, @unchecked Sendable {
    private let handle: FileHandle
    private let lock = NSLock()
    init(_ handle: FileHandle) { self.handle = handle }
    func write(_ string: String) {
        lock.withLock { handle.write(Data(string.utf8)) }
    }
}

/// What the signal handlers need, set from the start task.
final class RuntimeHolder: @unchecked Sendable {
    private let lock = NSLock()
    private var _runtime: NodeRuntime?
    private var kept: [Any] = []
    private var stopping = false

    var runtime: NodeRuntime? { lock.withLock { _runtime } }
    func set(_ runtime: NodeRuntime) { lock.withLock { _runtime = runtime } }
    func keep(_ value: Any?) {
        guard let value else { return }
        lock.withLock { kept.append(value) }
    }
    /// True the first time only.
    func beginStopping() -> Bool {
        lock.withLock {
            defer { stopping = true }
            return !stopping
        }
    }
}
