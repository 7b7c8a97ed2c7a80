/// Splits a byte stream into newline-terminated lines, whatever the chunk boundaries.
///
/// The API server writes one JSON watch event per line; chunks (TCP segments, HTTP/2 DATA
/// frames) may split an event anywhere or carry several. The framer buffers at most
/// ``maxLineBytes`` of an unfinished line, so a server that never sends a newline cannot make
/// the client grow without bound.
public struct LineFramer: Sendable {
    /// The longest line accepted, newline excluded.
    public let maxLineBytes: Int
    private var partial: [UInt8] = []

    /// Thrown when a line grows past ``LineFramer/maxLineBytes``.
    public struct LineTooLong: Error, Equatable, Sendable {
        public var limit: Int
    }

    public init(maxLineBytes: Int) {
        precondition(maxLineBytes > 0, "maxLineBytes must be positive")
        self.maxLineBytes = maxLineBytes
    }

    /// Bytes of an unfinished line held back for the next chunk.
    public var bufferedBytes: Int { partial.count }

    /// Feeds one chunk and returns the lines it completed, in order, without their line endings
    /// (`\n` or `\r\n`). Empty lines are skipped.
    ///
    /// - Throws: ``LineTooLong`` when an unfinished line would exceed the limit; the framer
    ///   should then be discarded with its stream.
    public mutating func append<Bytes: Collection<UInt8>>(_ chunk: Bytes) throws(LineTooLong) -> [[UInt8]] {
        var lines: [[UInt8]] = []
        var rest = chunk[...]
        while let newline = rest.firstIndex(of: UInt8(ascii: "\n")) {
            let piece = rest[rest.startIndex..<newline]
            if partial.count + piece.count > maxLineBytes { throw LineTooLong(limit: maxLineBytes) }
            var line = partial
            line.append(contentsOf: piece)
            partial.removeAll(keepingCapacity: true)
            if line.last == UInt8(ascii: "\r") { line.removeLast() }
            if !line.isEmpty { lines.append(line) }
            rest = rest[rest.index(after: newline)...]
        }
        if partial.count + rest.count > maxLineBytes { throw LineTooLong(limit: maxLineBytes) }
        partial.append(contentsOf: rest)
        return lines
    }

    /// The unfinished line left when the stream ends, if any (a server closing mid-line).
    public mutating func finish() -> [UInt8]? {
        defer { partial.removeAll() }
        let line = partial.last == UInt8(ascii: "\r") ? Array(partial.dropLast()) : partial
        return line.isEmpty ? nil : line
    }
}
