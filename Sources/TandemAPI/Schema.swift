import KubeCore

/// A structural OpenAPI v3 schema, as CustomResourceDefinitions take it (`openAPIV3Schema`).
///
/// Only what the API needs is modelled; the Kubernetes extensions are spelled out.
public struct Schema: Encodable, Hashable, Sendable {
    public var type: String?
    public var description: String?
    public var properties: [String: Schema]?
    public var required: [String]?
    /// Element schema of an array (kept in a one-element list: a struct cannot hold itself).
    var itemsBox: [Schema]?
    /// Value schema of a map.
    var additionalPropertiesBox: [Schema]?
    public var `enum`: [String]?
    public var minimum: Double?
    public var maximum: Double?
    public var exclusiveMinimum: Bool?
    public var minLength: Int?
    public var maxLength: Int?
    public var minItems: Int?
    public var maxItems: Int?
    public var pattern: String?
    public var format: String?
    public var anyOf: [Schema]?
    public var preserveUnknownFields: Bool?
    public var intOrString: Bool?
    /// `map` for a list of objects keyed by ``listMapKeys``: server-side apply then merges
    /// entries by key, so several field managers can each own some.
    public var listType: String?
    public var listMapKeys: [String]?

    public init(type: String? = nil, description: String? = nil) {
        self.type = type
        self.description = description
    }

    public var items: Schema? { itemsBox?.first }
    public var additionalProperties: Schema? { additionalPropertiesBox?.first }

    enum CodingKeys: String, CodingKey {
        case type, description, properties, required, `enum`, minimum, maximum, exclusiveMinimum, minLength, maxLength,
            minItems, maxItems, pattern, format, anyOf
        case itemsBox = "items"
        case additionalPropertiesBox = "additionalProperties"
        case preserveUnknownFields = "x-kubernetes-preserve-unknown-fields"
        case intOrString = "x-kubernetes-int-or-string"
        case listType = "x-kubernetes-list-type"
        case listMapKeys = "x-kubernetes-list-map-keys"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encodeIfPresent(type, forKey: .type)
        try container.encodeIfPresent(description, forKey: .description)
        try container.encodeIfPresent(properties, forKey: .properties)
        try container.encodeIfPresent(required, forKey: .required)
        try container.encodeIfPresent(items, forKey: .itemsBox)
        try container.encodeIfPresent(additionalProperties, forKey: .additionalPropertiesBox)
        try container.encodeIfPresent(self.enum, forKey: .enum)
        // Integral bounds are written as integers (`minimum: 0`, not `0.0`).
        if let minimum { try encodeNumber(minimum, .minimum, &container) }
        if let maximum { try encodeNumber(maximum, .maximum, &container) }
        try container.encodeIfPresent(exclusiveMinimum, forKey: .exclusiveMinimum)
        try container.encodeIfPresent(minLength, forKey: .minLength)
        try container.encodeIfPresent(maxLength, forKey: .maxLength)
        try container.encodeIfPresent(minItems, forKey: .minItems)
        try container.encodeIfPresent(maxItems, forKey: .maxItems)
        try container.encodeIfPresent(pattern, forKey: .pattern)
        try container.encodeIfPresent(format, forKey: .format)
        try container.encodeIfPresent(anyOf, forKey: .anyOf)
        try container.encodeIfPresent(preserveUnknownFields, forKey: .preserveUnknownFields)
        try container.encodeIfPresent(intOrString, forKey: .intOrString)
        try container.encodeIfPresent(listType, forKey: .listType)
        try container.encodeIfPresent(listMapKeys, forKey: .listMapKeys)
    }

    private func encodeNumber(_ value: Double, _ key: CodingKeys, _ container: inout KeyedEncodingContainer<CodingKeys>) throws {
        if value.rounded() == value, abs(value) < 1e15 {
            try container.encode(Int64(value), forKey: key)
        } else {
            try container.encode(value, forKey: key)
        }
    }

    // MARK: Builders

    /// This list, merged by server-side apply entry by entry, keyed by `keys` (which must be
    /// required fields of its items).
    public func listMap(keys: [String]) -> Schema {
        var copy = self
        copy.listType = "map"
        copy.listMapKeys = keys
        return copy
    }

    /// An object with these properties.
    public static func object(_ description: String? = nil, required: [String] = [], _ properties: [String: Schema]) -> Schema {
        var schema = Schema(type: "object", description: description)
        schema.properties = properties
        schema.required = required.isEmpty ? nil : required.sorted()
        return schema
    }

    /// An object with these properties and no description.
    public static func object(_ properties: [String: Schema]) -> Schema {
        object(nil, required: [], properties)
    }

    public static func string(_ description: String? = nil, enum values: [String]? = nil, minLength: Int? = nil,
                              maxLength: Int? = nil, pattern: String? = nil) -> Schema {
        var schema = Schema(type: "string", description: description)
        schema.enum = values
        schema.minLength = minLength
        schema.maxLength = maxLength
        schema.pattern = pattern
        return schema
    }

    /// An integer. Unless given tighter bounds, it is bounded by its format's range, so the API
    /// server refuses what the Swift type could not decode: `int32` by `Int32`'s range, `int64`
    /// by ±2^53 (JSON numbers past it lose precision; the API server stores them as floats).
    public static func integer(_ description: String? = nil, format: String = "int32", minimum: Int64? = nil,
                               maximum: Int64? = nil) -> Schema {
        var schema = Schema(type: "integer", description: description)
        schema.format = format
        let range: ClosedRange<Int64> = format == "int32" ? Int64(Int32.min)...Int64(Int32.max) : -(1 << 53)...(1 << 53)
        schema.minimum = Double(minimum ?? range.lowerBound)
        schema.maximum = Double(maximum ?? range.upperBound)
        return schema
    }

    public static func number(_ description: String? = nil, minimum: Double? = nil, maximum: Double? = nil,
                              exclusiveMinimum: Bool? = nil) -> Schema {
        var schema = Schema(type: "number", description: description)
        schema.minimum = minimum
        schema.maximum = maximum
        schema.exclusiveMinimum = exclusiveMinimum
        return schema
    }

    public static func boolean(_ description: String? = nil) -> Schema {
        Schema(type: "boolean", description: description)
    }

    public static func array(_ description: String? = nil, of items: Schema, minItems: Int? = nil, maxItems: Int? = nil) -> Schema {
        var schema = Schema(type: "array", description: description)
        schema.itemsBox = [items]
        schema.minItems = minItems
        schema.maxItems = maxItems
        return schema
    }

    public static func map(_ description: String? = nil, of values: Schema) -> Schema {
        var schema = Schema(type: "object", description: description)
        schema.additionalPropertiesBox = [values]
        return schema
    }

    /// A Kubernetes object passed through unvalidated (affinity, a volume source, …).
    public static func passThrough(_ description: String? = nil) -> Schema {
        var schema = Schema(type: "object", description: description)
        schema.preserveUnknownFields = true
        return schema
    }

    /// A `resource.Quantity`: an integer or a string such as `500m` or `64Gi` (the schema
    /// Kubernetes itself publishes for quantities).
    public static func quantity(_ description: String? = nil) -> Schema {
        var schema = Schema(description: description)
        schema.anyOf = [Schema(type: "integer"), Schema(type: "string")]
        // Kubernetes' quantity grammar (k8s.io/apimachinery resource.Quantity), narrowed to what
        // the Quantity type decodes: at most 18 integer and 9 fraction digits, exponents up to
        // ±79 (Quantity refuses values past 10^100), so `1e101` is refused by the API server.
        schema.pattern = #"^(\+|-)?(([0-9]{1,18}(\.[0-9]{0,9})?)|(\.[0-9]{1,9}))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?[0-7]?[0-9]))?$"#
        schema.maxLength = 64
        schema.intOrString = true
        return schema
    }
}
