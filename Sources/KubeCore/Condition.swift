/// `metav1.Condition`: one aspect of an object's state, as `status.conditions` carries it.
public struct Condition: Codable, Hashable, Sendable {
    /// CamelCase name of the aspect (`Ready`, `Progressing`).
    public var type: String
    /// `True`, `False` or `Unknown`.
    public var status: ConditionStatus
    /// The `metadata.generation` this condition was computed from.
    public var observedGeneration: Int64?
    /// When `status` last changed (not when the condition was last written).
    public var lastTransitionTime: KubeTime?
    /// CamelCase, machine-readable cause of the current status.
    public var reason: String
    /// Human-readable details.
    public var message: String

    public init(type: String, status: ConditionStatus, reason: String, message: String = "",
                observedGeneration: Int64? = nil, lastTransitionTime: KubeTime? = nil) {
        self.type = type
        self.status = status
        self.reason = reason
        self.message = message
        self.observedGeneration = observedGeneration
        self.lastTransitionTime = lastTransitionTime
    }
}

/// The three values a condition's status can take.
public enum ConditionStatus: String, Codable, Hashable, Sendable {
    case `true` = "True"
    case `false` = "False"
    case unknown = "Unknown"
}

extension Array where Element == Condition {
    /// The condition of `type`, if present.
    public subscript(type type: String) -> Condition? {
        first { $0.type == type }
    }

    /// Sets a condition the way `meta.SetStatusCondition` does: `lastTransitionTime` moves only
    /// when the status changes; reason, message and observedGeneration are always updated.
    ///
    /// - Returns: whether anything changed.
    @discardableResult
    public mutating func set(_ condition: Condition, now: KubeTime) -> Bool {
        guard let index = firstIndex(where: { $0.type == condition.type }) else {
            var new = condition
            new.lastTransitionTime = condition.lastTransitionTime ?? now
            append(new)
            return true
        }
        var updated = condition
        updated.lastTransitionTime =
            self[index].status == condition.status ? self[index].lastTransitionTime ?? now : (condition.lastTransitionTime ?? now)
        guard updated != self[index] else { return false }
        self[index] = updated
        return true
    }
}
