import KubeCore
import Yams

/// YAML text of Kubernetes objects, as `tandem render` prints them: one document each, keys
/// sorted, so the same objects always give the same bytes.
public enum YAMLOutput {
    public static func documents(_ objects: [any Encodable]) throws -> String {
        let encoder = YAMLEncoder()
        encoder.options = YAMLEncoder.Options(indent: 2, width: -1, sortKeys: true)
        // Multi-line strings (the router's config in its ConfigMap) as literal blocks, readable in review.
        encoder.options.newLineScalarStyle = .literal
        var text = ""
        for object in objects {
            text += "---\n" + (try encoder.encode(AnyEncodable(object)))
        }
        return text
    }

    /// The children in apply order: the router's identity and config, Services, Deployments,
    /// then the GIE pool that points at them.
    public static func children(_ children: RenderedChildren) throws -> String {
        let identity: [any Encodable] = children.serviceAccounts + children.roles + children.roleBindings + children.configMaps
        return try documents(identity + children.services + children.deployments + children.gatewayPools)
    }
}

private struct AnyEncodable: Encodable {
    let value: any Encodable
    init(_ value: any Encodable) { self.value = value }
    func encode(to encoder: any Encoder) throws { try value.encode(to: encoder) }
}
