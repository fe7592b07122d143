import Foundation
import NIOPosix
import Node
import Testing

/// redis-cli and redis-benchmark against the server (skipped when redis-tools is missing).
@Suite("Client server: redis-cli and redis-benchmark")
struct ClientServerRedisToolsTests {
    static let cli = "/usr/bin/redis-cli"
    static let benchmark = "/usr/bin/redis-benchmark"

    /// Runs a tool, killed after `timeout`; returns (exit status, standard output + error).
    static func run(_ path: String, _ arguments: [String], timeout: Duration = .seconds(120)) async throws -> (Int32, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        let watchdog = Task {
            guard (try? await Task.sleep(for: timeout)) != nil else { return }
            process.terminate()
        }
        defer { watchdog.cancel() }
        let output: Data = try await withCheckedThrowingContinuation { continuation in
            process.terminationHandler = { _ in
                continuation.resume(returning: pipe.fileHandleForReading.readDataToEndOfFile())
            }
            do {
                try process.run()
            } catch {
                continuation.resume(throwing: error)
            }
        }
        return (process.terminationStatus, String(decoding: output, as: UTF8.self))
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: cli)))
    func redisCLI() async throws {
        try await ClientServerFixture.run { fixture throws in
            let port = ["-p", String(fixture.port)]
            #expect(try await Self.run(Self.cli, port + ["PING"]) == (0, "PONG\n"))
            #expect(try await Self.run(Self.cli, port + ["SET", "tool:a", "hello"]) == (0, "OK\n"))
            #expect(try await Self.run(Self.cli, port + ["GET", "tool:a"]) == (0, "hello\n"))
            #expect(try await Self.run(Self.cli, port + ["SET", "tool:b", "x"]).0 == 0)
            #expect(try await Self.run(Self.cli, port + ["--scan", "--pattern", "tool:*"]) == (0, "tool:a\ntool:b\n"))
            #expect(try await Self.run(Self.cli, port + ["CMAP.GET", "tool:a"]) == (0, "str\nhello\n1\n"))
        }
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: benchmark)))
    func redisBenchmark() async throws {
        try await ClientServerFixture.run { fixture throws in
            for pipeline in ["1", "16"] {
                let (status, output) = try await Self.run(
                    Self.benchmark,
                    ["-p", String(fixture.port), "-t", "set,get", "-n", "2000", "-c", "4", "-d", "64", "-P", pipeline, "-q"])
                #expect(status == 0, "\(output)")
                #expect(output.contains("SET: ") && output.contains("GET: "), "\(output)")
                #expect(!output.contains("ERR"), "\(output)")
            }
        }
    }
}
