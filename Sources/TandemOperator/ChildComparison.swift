import Foundation
import KubeCore

/// Decides whether a child must be applied: the reconciler writes only when the cached child
/// differs from what Tandem wants, so an unchanged pool's resync sends nothing.
///
/// Two checks, both needed:
/// - **Hash**: the desired object's hash is stamped on the child (``desiredHashAnnotation``).
///   A different hash means Tandem's intent changed, including fields it no longer sets (which a
///   plain comparison cannot see: they are simply absent from the desired object).
/// - **Containment**: every field of the desired object has the same value in the cached child.
///   Catches hand edits of Tandem's fields. Fields the server or others added are ignored.
public enum ChildComparison {
    /// Holds the hash of the desired object a child was last applied from.
    public static let desiredHashAnnotation = "inference.x-k8s.io/desired-hash"

    /// Stamps `object` with the hash of its own content (without the stamp).
    public static func stamped<Object: KubernetesObject>(_ object: Object) throws -> Object {
        var copy = object
        copy.metadata.annotations?[desiredHashAnnotation] = nil
        let hash = try contentHash(copy)
        copy.metadata.annotations = (copy.metadata.annotations ?? [:]).merging([desiredHashAnnotation: hash]) { _, new in new }
        return copy
    }

    /// Whether `cached` already is `desired` (a stamped object), so no write is needed.
    public static func isUpToDate<Object: KubernetesObject>(cached: Object?, desired: Object) throws -> Bool {
        guard let cached else { return false }
        guard cached.metadata.annotations?[desiredHashAnnotation] == desired.metadata.annotations?[desiredHashAnnotation]
        else { return false }
        return try holds(cached, desired)
    }

    /// Whether `live` has every field of `desired` with the same value (``contains(_:_:)`` on
    /// their JSON).
    public static func holds<Value: Encodable>(_ live: Value, _ desired: Value) throws -> Bool {
        contains(try JSONValue(encoding: live), try JSONValue(encoding: desired))
    }

    /// Whether every field of `subset` has the same value in `superset`. Objects may have extra
    /// members; arrays must have the same length, element by element. Quantities the server
    /// rewrote in canonical form compare equal by value.
    public static func contains(_ superset: JSONValue, _ subset: JSONValue) -> Bool {
        switch (superset, subset) {
        case (.object(let whole), .object(let part)):
            return part.allSatisfy { key, value in
                guard let other = whole[key] else { return value == .null }
                return contains(other, value)
            }
        case (.array(let whole), .array(let part)):
            return whole.count == part.count && zip(whole, part).allSatisfy { contains($0, $1) }
        case (.string(let a), .string(let b)):
            if a == b { return true }
            if let x = Quantity(a), let y = Quantity(b) { return x == y }
            return false
        case (.int(let a), .double(let b)), (.double(let b), .int(let a)):
            return Double(a) == b
        default:
            return superset == subset
        }
    }

    /// SHA-256-free stable hash of an object's JSON (sorted keys): FNV-1a 64-bit, hex.
    static func contentHash<Object: Encodable>(_ object: Object) throws -> String {
        let data = try KubeJSON.encode(object)
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in data {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return String(hash, radix: 16)
    }
}
