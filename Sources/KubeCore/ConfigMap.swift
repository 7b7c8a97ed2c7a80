import Foundation

/// A core/v1 `ConfigMap`.
public struct ConfigMap: KubernetesResource, Hashable {
    public static let apiResource = APIResource(
        group: "", version: "v1", kind: "ConfigMap", plural: "configmaps", namespaced: true)

    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
    public var data: [String: String]?
    /// Binary values; base64 in JSON (the default `Data` coding of `JSONEncoder`).
    public var binaryData: [String: Data]?
    /// When `true`, the data can no longer be changed (only the object deleted).
    public var immutable: Bool?

    public init(
        metadata: ObjectMeta = ObjectMeta(), data: [String: String]? = nil, binaryData: [String: Data]? = nil,
        immutable: Bool? = nil
    ) {
        self.apiVersion = Self.apiResource.apiVersion
        self.kind = Self.apiResource.kind
        self.metadata = metadata
        self.data = data
        self.binaryData = binaryData
        self.immutable = immutable
    }
}
