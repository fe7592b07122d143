import Basics
import Foundation
import RingLog
import Simulation

/// The two disks every rule is checked on.
enum DiskKind: String, CaseIterable, Sendable, CustomStringConvertible {
    case file, simulated
    var description: String { rawValue }
}

/// Runs `body` with a fresh disk and a node directory on it; a real one lives in a
/// temporary directory that is removed afterwards.
func withDisk<T>(_ kind: DiskKind, seed: UInt64 = 1, _ body: (any Disk, String) throws -> T) throws -> T {
    switch kind {
    case .file:
        return try withTemporaryDirectory { try body(FileDisk(), $0) }
    case .simulated:
        return try body(SimulatedDisk(seed: seed), "/node")
    }
}

func withTemporaryDirectory<T>(_ body: (String) throws -> T) throws -> T {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("ringlog-test-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: url) }
    return try body(url.path)
}

func withTemporaryDirectoryAsync(_ body: (String) async throws -> Void) async throws {
    let url = FileManager.default.temporaryDirectory
        .appendingPathComponent("ringlog-test-\(UUID().uuidString)", isDirectory: true)
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: url) }
    try await body(url.path)
}

/// A record whose payload is a function of its index, so any mix-up is visible.
func record(_ index: UInt64, epoch: UInt64 = 1, payloadBytes: Int = 16, type: UInt8 = 1) -> LogRecord {
    LogRecord(
        index: LogIndex(index), epoch: Epoch(epoch), type: type,
        payload: (0..<payloadBytes).map { UInt8(truncatingIfNeeded: index &* 131 &+ UInt64($0)) })
}

func records(_ range: ClosedRange<UInt64>, epoch: UInt64 = 1, payloadBytes: Int = 16) -> [LogRecord] {
    range.map { record($0, epoch: epoch, payloadBytes: payloadBytes) }
}

/// Damages one byte of a file through the `Disk` API, so it works on both disks.
func flipByte(_ disk: any Disk, path: String, offset: UInt64) throws {
    let handle = try disk.open(path, mode: .existing)
    defer { disk.close(handle) }
    var byte = try disk.read(handle, at: offset, count: 1)
    byte[0] ^= 0x40
    try disk.write(handle, at: offset, byte)
    try disk.sync(handle)
}

func appendBytes(_ disk: any Disk, path: String, _ bytes: [UInt8]) throws {
    let handle = try disk.open(path, mode: .existing)
    defer { disk.close(handle) }
    try disk.write(handle, at: try disk.size(of: handle), bytes)
    try disk.sync(handle)
}

func fileSize(_ disk: any Disk, _ path: String) throws -> UInt64 {
    let handle = try disk.open(path, mode: .existing)
    defer { disk.close(handle) }
    return try disk.size(of: handle)
}

func segmentNames(_ disk: any Disk, _ directory: String) throws -> [String] {
    try disk.list(directory: directory + "/log").filter { $0.hasSuffix(".seg") }
}

func allRecords(_ log: RingLog) throws -> [LogRecord] {
    try log.read(from: log.firstIndex, through: log.lastIndex)
}

let smallSegments = RingLogOptions(segmentBytesMax: 512, writeBufferBytesMax: 256)
