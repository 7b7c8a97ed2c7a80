import Foundation
import KubeCore
import Routing
import TandemAPI

/// Names and labels of a pool's children, within Kubernetes' limits for any valid pool name.
///
/// A pool name may be a 253-character DNS subdomain with dots; a Service name must be a
/// 63-character DNS label without dots, and a label value at most 63 characters. Names that
/// would not fit are shortened with a stable hash of the full pool name, so distinct pools
/// never collide and the same pool always maps to the same names.
public enum ChildNames {
    /// The longest DNS label (RFC 1123) and label value.
    static let maxLabel = 63

    /// `<pool>-prefill`, `<pool>-decode`: the Deployment and Service of a tier.
    public static func tier(_ pool: String, _ tier: TierName) -> String {
        label(sanitized(pool), suffix: "-\(tier.rawValue)")
    }

    /// `<pool>-epp`: the endpoint picker's ConfigMap, Deployment, Service, ServiceAccount, Role
    /// and RoleBinding.
    public static func router(_ pool: String) -> String {
        label(sanitized(pool), suffix: "-epp")
    }

    /// The GIE `InferencePool`: the pool's own name (another API group, so no clash).
    public static func gatewayPool(_ pool: String) -> String {
        pool
    }

    /// The value of `inference.x-k8s.io/pool` for a pool (its name, shortened when needed).
    public static func poolLabel(_ pool: String) -> String {
        label(pool, suffix: "")
    }

    /// Dots are not allowed in DNS labels: `llama.v2` becomes `llama-v2`.
    static func sanitized(_ name: String) -> String {
        name.replacingOccurrences(of: ".", with: "-")
    }

    static func label(_ base: String, suffix: String) -> String {
        if base.count + suffix.count <= maxLabel && base == base.lowercased() && (base.last.map { $0.isLetter || $0.isNumber } ?? false) {
            return base + suffix
        }
        let hash = String(stableHash(base), radix: 16).leftPadded(8)
        let room = maxLabel - suffix.count - hash.count - 1
        var prefix = String(base.prefix(room)).lowercased()
        while let last = prefix.last, !(last.isLetter || last.isNumber) { prefix.removeLast() }
        return prefix + "-" + hash + suffix
    }

    /// FNV-1a 32-bit: stable across processes and releases, unlike `Hasher`.
    static func stableHash(_ text: String) -> UInt32 {
        var hash: UInt32 = 2_166_136_261
        for byte in text.utf8 {
            hash ^= UInt32(byte)
            hash = hash &* 16_777_619
        }
        return hash
    }
}

extension String {
    func leftPadded(_ width: Int) -> String {
        String(repeating: "0", count: max(0, width - count)) + self
    }
}

/// The labels and annotations Tandem puts on children.
public enum PoolLabels {
    public static let pool = "inference.x-k8s.io/pool"
    public static let role = "inference.x-k8s.io/role"
    /// llm-d's role label, which its router's `prefill-filter` / `decode-filter` read.
    public static let llmdRole = "llm-d.ai/role"
    public static let name = "app.kubernetes.io/name"
    public static let instance = "app.kubernetes.io/instance"
    public static let component = "app.kubernetes.io/component"
    public static let managedBy = "app.kubernetes.io/managed-by"
    /// The sizing decision, as JSON, on each Deployment.
    public static let sizingAnnotation = "inference.x-k8s.io/sizing"

    /// The selector of a tier's pods (immutable on a Deployment: keep it minimal).
    public static func selector(pool: String, tier: TierName) -> [String: String] {
        [Self.pool: ChildNames.poolLabel(pool), role: tier.rawValue]
    }

    /// Every label of a tier's objects.
    public static func all(pool: String, tier: TierName) -> [String: String] {
        selector(pool: pool, tier: tier).merging([
            llmdRole: tier.rawValue, name: "tandem", instance: ChildNames.poolLabel(pool), component: tier.rawValue,
            managedBy: "tandem",
        ]) { own, _ in own }
    }

    /// Selects a pool's endpoint-picker pods (which carry no `pool` label: the GIE pool's
    /// selector must match model servers only).
    public static let endpointPicker = EndpointPickerLabels.pool
    /// The hash of the picker's config on its pod template: a new config rolls the picker.
    public static let configHashAnnotation = "inference.x-k8s.io/config-hash"

    public static func routerSelector(pool: String) -> [String: String] {
        [endpointPicker: ChildNames.poolLabel(pool)]
    }

    /// Every label of a pool's router objects.
    public static func router(pool: String) -> [String: String] {
        routerSelector(pool: pool).merging([
            name: "tandem", instance: ChildNames.poolLabel(pool), component: EndpointPickerLabels.component, managedBy: "tandem",
        ]) { own, _ in own }
    }

    /// `inference.x-k8s.io/pool=…,inference.x-k8s.io/role=…`, the status selector string.
    public static func selectorString(pool: String, tier: TierName) -> String {
        LabelSelector(matchLabels: selector(pool: pool, tier: tier)).selectorString
    }
}
