import Basics
/// Why an operation was refused. A refused operation changes nothing. The descriptions are
/// the texts clients see (the Redis layer prefixes them with `ERR`).
public enum CMapError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The key or prefix is empty, too long or has a byte outside `[A-Za-z0-9_./:-]`.
    case invalidKey(String)
    /// The value is larger than the configured maximum.
    case valueTooLarge(bytes: Int, limitBytes: Int)
    /// The operation does not apply to the key's type (inc/dec on a string, for example).
    case wrongType(key: CMapKey, type: CMapValueType, operation: String)
    /// Redis-style increment of a string that is not a decimal 64-bit integer.
    case notAnInteger(key: CMapKey)
    /// Redis-style increment that would leave the 64-bit range (Redis refuses; typed CMAP
    /// inc/dec wraps instead).
    case incrementOverflow(key: CMapKey)
    /// A retried request older than the last one the client sent; its result is gone.
    case staleRequest(client: ClientID, requestID: UInt64, lastRequestID: UInt64)
    /// Client text that is not a value of the requested type.
    case badValue(type: CMapValueType, reason: String)
    /// A listing page size outside 1...maximum.
    case badPageSize(requested: UInt32, maximum: UInt32)

    public var description: String {
        switch self {
        case .invalidKey(let reason):
            "invalid key: \(reason)"
        case .valueTooLarge(let bytes, let limit):
            "value is \(bytes) bytes, the maximum is \(limit) bytes"
        case .wrongType(let key, let type, let operation):
            "\(operation) is not possible on key '\(key)' of type \(type)"
        case .notAnInteger(let key):
            "value of key '\(key)' is not an integer or out of range"
        case .incrementOverflow(let key):
            "increment or decrement of key '\(key)' would overflow"
        case .staleRequest(let client, let requestID, let last):
            "request \(requestID) of client \(client) is older than its last request \(last); "
                + "its result is no longer kept"
        case .badValue(let type, let reason):
            "bad value for type \(type): \(reason)"
        case .badPageSize(let requested, let maximum):
            "a page of \(requested) entries was asked for; it must be 1 to \(maximum)"
        }
    }
}
