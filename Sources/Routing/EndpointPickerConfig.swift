import Foundation
import KubeCore
import Yams

/// llm-d's router plugin configuration (`kind: EndpointPickerConfig`): the plugins the endpoint
/// picker instantiates and the scheduling profiles that chain them.
///
/// The same value is rendered into the router's ConfigMap by the operator and read back by the
/// emulated router, so the configuration Tandem generates is the one its tests route with.
public struct EndpointPickerConfig: Codable, Hashable, Sendable {
    /// The kind llm-d's router reads.
    public static let kind = "EndpointPickerConfig"
    /// The apiVersion written when none is configured. The kind has moved from GIE's group
    /// (`inference.networking.x-k8s.io/v1alpha1`, llm-d router ≤ v0.9 samples) to `llm-d.ai/v1alpha1`
    /// and `llm-d.ai/v1`; the operator's `--epp-config-api-version` picks another.
    public static let defaultAPIVersion = "inference.networking.x-k8s.io/v1alpha1"
    /// The apiVersions llm-d's routers have accepted for this kind.
    public static let knownAPIVersions = ["inference.networking.x-k8s.io/v1alpha1", "llm-d.ai/v1alpha1", "llm-d.ai/v1"]

    public var apiVersion: String
    public var kind: String
    public var plugins: [Plugin]
    public var schedulingProfiles: [SchedulingProfile]

    public init(apiVersion: String = Self.defaultAPIVersion, plugins: [Plugin], schedulingProfiles: [SchedulingProfile]) {
        self.apiVersion = apiVersion
        self.kind = Self.kind
        self.plugins = plugins
        self.schedulingProfiles = schedulingProfiles
    }

    /// One plugin instance: its type, the name profiles refer to it by (the type when absent),
    /// and its parameters.
    public struct Plugin: Codable, Hashable, Sendable {
        public var type: String
        public var name: String?
        public var parameters: JSONValue?

        public init(type: String, name: String? = nil, parameters: JSONValue? = nil) {
            self.type = type
            self.name = name
            self.parameters = parameters
        }

        /// What a profile's `pluginRef` names: the plugin's name, else its type.
        public var reference: String { name ?? type }
    }

    /// A named chain of filters, scorers (with weights) and one picker.
    public struct SchedulingProfile: Codable, Hashable, Sendable {
        public var name: String
        public var plugins: [PluginReference]

        public init(name: String, plugins: [PluginReference]) {
            self.name = name
            self.plugins = plugins
        }
    }

    /// A profile's use of a plugin; scorers carry a weight.
    public struct PluginReference: Codable, Hashable, Sendable {
        public var pluginRef: String
        public var weight: Double?

        public init(pluginRef: String, weight: Double? = nil) {
            self.pluginRef = pluginRef
            self.weight = weight
        }
    }

    /// The plugin a profile or another plugin refers to by `reference`.
    public func plugin(_ reference: String) -> Plugin? {
        plugins.first { $0.reference == reference }
    }

    /// The profile named `name`.
    public func profile(_ name: String) -> SchedulingProfile? {
        schedulingProfiles.first { $0.name == name }
    }

    // MARK: - YAML

    /// The YAML the router reads (keys sorted, so the same config gives the same bytes).
    public func yaml() throws -> String {
        let encoder = YAMLEncoder()
        encoder.options = YAMLEncoder.Options(indent: 2, width: -1, sortKeys: true)
        return try encoder.encode(self)
    }

    /// Reads a config as the router would (YAML, or JSON, which is YAML).
    ///
    /// - Throws: ``EndpointPickerConfigError`` naming what is wrong.
    public static func parse(_ text: String) throws -> EndpointPickerConfig {
        let config: EndpointPickerConfig
        do {
            config = try YAMLDecoder().decode(EndpointPickerConfig.self, from: text)
        } catch {
            throw EndpointPickerConfigError("not an EndpointPickerConfig: \(error)")
        }
        guard config.kind == kind else {
            throw EndpointPickerConfigError("kind is \(config.kind), expected \(kind)")
        }
        return config
    }
}

/// A config the router would refuse, with the reason.
public struct EndpointPickerConfigError: Error, CustomStringConvertible, Equatable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// The plugin types Tandem generates and the emulated router implements, with their role in a
/// profile. Names as llm-d's router registers them.
public enum PluginType {
    /// Chooses which profiles run for a request: `decode` always, `prefill` too when its
    /// decider says so (llm-d's P/D handler).
    public static let disaggProfileHandler = "disagg-profile-handler"
    /// Disaggregate when the prompt's uncached tokens reach `nonCachedTokens` (0: never).
    public static let prefixBasedPDDecider = "prefix-based-pd-decider"
    /// Keeps pods labelled `llm-d.ai/role: prefill`.
    public static let prefillFilter = "prefill-filter"
    /// Keeps pods labelled `llm-d.ai/role` decode, prefill-decode or both, and pods without the label.
    public static let decodeFilter = "decode-filter"
    /// Scores pods by the share of the prompt's prefix blocks they were last sent.
    public static let prefixCacheScorer = "prefix-cache-scorer"
    /// Scores pods by `vllm:num_requests_waiting`, fewer is better.
    public static let queueScorer = "queue-scorer"
    /// Scores pods by `vllm:kv_cache_usage_perc`, emptier is better.
    public static let kvCacheUtilizationScorer = "kv-cache-utilization-scorer"
    /// Picks the pod with the highest weighted score (ties at random).
    public static let maxScorePicker = "max-score-picker"

    public static let filters: Set<String> = [prefillFilter, decodeFilter]
    public static let scorers: Set<String> = [prefixCacheScorer, queueScorer, kvCacheUtilizationScorer]
    public static let pickers: Set<String> = [maxScorePicker]
    public static let profileHandlers: Set<String> = [disaggProfileHandler]
    public static let deciders: Set<String> = [prefixBasedPDDecider]
}
