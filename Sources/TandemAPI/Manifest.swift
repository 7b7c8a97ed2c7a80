import Foundation
import KubeCore
import Yams

/// Reading pools from YAML manifests, as `kubectl apply -f` and `tandem render -f` take them.
public enum Manifest {
    /// One document of a manifest that failed to load.
    public struct LoadError: Error, CustomStringConvertible {
        public var document: Int
        public var message: String
        public var description: String { "document \(document + 1): \(message)" }
    }

    /// Decodes every `InferencePool` document of a (multi-document) YAML text, skipping empty
    /// documents and rejecting documents of other kinds.
    public static func pools(from text: String) throws -> [InferencePool] {
        var pools: [InferencePool] = []
        let nodes: [Yams.Node]
        do {
            nodes = Array(try Yams.compose_all(yaml: text))
        } catch {
            throw LoadError(document: 0, message: "not valid YAML: \(error)")
        }
        for (index, node) in nodes.enumerated() {
            let tree: JSONValue
            do {
                tree = try YAMLDecoder().decode(JSONValue.self, from: node)
            } catch {
                throw LoadError(document: index, message: "cannot read: \(error)")
            }
            if tree == .null { continue }
            let kind = tree["kind"]?.stringValue ?? ""
            let apiVersion = tree["apiVersion"]?.stringValue ?? ""
            guard kind == InferencePool.apiResource.kind, apiVersion == InferencePool.apiResource.apiVersion else {
                throw LoadError(
                    document: index,
                    message: "is \(apiVersion.isEmpty ? "<no apiVersion>" : apiVersion)/\(kind.isEmpty ? "<no kind>" : kind), not \(InferencePool.apiResource.apiVersion)/InferencePool")
            }
            let unknown = InferencePool.schema.unknownFields(in: tree)
            if !unknown.isEmpty {
                throw LoadError(
                    document: index,
                    message: "unknown field\(unknown.count == 1 ? "" : "s") \(unknown.joined(separator: ", ")) (the API server would drop \(unknown.count == 1 ? "it" : "them") silently)")
            }
            do {
                pools.append(try tree.decode(as: InferencePool.self))
            } catch let DecodingError.keyNotFound(key, context) {
                let path = (context.codingPath.map(\.stringValue) + [key.stringValue]).joined(separator: ".")
                throw LoadError(document: index, message: "\(path) is required")
            } catch let DecodingError.typeMismatch(_, context), let DecodingError.dataCorrupted(context) {
                let path = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined()
                throw LoadError(document: index, message: "\(path.hasPrefix(".") ? String(path.dropFirst()) : path): \(context.debugDescription)")
            }
        }
        return pools
    }
}

extension Schema {
    /// The JSON paths in `value` that this schema does not declare (what the API server's
    /// pruning would drop). Subtrees marked `x-kubernetes-preserve-unknown-fields` are not checked.
    public func unknownFields(in value: JSONValue, path: String = "") -> [String] {
        if preserveUnknownFields == true { return [] }
        switch value {
        case .object(let members):
            if let additional = additionalProperties {
                return members.sorted { $0.key < $1.key }.flatMap { additional.unknownFields(in: $0.value, path: "\(path)[\($0.key)]") }
            }
            guard let properties, type == "object" else { return [] }
            var unknown: [String] = []
            for (key, member) in members.sorted(by: { $0.key < $1.key }) {
                let memberPath = path.isEmpty ? key : "\(path).\(key)"
                if key == "metadata" && path.isEmpty { continue }
                guard let schema = properties[key] else {
                    unknown.append(memberPath)
                    continue
                }
                unknown += schema.unknownFields(in: member, path: memberPath)
            }
            return unknown
        case .array(let elements):
            guard let items else { return [] }
            return elements.enumerated().flatMap { items.unknownFields(in: $0.element, path: "\(path)[\($0.offset)]") }
        default:
            return []
        }
    }
}
