import Basics

/// The value types of corosync's CMAP, with corosync's numbering (`cmap_value_types_t`), which
/// is also the tag in our codecs and snapshots.
public enum CMapValueType: UInt8, CaseIterable, Sendable, CustomStringConvertible {
    case int8 = 1, uint8, int16, uint16, int32, uint32, int64, uint64, float, double, string, binary

    public var description: String {
        switch self {
        case .int8: "i8"
        case .uint8: "u8"
        case .int16: "i16"
        case .uint16: "u16"
        case .int32: "i32"
        case .uint32: "u32"
        case .int64: "i64"
        case .uint64: "u64"
        case .float: "flt"
        case .double: "dbl"
        case .string: "str"
        case .binary: "bin"
        }
    }

    public var isInteger: Bool { rawValue <= CMapValueType.uint64.rawValue }
}

/// A typed value. Strings are binary-safe byte strings (a Redis `SET` stores any bytes), so
/// `string` and `binary` differ only in their type tag, as in corosync.
public enum CMapValue: Sendable, Hashable, CustomStringConvertible {
    case int8(Int8)
    case uint8(UInt8)
    case int16(Int16)
    case uint16(UInt16)
    case int32(Int32)
    case uint32(UInt32)
    case int64(Int64)
    case uint64(UInt64)
    case float(Float)
    case double(Double)
    case string([UInt8])
    case binary([UInt8])

    public static func string(_ s: String) -> CMapValue { .string(Array(s.utf8)) }

    public var type: CMapValueType {
        switch self {
        case .int8: .int8
        case .uint8: .uint8
        case .int16: .int16
        case .uint16: .uint16
        case .int32: .int32
        case .uint32: .uint32
        case .int64: .int64
        case .uint64: .uint64
        case .float: .float
        case .double: .double
        case .string: .string
        case .binary: .binary
        }
    }

    /// Bytes the value occupies (the limit `maxValueBytes` applies to this).
    public var byteCount: Int {
        switch self {
        case .int8, .uint8: 1
        case .int16, .uint16: 2
        case .int32, .uint32, .float: 4
        case .int64, .uint64, .double: 8
        case .string(let b), .binary(let b): b.count
        }
    }

    /// Equality is bytewise, as corosync's memcmp: a NaN equals the same NaN, and 0.0 differs
    /// from -0.0. This keeps "setting an identical value is a no-op" and state equality exact.
    public static func == (a: CMapValue, b: CMapValue) -> Bool {
        switch (a, b) {
        case (.int8(let x), .int8(let y)): x == y
        case (.uint8(let x), .uint8(let y)): x == y
        case (.int16(let x), .int16(let y)): x == y
        case (.uint16(let x), .uint16(let y)): x == y
        case (.int32(let x), .int32(let y)): x == y
        case (.uint32(let x), .uint32(let y)): x == y
        case (.int64(let x), .int64(let y)): x == y
        case (.uint64(let x), .uint64(let y)): x == y
        case (.float(let x), .float(let y)): x.bitPattern == y.bitPattern
        case (.double(let x), .double(let y)): x.bitPattern == y.bitPattern
        // Eight bytes per step (Array's == compares element by element).
        case (.string(let x), .string(let y)): x.count == y.count && compareBytes(x, y) == 0
        case (.binary(let x), .binary(let y)): x.count == y.count && compareBytes(x, y) == 0
        default: false
        }
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(type.rawValue)
        switch self {
        case .float(let x): hasher.combine(x.bitPattern)
        case .double(let x): hasher.combine(x.bitPattern)
        default: hasher.combine(StateHash.ofValue(self))
        }
    }

    public var description: String {
        switch self {
        case .int8(let v): "i8 \(v)"
        case .uint8(let v): "u8 \(v)"
        case .int16(let v): "i16 \(v)"
        case .uint16(let v): "u16 \(v)"
        case .int32(let v): "i32 \(v)"
        case .uint32(let v): "u32 \(v)"
        case .int64(let v): "i64 \(v)"
        case .uint64(let v): "u64 \(v)"
        case .float(let v): "flt \(v)"
        case .double(let v): "dbl \(v)"
        case .string(let b): "str \(String(decoding: b, as: UTF8.self).debugDescription)"
        case .binary(let b): "bin \(b.count) bytes"
        }
    }
}

/// A stored value and its version: the log index of the key's last change.
public struct CMapEntry: Sendable, Equatable {
    public var value: CMapValue
    public var version: LogIndex
    public init(value: CMapValue, version: LogIndex) {
        self.value = value
        self.version = version
    }
}
