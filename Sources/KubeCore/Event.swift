/// An events.k8s.io/v1 `Event`: something that happened to an object, for humans to read.
public struct Event: KubernetesResource, Hashable {
    public static let apiResource = APIResource(
        group: "events.k8s.io", version: "v1", kind: "Event", plural: "events", namespaced: true)

    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
    /// When the event first happened (required on create).
    public var eventTime: MicroTime?
    /// Present when the event has recurred; updated instead of creating new events.
    public var series: EventSeries?
    /// The controller that emitted the event (`tandem.dev/operator`).
    public var reportingController: String?
    /// The instance of that controller (usually the pod name).
    public var reportingInstance: String?
    /// What was done (`Scaling`, `Binding`).
    public var action: String?
    /// Why, in CamelCase (`ScaledUp`, `FailedScheduling`).
    public var reason: String?
    /// The object the event is about.
    public var regarding: ObjectReference?
    /// A secondary object involved, if any.
    public var related: ObjectReference?
    /// A human-readable description, at most 1 kB.
    public var note: String?
    /// `Normal` or `Warning`.
    public var type: String?
    /// `corev1.EventSource` of core events read through this API, passed through.
    public var deprecatedSource: JSONValue?
    public var deprecatedFirstTimestamp: KubeTime?
    public var deprecatedLastTimestamp: KubeTime?
    public var deprecatedCount: Int32?

    public init(
        metadata: ObjectMeta = ObjectMeta(), eventTime: MicroTime? = nil, series: EventSeries? = nil,
        reportingController: String? = nil, reportingInstance: String? = nil, action: String? = nil,
        reason: String? = nil, regarding: ObjectReference? = nil, related: ObjectReference? = nil,
        note: String? = nil, type: String? = nil, deprecatedSource: JSONValue? = nil,
        deprecatedFirstTimestamp: KubeTime? = nil, deprecatedLastTimestamp: KubeTime? = nil,
        deprecatedCount: Int32? = nil
    ) {
        self.apiVersion = Self.apiResource.apiVersion
        self.kind = Self.apiResource.kind
        self.metadata = metadata
        self.eventTime = eventTime
        self.series = series
        self.reportingController = reportingController
        self.reportingInstance = reportingInstance
        self.action = action
        self.reason = reason
        self.regarding = regarding
        self.related = related
        self.note = note
        self.type = type
        self.deprecatedSource = deprecatedSource
        self.deprecatedFirstTimestamp = deprecatedFirstTimestamp
        self.deprecatedLastTimestamp = deprecatedLastTimestamp
        self.deprecatedCount = deprecatedCount
    }
}

/// How often an event has recurred (`EventSeries` of both event APIs).
public struct EventSeries: Codable, Hashable, Sendable {
    public var count: Int32?
    public var lastObservedTime: MicroTime?

    public init(count: Int32? = nil, lastObservedTime: MicroTime? = nil) {
        self.count = count
        self.lastObservedTime = lastObservedTime
    }
}

/// A core/v1 `Event`, the older event API that `kubectl describe` and `kubectl get events`
/// read. Shares the `events` collection with ``Event``.
public struct CoreEvent: KubernetesResource, Hashable {
    public static let apiResource = APIResource(
        group: "", version: "v1", kind: "Event", plural: "events", namespaced: true)

    public var apiVersion: String?
    public var kind: String?
    public var metadata: ObjectMeta
    /// The object the event is about.
    public var involvedObject: ObjectReference?
    public var reason: String?
    public var message: String?
    public var source: EventSource?
    public var firstTimestamp: KubeTime?
    public var lastTimestamp: KubeTime?
    public var count: Int32?
    /// `Normal` or `Warning`.
    public var type: String?
    public var eventTime: MicroTime?
    public var series: EventSeries?
    public var action: String?
    public var related: ObjectReference?
    public var reportingComponent: String?
    public var reportingInstance: String?

    public init(
        metadata: ObjectMeta = ObjectMeta(), involvedObject: ObjectReference? = nil, reason: String? = nil,
        message: String? = nil, source: EventSource? = nil, firstTimestamp: KubeTime? = nil,
        lastTimestamp: KubeTime? = nil, count: Int32? = nil, type: String? = nil, eventTime: MicroTime? = nil,
        series: EventSeries? = nil, action: String? = nil, related: ObjectReference? = nil,
        reportingComponent: String? = nil, reportingInstance: String? = nil
    ) {
        self.apiVersion = Self.apiResource.apiVersion
        self.kind = Self.apiResource.kind
        self.metadata = metadata
        self.involvedObject = involvedObject
        self.reason = reason
        self.message = message
        self.source = source
        self.firstTimestamp = firstTimestamp
        self.lastTimestamp = lastTimestamp
        self.count = count
        self.type = type
        self.eventTime = eventTime
        self.series = series
        self.action = action
        self.related = related
        self.reportingComponent = reportingComponent
        self.reportingInstance = reportingInstance
    }
}

/// `corev1.EventSource`: the component (and host) that reported a ``CoreEvent``.
public struct EventSource: Codable, Hashable, Sendable {
    public var component: String?
    public var host: String?

    public init(component: String? = nil, host: String? = nil) {
        self.component = component
        self.host = host
    }
}
