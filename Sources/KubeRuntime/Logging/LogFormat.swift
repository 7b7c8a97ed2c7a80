import Foundation
import KubeCore
import Logging
import Synchronization

/// How the operator writes its logs.
public enum LogFormat: String, Sendable, CaseIterable {
    /// `2026-11-29T10:21:06.123456Z info controller=pool object=ns/x reconcileID=1a2b: message`
    case text
    /// One JSON object per line: `{"ts":…,"level":"info","msg":…,"controller":…,"object":…}`.
    case json

    /// Installs this format for every logger of the process (call once, at start-up).
    public func bootstrap(level: Logger.Level = .info) {
        let format = self
        LoggingSystem.bootstrap { label in
            var handler = LineLogHandler(label: label, format: format)
            handler.logLevel = level
            return handler
        }
    }
}

/// A log handler writing one line per message to standard error, as text or JSON.
public struct LineLogHandler: LogHandler {
    public let label: String
    public let format: LogFormat
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    private static let output = Mutex(())

    public init(label: String, format: LogFormat) {
        self.label = label
        self.format = format
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        let line = Self.render(format: format, level: event.level, message: "\(event.message)", label: label,
                               metadata: merged, date: Date())
        Self.output.withLock { _ in
            FileHandle.standardError.write(Data((line + "\n").utf8))
        }
    }

    /// Formats one line (exposed for tests).
    public static func render(format: LogFormat, level: Logger.Level, message: String, label: String,
                              metadata: Logger.Metadata, date: Date) -> String {
        let time = MicroTime(date).description
        let keys = metadata.keys.sorted()
        switch format {
        case .text:
            let fields = keys.map { "\($0)=\(metadata[$0]!)" }.joined(separator: " ")
            return "\(time) \(level) \(label)\(fields.isEmpty ? "" : " " + fields): \(message)"
        case .json:
            var object: [String: String] = ["ts": time, "level": "\(level)", "logger": label, "msg": message]
            for key in keys where object[key] == nil { object[key] = "\(metadata[key]!)" }
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
            return String(decoding: data, as: UTF8.self)
        }
    }
}
