import MixCore
import TOMLKit

/// Reads keys of one TOML table strictly: wrong types and, at `finish()`,
/// unread keys are one-line errors naming the file and the key path.
/// Shared by pipeline and experiment files.
public struct StrictTOMLTable {
    public let table: TOMLTable
    /// Key path prepended in errors, e.g. `"mix."`.
    public var prefix: String
    public let file: String
    private var used: Set<String> = []

    public init(_ table: TOMLTable, prefix: String, file: String) {
        self.table = table
        self.prefix = prefix
        self.file = file
    }

    private func fail(_ key: String, _ what: String) -> MixError {
        MixError("\(file): \(prefix)\(key) \(what)")
    }

    private mutating func value(_ key: String) -> TOMLValueConvertible? {
        used.insert(key)
        return table[key]
    }

    /// Counts `key` as read without reading it.
    public mutating func markUsed(_ key: String) {
        used.insert(key)
    }

    public mutating func string(_ key: String) throws -> String? {
        guard let v = value(key) else { return nil }
        guard let s = v.string else { throw fail(key, "must be a string") }
        return s
    }

    public mutating func int(_ key: String) throws -> Int? {
        guard let v = value(key) else { return nil }
        guard let i = v.int else { throw fail(key, "must be an integer") }
        return i
    }

    /// A float or an integer. TOML's `nan`, `inf` and `-inf` are refused here, naming
    /// the key, so no float key of a pipeline or experiment file can hold them.
    public mutating func double(_ key: String) throws -> Double? {
        guard let v = value(key) else { return nil }
        if let d = v.double {
            guard d.isFinite else { throw fail(key, "must be a finite number (got \(d))") }
            return d
        }
        if let i = v.int { return Double(i) }
        throw fail(key, "must be a number")
    }

    public mutating func bool(_ key: String) throws -> Bool? {
        guard let v = value(key) else { return nil }
        guard let b = v.bool else { throw fail(key, "must be true or false") }
        return b
    }

    public mutating func intArray(_ key: String) throws -> [Int]? {
        guard let v = value(key) else { return nil }
        guard let a = v.array else { throw fail(key, "must be an array of integers") }
        return try a.map { e in
            guard let i = e.int else { throw fail(key, "must be an array of integers") }
            return i
        }
    }

    /// An integer or an array of integers (given as a one-element array for the former).
    public mutating func intOrIntArray(_ key: String) throws -> [Int]? {
        guard let v = value(key) else { return nil }
        if let i = v.int { return [i] }
        guard let a = v.array else { throw fail(key, "must be an integer or an array of integers") }
        return try a.map { e in
            guard let i = e.int else { throw fail(key, "must be an integer or an array of integers") }
            return i
        }
    }

    /// An array of numbers (floats or integers), each finite.
    public mutating func doubleArray(_ key: String) throws -> [Double]? {
        guard let v = value(key) else { return nil }
        guard let a = v.array else { throw fail(key, "must be an array of numbers") }
        return try a.map { e in
            if let d = e.double {
                guard d.isFinite else { throw fail(key, "must hold finite numbers (got \(d))") }
                return d
            }
            if let i = e.int { return Double(i) }
            throw fail(key, "must be an array of numbers")
        }
    }

    /// The value of `key` as TOML text's kind: an integer, or a string (nil when absent).
    public mutating func intOrString(_ key: String) throws -> (int: Int?, string: String?)? {
        guard let v = value(key) else { return nil }
        if let i = v.int { return (i, nil) }
        if let s = v.string { return (nil, s) }
        throw fail(key, "must be an integer or a string")
    }

    public mutating func stringArray(_ key: String) throws -> [String]? {
        guard let v = value(key) else { return nil }
        guard let a = v.array else { throw fail(key, "must be an array of strings") }
        return try a.map { e in
            guard let s = e.string else { throw fail(key, "must be an array of strings") }
            return s
        }
    }

    /// A sub-table (`[key]`), read strictly in turn.
    public mutating func table(_ key: String) throws -> StrictTOMLTable? {
        guard let v = value(key) else { return nil }
        guard let t = v.table else { throw fail(key, "must be a table ([\(key)])") }
        return StrictTOMLTable(t, prefix: prefix + key + ".", file: file)
    }

    /// A table, or `false` for "off" (nil: absent; `.some(nil)`: `false`). Lets an experiment
    /// arm turn off a table-valued key its base pipeline sets.
    public mutating func tableOrOff(_ key: String) throws -> StrictTOMLTable?? {
        guard let v = value(key) else { return nil }
        if let t = v.table { return .some(StrictTOMLTable(t, prefix: prefix + key + ".", file: file)) }
        guard v.bool == false else { throw fail(key, "must be a table ({…}) or false") }
        return .some(nil)
    }

    /// An array of tables (`[[key]]`).
    public mutating func tableArray(_ key: String) throws -> [TOMLTable]? {
        guard let v = value(key) else { return nil }
        guard let a = v.array else { throw fail(key, "must be an array of tables ([[\(key)]])") }
        return try a.map { e in
            guard let t = e.table else { throw fail(key, "must be an array of tables ([[\(key)]])") }
            return t
        }
    }

    /// Throws for the first key that was never read.
    public func finish() throws {
        for key in table.keys.sorted() where !used.contains(key) {
            throw MixError("\(file): unknown key \(prefix)\(key)")
        }
    }
}
