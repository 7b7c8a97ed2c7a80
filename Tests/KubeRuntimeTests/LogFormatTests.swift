import Foundation
import Logging
import Testing

@testable import KubeRuntime

@Suite("Structured logs")
struct LogFormatTests {
    let date = Date(timeIntervalSince1970: 1_800_000_000.25)
    let metadata: Logger.Metadata = ["controller": "pool", "object": "serving/llama", "reconcileID": "1a2b"]

    @Test func textCarriesObjectAndReconcileID() {
        let line = LineLogHandler.render(format: .text, level: .info, message: "applied", label: "tandem",
                                         metadata: metadata, date: date)
        #expect(line == "2027-01-15T08:00:00.250000Z info tandem controller=pool object=serving/llama reconcileID=1a2b: applied")
    }

    @Test func jsonIsOneObjectPerLine() throws {
        let line = LineLogHandler.render(format: .json, level: .warning, message: "say \"hi\"\nthere", label: "tandem",
                                         metadata: metadata, date: date)
        #expect(!line.contains("\n"))
        let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String]
        #expect(object?["msg"] == "say \"hi\"\nthere")
        #expect(object?["level"] == "warning")
        #expect(object?["object"] == "serving/llama")
        #expect(object?["reconcileID"] == "1a2b")
        #expect(object?["ts"] == "2027-01-15T08:00:00.250000Z")
    }
}
