import Basics
import Zstd

/// A voter of the configuration a snapshot was taken in (nodelist votes).
public struct SnapshotVoter: Equatable, Sendable {
    public var nodeID: NodeID
    public var votes: UInt32
    public init(nodeID: NodeID, votes: UInt32) {
        self.nodeID = nodeID
        self.votes = votes
    }
}

/// What a snapshot says about itself; readable without decompressing the body.
public struct CMapSnapshotHeader: Equatable, Sendable {
    /// The commit index the state is at (every entry up to it is applied).
    public var index: LogIndex
    /// The epoch of the entry at `index`.
    public var epoch: Epoch
    public var voters: [SnapshotVoter]
    public var entryCount: UInt64
    public var duplicateCount: UInt64
    public var stateHash: UInt64
    public var rawBodyBytes: UInt64
    public var compressedBodyBytes: UInt64
    public var rawBodyCRC: UInt32
    public var compressedBodyCRC: UInt32
}

/// Snapshot encoding and decoding; the format is docs/snapshot-format.md. Pure functions of
/// bytes (the file handling is `SnapshotStore`), so a captured state can be encoded on
/// any thread while the original goes on applying.
public enum CMapSnapshot {
    public static let magic: [UInt8] = Array("TKVSNAP\0".utf8)
    public static let formatVersion: UInt32 = 1
    /// Magic, format version, header length.
    static let prefixBytes = 16
    static let maxVoters = 1024
    /// Fixed header fields, up to and including the voter count.
    static let fixedHeaderBytes = 8 * 7 + 4 * 3
    /// Smallest encoded entry (1-byte key: length, key, type, 1-byte value, version) and record.
    static let minEntryBytes = 1 + 1 + 1 + 1 + 8
    static let minRecordBytes = 8 + 8 + 8 + 1
    /// Default bound on the decompressed body: 16 GiB.
    public static let defaultMaxRawBodyBytes = 16 << 30
    static let chunkBytes = 1 << 20
    /// zstd level 1: on 1M 100-byte text values it encodes 1.5 to 3 times faster than level 3
    /// (depending on the machine's load) for a file 4 % larger (Bench/results/cmap-2026-11-25.md).
    public static let defaultCompressionLevel: Int32 = 1

    /// Encodes the state (all of it, at `state.appliedIndex`). Throws only if zstd fails.
    public static func encode(
        _ state: CMapState, epoch: Epoch, voters: [SnapshotVoter], compressionLevel: Int32 = defaultCompressionLevel
    ) throws -> [UInt8] {
        precondition(voters.count <= maxVoters, "snapshot: \(voters.count) voters, at most \(maxVoters)")
        let compressor = try ZstdCompressor(level: compressionLevel)
        var compressed: [UInt8] = []
        var rawBytes: UInt64 = 0
        var rawCRC: UInt32 = 0
        var chunk = ByteWriter(reservingCapacity: chunkBytes + 4096)
        var failure: Error?
        func flush() {
            guard failure == nil else { return }
            rawBytes &+= UInt64(chunk.bytes.count)
            rawCRC = CRC32C.checksum(chunk.bytes, continuing: rawCRC)
            do { compressed += try compressor.compress(chunk.bytes) } catch { failure = error }
            chunk.bytes.removeAll(keepingCapacity: true)
        }
        state.entries.forEach { key, entry in
            chunk.key(key)
            chunk.value(entry.value)
            chunk.u64(entry.version.rawValue)
            if chunk.bytes.count >= chunkBytes { flush() }
            return failure == nil
        }
        state.duplicates.forEach { client, record in
            chunk.u64(client.rawValue)
            chunk.u64(record.requestID)
            chunk.u64(record.index.rawValue)
            chunk.result(record.result)
            if chunk.bytes.count >= chunkBytes { flush() }
        }
        flush()
        if let failure { throw failure }
        compressed += try compressor.finish()

        let header = CMapSnapshotHeader(
            index: state.appliedIndex, epoch: epoch, voters: voters,
            entryCount: UInt64(state.count), duplicateCount: UInt64(state.duplicates.count),
            stateHash: state.stateHash, rawBodyBytes: rawBytes,
            compressedBodyBytes: UInt64(compressed.count), rawBodyCRC: rawCRC,
            compressedBodyCRC: CRC32C.checksum(compressed))
        var out = encodeHeader(header)
        out.reserveCapacity(out.count + compressed.count)
        out += compressed
        return out
    }

    static func encodeHeader(_ h: CMapSnapshotHeader) -> [UInt8] {
        var fields = ByteWriter()
        fields.u64(h.index.rawValue)
        fields.u64(h.epoch.rawValue)
        fields.u64(h.stateHash)
        fields.u64(h.entryCount)
        fields.u64(h.duplicateCount)
        fields.u64(h.rawBodyBytes)
        fields.u64(h.compressedBodyBytes)
        fields.u32(h.rawBodyCRC)
        fields.u32(h.compressedBodyCRC)
        fields.u32(UInt32(h.voters.count))
        for v in h.voters {
            fields.u32(v.nodeID.rawValue)
            fields.u32(v.votes)
        }
        var w = ByteWriter(reservingCapacity: prefixBytes + fields.bytes.count + 4)
        w.raw(magic)
        w.u32(formatVersion)
        w.u32(UInt32(fields.bytes.count))
        w.raw(fields.bytes)
        w.u32(CRC32C.checksum(w.bytes))
        return w.bytes
    }

    /// Reads and verifies the header (magic, version, length, checksum, plausible counts).
    /// Returns it with the offset where the compressed body starts.
    public static func decodeHeader(_ bytes: [UInt8]) throws(SnapshotError) -> (header: CMapSnapshotHeader, bodyOffset: Int) {
        guard bytes.count >= magic.count, bytes.starts(with: magic) else { throw .notASnapshot }
        var r = ByteReader(bytes, offset: magic.count)
        do {
            let version = try r.u32()
            guard version == formatVersion else { throw SnapshotError.unsupportedFormatVersion(version) }
            let length = Int(try r.u32())
            guard length >= fixedHeaderBytes, length <= fixedHeaderBytes + 8 * maxVoters else {
                throw SnapshotError.corruptHeader("header length \(length) is impossible")
            }
            guard bytes.count >= prefixBytes + length + 4 else {
                throw SnapshotError.wrongLength(expectedBytes: UInt64(prefixBytes + length + 4), actualBytes: bytes.count)
            }
            var crcReader = ByteReader(bytes, offset: prefixBytes + length)
            let storedCRC = try crcReader.u32()
            let actualCRC = bytes.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[0..<(prefixBytes + length)])) }
            guard storedCRC == actualCRC else { throw SnapshotError.checksumMismatch("header") }
            var h = CMapSnapshotHeader(
                index: LogIndex(try r.u64()), epoch: Epoch(try r.u64()), voters: [],
                entryCount: 0, duplicateCount: 0, stateHash: 0, rawBodyBytes: 0,
                compressedBodyBytes: 0, rawBodyCRC: 0, compressedBodyCRC: 0)
            h.stateHash = try r.u64()
            h.entryCount = try r.u64()
            h.duplicateCount = try r.u64()
            h.rawBodyBytes = try r.u64()
            h.compressedBodyBytes = try r.u64()
            h.rawBodyCRC = try r.u32()
            h.compressedBodyCRC = try r.u32()
            let voterCount = Int(try r.u32())
            guard length == fixedHeaderBytes + 8 * voterCount else {
                throw SnapshotError.corruptHeader("header length \(length) does not fit \(voterCount) voters")
            }
            for _ in 0..<voterCount {
                h.voters.append(SnapshotVoter(nodeID: NodeID(try r.u32()), votes: try r.u32()))
            }
            return (h, prefixBytes + length + 4)
        } catch let e as SnapshotError {
            throw e
        } catch {
            throw .corruptHeader("\(error)")
        }
    }

    /// Verifies everything and rebuilds the state. `maxRawBodyBytes` bounds the memory that
    /// decompression may take, whatever the header claims.
    public static func decode(
        _ bytes: [UInt8], limits: CMapLimits = CMapLimits(), maxRawBodyBytes: Int = defaultMaxRawBodyBytes
    ) throws(SnapshotError) -> (header: CMapSnapshotHeader, state: CMapState) {
        let (h, bodyOffset) = try decodeHeader(bytes)
        let (expected, o) = UInt64(bodyOffset).addingReportingOverflow(h.compressedBodyBytes)
        guard !o, expected == UInt64(bytes.count) else {
            throw .wrongLength(expectedBytes: o ? .max : expected, actualBytes: bytes.count)
        }
        let compressed = Array(bytes[bodyOffset...])
        guard CRC32C.checksum(compressed) == h.compressedBodyCRC else { throw .checksumMismatch("compressed body") }
        guard h.rawBodyBytes <= UInt64(maxRawBodyBytes) else {
            throw .tooLarge(rawBodyBytes: h.rawBodyBytes, limitBytes: maxRawBodyBytes)
        }
        let (entriesMin, o1) = h.entryCount.multipliedReportingOverflow(by: UInt64(minEntryBytes))
        let (recordsMin, o2) = h.duplicateCount.multipliedReportingOverflow(by: UInt64(minRecordBytes))
        let (minimum, o3) = entriesMin.addingReportingOverflow(recordsMin)
        guard !o1, !o2, !o3, minimum <= h.rawBodyBytes else {
            throw .corruptHeader("\(h.entryCount) entries and \(h.duplicateCount) records cannot fit in \(h.rawBodyBytes) bytes")
        }
        let raw: [UInt8]
        do {
            raw = try Zstd.decompress(compressed, maxDecompressedBytes: Int(h.rawBodyBytes))
        } catch let e as ZstdError {
            throw .decompressionFailed(e)
        } catch {
            throw .decompressionFailed(.failed("\(error)"))
        }
        guard UInt64(raw.count) == h.rawBodyBytes else {
            throw .corruptBody("decompressed to \(raw.count) bytes, the header says \(h.rawBodyBytes)")
        }
        guard CRC32C.checksum(raw) == h.rawBodyCRC else { throw .checksumMismatch("decompressed body") }
        let state: CMapState
        do {
            state = try decodeBody(raw, header: h, limits: limits)
        } catch {
            throw .corruptBody(error.description)
        }
        guard state.stateHash == h.stateHash else { throw .corruptBody("state hash differs from the header's") }
        return (h, state)
    }

    private static func decodeBody(_ raw: [UInt8], header h: CMapSnapshotHeader, limits: CMapLimits) throws(CMapDecodingError) -> CMapState {
        var r = ByteReader(raw)
        let n = Int(h.entryCount)
        var keys: [CMapKey] = []
        var entries: [CMapEntry] = []
        var valueHashes: [UInt64] = []
        keys.reserveCapacity(n)
        entries.reserveCapacity(n)
        valueHashes.reserveCapacity(n)
        var hash: UInt64 = 0
        for _ in 0..<n {
            let key = try r.key()
            let value = try r.value()
            let version = LogIndex(try r.u64())
            if let last = keys.last, !(last < key) { throw r.fail("key \(key) is not after \(last)") }
            guard version <= h.index, version > .zero else { throw r.fail("key \(key) has version \(version), snapshot index \(h.index)") }
            let valueHash = StateHash.ofValue(value)
            hash &+= StateHash.ofEntry(key: key, type: value.type, version: version, valueHash: valueHash)
            keys.append(key)
            entries.append(CMapEntry(value: value, version: version))
            valueHashes.append(valueHash)
        }
        var state = CMapState(limits: limits)
        state.entries = KeyTree(sortedKeys: keys, entries: entries, valueHashes: valueHashes)
        state.entriesHash = hash
        state.appliedIndex = h.index
        var lastClient: ClientID? = nil
        for _ in 0..<Int(h.duplicateCount) {
            let client = ClientID(try r.u64())
            let requestID = try r.u64()
            let index = LogIndex(try r.u64())
            let result = try r.result()
            if let lastClient, !(lastClient < client) { throw r.fail("client \(client) is not after \(lastClient)") }
            guard index <= h.index else { throw r.fail("record of client \(client) at index \(index) after the snapshot") }
            lastClient = client
            state.duplicates.record(DuplicateRecord(requestID: requestID, index: index, result: result), for: client)
        }
        try r.expectEnd()
        guard state.duplicates.count == Int(h.duplicateCount) else {
            throw r.fail("duplicate table holds \(state.duplicates.count) of \(h.duplicateCount) records (shared indexes or too many clients)")
        }
        return state
    }
}
