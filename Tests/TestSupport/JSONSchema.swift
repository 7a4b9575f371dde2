import Foundation

/// A parsed JSON value that keeps integers, floats and booleans apart.
public indirect enum JSONValue: Decodable, Equatable {
    case null, bool(Bool), int(Int64), double(Double), string(String), array([JSONValue]), object([String: JSONValue])

    public init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let v = try? c.decode(Bool.self) { self = .bool(v) }
        else if let v = try? c.decode(Int64.self) { self = .int(v) }
        else if let v = try? c.decode(Double.self) { self = .double(v) }
        else if let v = try? c.decode(String.self) { self = .string(v) }
        else if let v = try? c.decode([JSONValue].self) { self = .array(v) }
        else { self = .object(try c.decode([String: JSONValue].self)) }
    }

    public static func parse(_ data: Data) throws -> JSONValue { try JSONDecoder().decode(JSONValue.self, from: data) }

    var number: Double? {
        switch self {
        case .int(let v): return Double(v)
        case .double(let v): return v
        default: return nil
        }
    }
}

/// A validator for the subset of JSON Schema (2020-12) that `docs/manifest.schema.json`
/// uses: type, required, properties, additionalProperties (boolean), items, enum, const,
/// minimum, maximum, exclusiveMinimum, exclusiveMaximum, pattern, minItems, maxItems and
/// `$ref` to `#/$defs/…`. Any other keyword in the schema is reported, so the schema
/// cannot silently outgrow the validator.
public struct JSONSchema {
    public let root: JSONValue
    static let known: Set<String> = ["$schema", "$id", "$defs", "title", "description", "type", "required", "properties",
                                     "additionalProperties", "items", "enum", "const", "minimum", "maximum",
                                     "exclusiveMinimum", "exclusiveMaximum", "pattern", "minItems", "maxItems", "$ref"]

    public init(_ root: JSONValue) { self.root = root }

    /// One line per violation, each naming the JSON path (`$.train[0].shards[1].sha256`).
    public func problems(_ value: JSONValue) -> [String] {
        var out: [String] = []
        check(value, root, "$", &out)
        return out
    }

    private func check(_ v: JSONValue, _ schema: JSONValue, _ path: String, _ out: inout [String]) {
        guard case .object(let s) = schema else { out.append("\(path): schema is not an object"); return }
        for key in s.keys where !JSONSchema.known.contains(key) { out.append("\(path): unsupported schema keyword \(key)") }
        if case .string(let ref)? = s["$ref"] {
            let name = ref.replacingOccurrences(of: "#/$defs/", with: "")
            guard case .object(let defs)? = rootObject["$defs"], let target = defs[name] else {
                out.append("\(path): unresolved $ref \(ref)")
                return
            }
            check(v, target, path, &out)
        }
        if case .string(let t)? = s["type"], !JSONSchema.matches(v, type: t) {
            out.append("\(path): expected \(t), got \(JSONSchema.typeName(v))")
            return
        }
        if let c = s["const"], !JSONSchema.equal(c, v) { out.append("\(path): must be \(c)") }
        if case .array(let options)? = s["enum"], !options.contains(where: { JSONSchema.equal($0, v) }) {
            out.append("\(path): \(v) is not one of the allowed values")
        }
        if let x = v.number {
            if let m = s["minimum"]?.number, x < m { out.append("\(path): \(x) < minimum \(m)") }
            if let m = s["maximum"]?.number, x > m { out.append("\(path): \(x) > maximum \(m)") }
            if let m = s["exclusiveMinimum"]?.number, x <= m { out.append("\(path): \(x) ≤ exclusive minimum \(m)") }
            if let m = s["exclusiveMaximum"]?.number, x >= m { out.append("\(path): \(x) ≥ exclusive maximum \(m)") }
        }
        if case .string(let str) = v, case .string(let pattern)? = s["pattern"] {
            if str.range(of: pattern, options: .regularExpression) == nil { out.append("\(path): \"\(str)\" does not match \(pattern)") }
        }
        if case .array(let items) = v {
            if let m = s["minItems"]?.number, Double(items.count) < m { out.append("\(path): \(items.count) items < minItems \(Int(m))") }
            if let m = s["maxItems"]?.number, Double(items.count) > m { out.append("\(path): \(items.count) items > maxItems \(Int(m))") }
            if let itemSchema = s["items"] {
                for (i, item) in items.enumerated() { check(item, itemSchema, "\(path)[\(i)]", &out) }
            }
        }
        if case .object(let obj) = v {
            if case .array(let required)? = s["required"] {
                for case .string(let key) in required where obj[key] == nil { out.append("\(path): missing required key \(key)") }
            }
            let properties: [String: JSONValue]
            if case .object(let p)? = s["properties"] { properties = p } else { properties = [:] }
            for key in obj.keys.sorted() {
                if let sub = properties[key] {
                    check(obj[key]!, sub, "\(path).\(key)", &out)
                } else if case .bool(false)? = s["additionalProperties"] {
                    out.append("\(path): unexpected key \(key)")
                }
            }
        }
    }

    private var rootObject: [String: JSONValue] {
        if case .object(let o) = root { return o }
        return [:]
    }

    static func matches(_ v: JSONValue, type: String) -> Bool {
        switch (type, v) {
        case ("null", .null), ("boolean", .bool), ("string", .string), ("array", .array), ("object", .object),
             ("integer", .int), ("number", .int), ("number", .double): return true
        case ("integer", .double(let d)): return d.rounded() == d
        default: return false
        }
    }

    static func typeName(_ v: JSONValue) -> String {
        switch v {
        case .null: return "null"
        case .bool: return "boolean"
        case .int: return "integer"
        case .double: return "number"
        case .string: return "string"
        case .array: return "array"
        case .object: return "object"
        }
    }

    /// JSON equality: 1 and 1.0 are equal.
    static func equal(_ a: JSONValue, _ b: JSONValue) -> Bool {
        if let x = a.number, let y = b.number { return x == y }
        return a == b
    }
}

extension TestSupport {
    /// `docs/manifest.schema.json`, parsed.
    public static func manifestSchema() throws -> JSONSchema {
        JSONSchema(try JSONValue.parse(Data(contentsOf: URL(fileURLWithPath: packageRoot + "/docs/manifest.schema.json"))))
    }

    /// Violations of the manifest schema by `DIRECTORY/manifest.json` (empty when it conforms).
    public static func manifestSchemaProblems(directory: String) throws -> [String] {
        let manifest = try JSONValue.parse(Data(contentsOf: URL(fileURLWithPath: directory + "/manifest.json")))
        return try manifestSchema().problems(manifest).map { "\(directory)/manifest.json: \($0)" }
    }
}
