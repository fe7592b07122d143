/// Byte-level helpers shared by the parsers. They work on the readable bytes of a buffer
/// (`withUnsafeReadableBytes`), so finding a line end or a number allocates nothing.
enum RESPScanning {
    /// The outcome of reading a `<integer>\r\n` header line that starts at `start`.
    enum Header: Equatable {
        /// The CRLF has not arrived yet (and the line is not yet over its limit).
        case incomplete
        /// No CRLF within the limit.
        case tooLong
        /// The line is complete but is not an integer in Redis's strict syntax.
        case invalid
        /// The integer and the offset just past the CRLF.
        case value(Int64, end: Int)
    }

    /// Reads the integer line at `start`: the bytes up to the first CRLF, at most
    /// `lineBytesMax` of them. The verdict depends only on the bytes, never on how many have
    /// arrived, so a stream gives the same result however it is split.
    static func header(_ bytes: UnsafeRawBufferPointer, from start: Int, lineBytesMax: Int) -> Header {
        // A CR at `start + lineBytesMax` is the last allowed position.
        let searchEnd = min(bytes.count, start &+ lineBytesMax &+ 2)
        guard let cr = crlf(bytes, from: start, to: searchEnd) else {
            return bytes.count &- start > lineBytesMax &+ 1 ? .tooLong : .incomplete
        }
        guard let value = integer(bytes, start..<cr) else { return .invalid }
        return .value(value, end: cr &+ 2)
    }

    /// The index of the CR of the first CRLF in `start..<end`, or nil.
    @inline(__always)
    static func crlf(_ bytes: UnsafeRawBufferPointer, from start: Int, to end: Int) -> Int? {
        var index = start
        let last = end &- 1
        while index < last {
            if bytes[index] == RESP.cr && bytes[index &+ 1] == RESP.lf { return index }
            index &+= 1
        }
        return nil
    }

    /// The index of the first `byte` in `start..<end`, or nil.
    @inline(__always)
    static func first(_ byte: UInt8, _ bytes: UnsafeRawBufferPointer, from start: Int, to end: Int) -> Int? {
        var index = start
        while index < end {
            if bytes[index] == byte { return index }
            index &+= 1
        }
        return nil
    }

    /// A decimal integer as Redis's `string2ll` accepts it: an optional `-`, then `0` alone or
    /// a digit 1-9 followed by digits; no `+`, no spaces, no leading zeros, no `-0`; it must fit
    /// in an `Int64`.
    static func integer(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> Int64? {
        var index = range.lowerBound
        let end = range.upperBound
        guard index < end, end &- index <= 20 else { return nil }
        if bytes[index] == UInt8(ascii: "0") { return end &- index == 1 ? 0 : nil }
        let isNegative = bytes[index] == UInt8(ascii: "-")
        if isNegative { index &+= 1 }
        guard index < end, bytes[index] >= UInt8(ascii: "1"), bytes[index] <= UInt8(ascii: "9") else { return nil }
        var magnitude: UInt64 = 0
        while index < end {
            let digit = bytes[index] &- UInt8(ascii: "0")
            guard digit <= 9 else { return nil }
            let (times10, overflow1) = magnitude.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(UInt64(digit))
            guard !overflow1, !overflow2 else { return nil }
            magnitude = sum
            index &+= 1
        }
        if isNegative {
            guard magnitude <= UInt64(Int64.max) &+ 1 else { return nil }
            return magnitude == UInt64(Int64.max) &+ 1 ? Int64.min : -Int64(magnitude)
        }
        guard magnitude <= UInt64(Int64.max) else { return nil }
        return Int64(magnitude)
    }
}
