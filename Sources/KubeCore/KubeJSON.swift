import Foundation

/// The JSON coders Kubernetes objects are read and written with.
///
/// Encoding sorts keys, so the same object always yields the same bytes (stable hashes, readable
/// diffs). Dates are not configured here: ``KubeTime`` and ``MicroTime`` encode themselves.
public enum KubeJSON {
    /// A fresh encoder: sorted keys, slashes unescaped.
    public static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    /// A fresh decoder. Unknown fields are ignored by every model (Codable skips them).
    public static func decoder() -> JSONDecoder {
        JSONDecoder()
    }

    /// Encodes `value` to JSON bytes.
    public static func encode<T: Encodable>(_ value: T) throws -> Data {
        try encoder().encode(value)
    }

    /// Decodes `T` from JSON bytes.
    public static func decode<T: Decodable>(_ type: T.Type, from data: Data) throws -> T {
        try decoder().decode(type, from: data)
    }
}
