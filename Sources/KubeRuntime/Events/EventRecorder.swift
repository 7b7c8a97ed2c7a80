import Foundation
import KubeClient
import KubeCore
import Logging

/// The two kinds of Event.
public enum EventType: String, Sendable {
    case normal = "Normal"
    case warning = "Warning"
}

/// Records Kubernetes Events about objects, as `events.k8s.io/v1` Events (falling back to core
/// `v1` Events on API servers without that group).
///
/// A repeat of an event already recorded (same object, type, reason, action and note) does not
/// create a new object: the first Event's `series` (count, last observed time) is updated, as
/// client-go's events library does.
///
/// Recording never throws: an Event is informational, and failing to write one must not fail a
/// reconcile. Failures are logged.
///
/// RBAC: `create` and `patch` on `events` in `events.k8s.io` (and in the core group for the fallback).
public actor EventRecorder {
    /// Names the writer in every Event (`reportingController`), for example `tandem.x-k8s.io/operator`.
    public let reportingController: String
    /// This process's identity (`reportingInstance`), typically the pod name.
    public let reportingInstance: String
    let client: KubernetesClient
    let logger: Logger
    private var recorded: [SeriesKey: Recorded] = [:]
    private var order: [SeriesKey] = []
    private var useCoreEvents = false
    /// Distinct events remembered for folding; older ones start a new series (client-go keeps 4096).
    static let cacheSize = 4096
    /// The API server refuses notes over 1 KiB (`events.k8s.io` validation).
    static let maxNoteBytes = 1024

    struct SeriesKey: Hashable {
        var regarding: String
        var type: EventType
        var reason: String
        var action: String
        var note: String
    }

    struct Recorded {
        var name: String
        var namespace: String
        var count: Int32
    }

    public init(client: KubernetesClient, reportingController: String, reportingInstance: String,
                logger: Logger = Logger(label: "kube.events")) {
        self.client = client
        self.reportingController = reportingController
        self.reportingInstance = reportingInstance
        self.logger = logger
    }

    /// Records that `action` happened to `regarding` because of `reason`.
    ///
    /// - Parameters:
    ///   - regarding: the object the event is about; its namespace holds the Event
    ///     (`default` for cluster-scoped objects).
    ///   - reason: CamelCase, machine-readable (`ScaledUp`, `ModelDoesNotFit`).
    ///   - action: what was done or failed (`Scaling`, `Sizing`).
    ///   - note: the human-readable detail (truncated to 1 KiB).
    public func record(
        regarding: ObjectReference, type: EventType, reason: String, action: String, note: String,
        related: ObjectReference? = nil
    ) async {
        let note = Self.truncate(note)
        let key = SeriesKey(
            regarding: "\(regarding.kind ?? "")/\(regarding.namespace ?? "")/\(regarding.name ?? "")/\(regarding.uid ?? "")",
            type: type, reason: reason, action: action, note: note)
        let namespace = (regarding.namespace?.isEmpty ?? true) ? "default" : regarding.namespace!
        let now = Date()
        if var known = recorded[key] {
            known.count += 1
            do {
                try await updateSeries(known, now: now)
                recorded[key] = known
                return
            } catch let error as APIError where error.reason == .notFound {
                // The Event expired (the API server keeps Events for an hour): start a new one.
                forget(key)
            } catch {
                logger.warning("updating event series failed: \(error)", metadata: ["reason": "\(reason)"])
                return
            }
        }
        do {
            let name = try await create(regarding: regarding, namespace: namespace, type: type, reason: reason,
                                        action: action, note: note, related: related, now: now)
            remember(key, Recorded(name: name, namespace: namespace, count: 1))
        } catch {
            logger.warning("recording event failed: \(error)", metadata: ["reason": "\(reason)", "object": "\(regarding.name ?? "")"])
        }
    }

    /// Records an event about a typed object.
    public func record<Object: KubernetesResource>(
        _ object: Object, type: EventType, reason: String, action: String, note: String
    ) async {
        await record(regarding: ObjectReference(to: object), type: type, reason: reason, action: action, note: note)
    }

    private func create(
        regarding: ObjectReference, namespace: String, type: EventType, reason: String, action: String,
        note: String, related: ObjectReference?, now: Date
    ) async throws -> String {
        let name = "\(regarding.name ?? "event").\(String(UInt64(now.timeIntervalSince1970 * 1e9), radix: 16))"
        if !useCoreEvents {
            let event = Event(
                metadata: ObjectMeta(name: name, namespace: namespace), eventTime: MicroTime(now),
                reportingController: reportingController, reportingInstance: reportingInstance, action: action,
                reason: reason, regarding: regarding, related: related, note: note, type: type.rawValue)
            do {
                _ = try await client.resources(Event.self, namespace: namespace).create(event)
                return name
            } catch let error as APIError where error.reason == .notFound && error.status.details?.name == nil {
                logger.info("events.k8s.io/v1 is not served; recording core v1 Events instead")
                useCoreEvents = true
            }
        }
        var event = CoreEvent(metadata: ObjectMeta(name: name, namespace: namespace))
        event.involvedObject = regarding
        event.reason = reason
        event.message = note
        event.type = type.rawValue
        event.action = action
        event.related = related
        event.source = EventSource(component: reportingController)
        event.reportingComponent = reportingController
        event.reportingInstance = reportingInstance
        event.firstTimestamp = KubeTime(now)
        event.lastTimestamp = KubeTime(now)
        event.count = 1
        _ = try await client.resources(CoreEvent.self, namespace: namespace).create(event)
        return name
    }

    private func updateSeries(_ known: Recorded, now: Date) async throws {
        if useCoreEvents {
            _ = try await client.resources(CoreEvent.self, namespace: known.namespace).patch(
                known.name, .merge(["count": .int(Int64(known.count)), "lastTimestamp": .string(KubeTime(now).description)]))
        } else {
            _ = try await client.resources(Event.self, namespace: known.namespace).patch(
                known.name,
                .merge(["series": ["count": .int(Int64(known.count)), "lastObservedTime": .string(MicroTime(now).description)]]))
        }
    }

    private func remember(_ key: SeriesKey, _ value: Recorded) {
        if recorded[key] == nil { order.append(key) }
        recorded[key] = value
        if order.count > Self.cacheSize {
            recorded[order.removeFirst()] = nil
        }
    }

    private func forget(_ key: SeriesKey) {
        recorded[key] = nil
        order.removeAll { $0 == key }
    }

    static func truncate(_ note: String) -> String {
        guard note.utf8.count > maxNoteBytes else { return note }
        var result = ""
        for character in note {
            if result.utf8.count + character.utf8.count > maxNoteBytes - 3 { break }
            result.append(character)
        }
        return result + "..."
    }
}
