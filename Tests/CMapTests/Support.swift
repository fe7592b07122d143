import Basics
@testable import CMap

/// Random keys, values and operations for property tests. Keys come from a small alphabet
/// so that sets, deletes and prefixes collide often.
struct RandomOps {
    var rng: SeededGenerator
    var keySpace: Int

    init(seed: UInt64, keySpace: Int = 200) {
        rng = SeededGenerator(seed: seed)
        self.keySpace = keySpace
    }

    mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &rng) }

    mutating func key() -> CMapKey {
        let n = int(0...(keySpace - 1))
        let groups = ["a", "a.b", "a.c", "b", "totem", "nodelist.node"]
        return CMapKey("\(groups[n % groups.count]).\(n)")
    }

    mutating func prefix() -> CMapPrefix {
        CMapPrefix(["", "a", "a.", "a.b", "b.", "totem.1", "nodelist.node.", "zzz"][int(0...7)])
    }

    mutating func bytes(maxCount: Int) -> [UInt8] {
        (0..<int(0...maxCount)).map { _ in UInt8.random(in: 0...255, using: &rng) }
    }

    mutating func value() -> CMapValue {
        switch int(0...13) {
        case 0: .int8(Int8.random(in: .min ... .max, using: &rng))
        case 1: .uint8(UInt8.random(in: .min ... .max, using: &rng))
        case 2: .int16(Int16.random(in: .min ... .max, using: &rng))
        case 3: .uint16(UInt16.random(in: .min ... .max, using: &rng))
        case 4: .int32(Int32.random(in: .min ... .max, using: &rng))
        case 5: .uint32(UInt32.random(in: .min ... .max, using: &rng))
        case 6: .int64(Int64.random(in: .min ... .max, using: &rng))
        case 7: .uint64(UInt64.random(in: .min ... .max, using: &rng))
        case 8: .float(Float(bitPattern: UInt32.random(in: .min ... .max, using: &rng)))
        case 9: .double(Double(bitPattern: rng.next()))
        case 10: .binary(bytes(maxCount: 40))
        case 11: .string(String(Int64.random(in: -1000...1000, using: &rng)))
        default: .string(bytes(maxCount: 40))
        }
    }

    mutating func operation() -> CMapOperation {
        switch int(0...19) {
        case 0: .get(key())
        case 1: .getOrDefault(key(), defaultValue: value())
        case 2, 3: .delete(key())
        case 4, 5: .adjust(key(), by: Int64.random(in: -300...300, using: &rng))
        case 6, 7: .incrementBy(key(), by: int(0...9) == 0 ? Int64.max : Int64.random(in: -50...50, using: &rng))
        case 8: .compareAndSet(key(), expectedVersion: LogIndex(UInt64(int(0...50))), value: value())
        case 9: .count(prefix())
        case 10: .list(prefix(), after: int(0...1) == 0 ? nil : key(), limit: UInt32(int(0...30)))
        default: .set(key(), value())
        }
    }

    /// A state after `steps` random operations, some with client ids and retried requests.
    mutating func state(steps: Int, limits: CMapLimits = CMapLimits(maxClients: 8)) -> CMapState {
        var s = CMapState(limits: limits)
        var index: UInt64 = 0
        var lastRequest: [UInt64: UInt64] = [:]
        for _ in 0..<steps {
            index += UInt64(int(1...3))
            if int(0...3) == 0 {
                let client = UInt64(int(1...12))
                let retry = int(0...4) == 0
                let request = retry ? lastRequest[client, default: 1] : lastRequest[client, default: 0] + 1
                lastRequest[client] = request
                _ = s.apply(operation(), at: LogIndex(index), client: ClientID(client), requestID: request)
            } else {
                _ = s.apply(operation(), at: LogIndex(index))
            }
        }
        return s
    }
}

func allEntries(_ s: CMapState) -> [(CMapKey, CMapEntry)] {
    var out: [(CMapKey, CMapEntry)] = []
    s.forEach { out.append(($0, $1)); return true }
    return out
}
