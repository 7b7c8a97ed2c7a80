import Testing

@testable import KubeClient

@Suite("LineFramer")
struct LineFramerTests {
    let events = [
        #"{"type":"ADDED","object":{"metadata":{"name":"a","resourceVersion":"1"}}}"#,
        #"{"type":"MODIFIED","object":{"metadata":{"name":"a","resourceVersion":"2"}}}"#,
        #"{"type":"BOOKMARK","object":{"metadata":{"resourceVersion":"3"}}}"#,
    ]

    var stream: [UInt8] { Array(events.map { $0 + "\n" }.joined().utf8) }

    @Test func oneByteAtATime() throws {
        var framer = LineFramer(maxLineBytes: 1024)
        var lines: [String] = []
        for byte in stream {
            lines += try framer.append([byte]).map { String(decoding: $0, as: UTF8.self) }
        }
        #expect(lines == events)
        #expect(framer.bufferedBytes == 0)
    }

    @Test func manyEventsInOneChunk() throws {
        var framer = LineFramer(maxLineBytes: 1024)
        let lines = try framer.append(stream).map { String(decoding: $0, as: UTF8.self) }
        #expect(lines == events)
    }

    @Test(arguments: [1, 2, 7, 31, 64, 100])
    func everySplitPoint(chunkSize: Int) throws {
        var framer = LineFramer(maxLineBytes: 1024)
        var lines: [String] = []
        var index = 0
        let bytes = stream
        while index < bytes.count {
            let end = min(index + chunkSize, bytes.count)
            lines += try framer.append(bytes[index..<end]).map { String(decoding: $0, as: UTF8.self) }
            index = end
        }
        #expect(lines == events)
    }

    @Test func crlfAndBlankLinesAreTolerated() throws {
        var framer = LineFramer(maxLineBytes: 64)
        let lines = try framer.append(Array("a\r\n\nb\n".utf8)).map { String(decoding: $0, as: UTF8.self) }
        #expect(lines == ["a", "b"])
    }

    @Test func oversizedLineIsRejectedEvenWhenSplit() throws {
        var framer = LineFramer(maxLineBytes: 10)
        _ = try framer.append(Array("12345".utf8))
        #expect(throws: LineFramer.LineTooLong(limit: 10)) {
            _ = try framer.append(Array("678901".utf8))
        }
        var other = LineFramer(maxLineBytes: 10)
        #expect(throws: LineFramer.LineTooLong(limit: 10)) {
            _ = try other.append(Array("12345678901\n".utf8))
        }
    }

    @Test func lineOfExactlyTheLimitIsAccepted() throws {
        var framer = LineFramer(maxLineBytes: 10)
        #expect(try framer.append(Array("1234567890\n".utf8)).count == 1)
    }

    @Test func unterminatedFinalLineIsReturnedByFinish() throws {
        var framer = LineFramer(maxLineBytes: 64)
        #expect(try framer.append(Array("{\"x\":1}".utf8)).isEmpty)
        #expect(framer.finish().map { String(decoding: $0, as: UTF8.self) } == "{\"x\":1}")
        #expect(framer.finish() == nil)
    }
}
