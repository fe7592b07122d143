/// Typed values from and to client text, for `CMAP.SET key TYPE value` and `CMAP.GET`
/// (DESIGN.md section 6). Type names are corosync-cmapctl's.
extension CMapValueType {
    /// `i8 u8 i16 u16 i32 u32 i64 u64 flt dbl str bin`, case-insensitive; also `float`,
    /// `double`, `string`, `binary`.
    public init?(name: String) {
        let lower = name.lowercased()
        if let type = CMapValueType.allCases.first(where: { $0.description == lower }) {
            self = type
            return
        }
        switch lower {
        case "float": self = .float
        case "double": self = .double
        case "string": self = .string
        case "binary": self = .binary
        default: return nil
        }
    }
}

extension CMapValue {
    /// Parses client text as a value of `type`: decimal integers in the type's range, floats
    /// as Swift parses them, strings and binaries as the bytes themselves.
    public init(parsing text: [UInt8], as type: CMapValueType) throws(CMapError) {
        let string = String(decoding: text, as: UTF8.self)
        func integer<T: FixedWidthInteger>(_: T.Type) throws(CMapError) -> T {
            guard let v = T(string) else {
                throw CMapError.badValue(type: type, reason: "'\(string)' is not an integer between \(T.min) and \(T.max)")
            }
            return v
        }
        switch type {
        case .int8: self = .int8(try integer(Int8.self))
        case .uint8: self = .uint8(try integer(UInt8.self))
        case .int16: self = .int16(try integer(Int16.self))
        case .uint16: self = .uint16(try integer(UInt16.self))
        case .int32: self = .int32(try integer(Int32.self))
        case .uint32: self = .uint32(try integer(UInt32.self))
        case .int64: self = .int64(try integer(Int64.self))
        case .uint64: self = .uint64(try integer(UInt64.self))
        case .float:
            guard let v = Float(string) else { throw CMapError.badValue(type: type, reason: "'\(string)' is not a number") }
            self = .float(v)
        case .double:
            guard let v = Double(string) else { throw CMapError.badValue(type: type, reason: "'\(string)' is not a number") }
            self = .double(v)
        case .string: self = .string(text)
        case .binary: self = .binary(text)
        }
    }

    /// The value as client text: numbers in decimal, strings and binaries as their bytes.
    public var textBytes: [UInt8] {
        switch self {
        case .int8(let v): Array(String(v).utf8)
        case .uint8(let v): Array(String(v).utf8)
        case .int16(let v): Array(String(v).utf8)
        case .uint16(let v): Array(String(v).utf8)
        case .int32(let v): Array(String(v).utf8)
        case .uint32(let v): Array(String(v).utf8)
        case .int64(let v): Array(String(v).utf8)
        case .uint64(let v): Array(String(v).utf8)
        case .float(let v): Array(String(v).utf8)
        case .double(let v): Array(String(v).utf8)
        case .string(let b), .binary(let b): b
        }
    }
}
