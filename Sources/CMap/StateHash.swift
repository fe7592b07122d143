import Basics

/// The state hash the simulator compares across nodes (DESIGN.md section 8, "all nodes that
/// applied index i have the same state hash at i").
///
/// It is the wrapping sum of a 64-bit hash of every entry (key, type, value, version) and of
/// every duplicate-table record, so a change updates it in O(1): subtract the old item's hash,
/// add the new one's. A sum (not XOR) so two equal items do not cancel. Deterministic across
/// processes (Swift's `Hasher` is seeded per process, so it cannot be used). Not
/// cryptographic: it detects divergence, it does not resist an adversary.
enum StateHash {
    static func ofEntry(key: CMapKey, _ entry: CMapEntry) -> UInt64 {
        ofEntry(key: key, type: entry.value.type, version: entry.version, valueHash: ofValue(entry.value))
    }

    /// The same from the value's hash (`ofValue`), which the store keeps per entry so that
    /// replacing a value never reads the old value's bytes.
    @inline(__always)
    static func ofEntry(key: CMapKey, type: CMapValueType, version: LogIndex, valueHash: UInt64) -> UInt64 {
        var h = mix(key.w0 ^ 0x243F_6A88_85A3_08D3)
        h = mix(h ^ key.w1 ^ UInt64(key.count))
        h = mix(h ^ key.w2)
        if !key.tail.isEmpty { h = mix(h ^ bytes(key.tail, seed: 0x3707_3441_3C6E_B9A5)) }
        h = mix(h ^ UInt64(type.rawValue) ^ (version.rawValue &* 0x9E37_79B9_7F4A_7C15))
        return mix(h ^ valueHash)
    }

    static func ofDuplicate(client: ClientID, _ record: DuplicateRecord) -> UInt64 {
        var h = mix(client.rawValue ^ 0x1319_8A2E_0370_7344)
        h = mix(h ^ record.requestID)
        h = mix(h ^ record.index.rawValue)
        return mix(h ^ ofResult(record.result))
    }

    /// The results writes give are hashed directly; the rare others through their encoding.
    static func ofResult(_ result: CMapResult) -> UInt64 {
        switch result {
        case .ok: mix(0x0101)
        case .notFound: mix(0x0303)
        case .integer(let i): mix(0x0404 ^ mix(UInt64(bitPattern: i)))
        case .versionMismatch(let current): mix(0x0707 ^ mix(current.rawValue))
        case .value(let v, let version): mix(0x0202 ^ mix(ofValue(v) ^ mix(version.rawValue ^ UInt64(v.type.rawValue))))
        case .batch(let results) where results.allSatisfy(isOK): ofOKBatch(count: results.count)
        default: bytes(CMapCodec.encode(result), seed: resultSeed)
        }
    }

    private static let resultSeed: UInt64 = 0xA409_3822_299F_31D0

    private static func isOK(_ result: CMapResult) -> Bool {
        if case .ok = result { return true }
        return false
    }

    /// `bytes(CMapCodec.encode(.batch(results)), seed: resultSeed)` for a batch whose results
    /// are all `.ok` (a pipelined batch of SETs, hashed into its duplicate-table record once
    /// per entry), from the same bytes built on the stack: tag 9, the count (u32
    /// little-endian), then tag 1 per result. The value must not change: snapshots store the
    /// sum and their decoder recomputes it (docs/snapshot-format.md).
    static func ofOKBatch(count: Int) -> UInt64 {
        let n = UInt32(truncatingIfNeeded: count)
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 5 &+ Int(n)) { buffer in
            buffer.initialize(repeating: 1)
            buffer[0] = 9
            buffer[1] = UInt8(truncatingIfNeeded: n)
            buffer[2] = UInt8(truncatingIfNeeded: n >> 8)
            buffer[3] = UInt8(truncatingIfNeeded: n >> 16)
            buffer[4] = UInt8(truncatingIfNeeded: n >> 24)
            return bytes(UnsafeRawBufferPointer(buffer), seed: resultSeed)
        }
    }

    static func ofValue(_ value: CMapValue) -> UInt64 {
        switch value {
        case .int8(let v): mix(UInt64(UInt8(bitPattern: v)))
        case .uint8(let v): mix(UInt64(v))
        case .int16(let v): mix(UInt64(UInt16(bitPattern: v)))
        case .uint16(let v): mix(UInt64(v))
        case .int32(let v): mix(UInt64(UInt32(bitPattern: v)))
        case .uint32(let v): mix(UInt64(v))
        case .int64(let v): mix(UInt64(bitPattern: v))
        case .uint64(let v): mix(v)
        case .float(let v): mix(UInt64(v.bitPattern))
        case .double(let v): mix(v.bitPattern)
        case .string(let b), .binary(let b): bytes(b, seed: 0x082E_FA98_EC4E_6C89)
        }
    }

    /// A word-at-a-time hash of a byte string: multiply-rotate per 8 bytes, murmur3's
    /// finaliser at the end, the length folded in.
    static func bytes(_ b: [UInt8], seed: UInt64) -> UInt64 {
        b.withUnsafeBytes { bytes($0, seed: seed) }
    }

    static func bytes(_ raw: UnsafeRawBufferPointer, seed: UInt64) -> UInt64 {
        var h = seed ^ (UInt64(raw.count) &* 0xFF51_AFD7_ED55_8CCD)
        var i = 0
        let n = raw.count
        while n - i >= 8 {
            let w = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: i, as: UInt64.self))
            h = rotate(h ^ (w &* 0x87C3_7B91_1142_53D5), 31) &* 0x4CF5_AD43_2745_937F
            i += 8
        }
        var tail: UInt64 = 0
        var shift: UInt64 = 0
        while i < n {
            tail |= UInt64(raw[i]) << shift
            shift += 8
            i += 1
        }
        return mix(h ^ tail)
    }

    @inline(__always)
    static func rotate(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    /// murmur3's 64-bit finaliser.
    @inline(__always)
    static func mix(_ x: UInt64) -> UInt64 {
        var z = x
        z = (z ^ (z >> 33)) &* 0xFF51_AFD7_ED55_8CCD
        z = (z ^ (z >> 33)) &* 0xC4CE_B9FE_1A85_EC53
        return z ^ (z >> 33)
    }
}
