import MixCore

/// A sample's label as what its row is made of (MixShard v3 sparse label record,
/// 12 bytes): the primary's class, the partner's (= the primary's when unmixed) and
/// λ, the primary's weight. With the shard's label smoothing ε it stands for exactly
/// one dense row, `LabelRow.write`'s (DESIGN.md, rule 12): the writer's own formula.
public struct LabelRecord: Equatable, Sendable {
    /// y_i: the primary's class.
    public var classA: UInt32
    /// y_j: the partner's class (= `classA` for an unmixed sample).
    public var classB: UInt32
    /// λ: the primary's weight.
    public var weight: Float

    public init(classA: UInt32, classB: UInt32, weight: Float) {
        self.classA = classA
        self.classB = classB
        self.weight = weight
    }

    /// Writes the dense row (`classCount` floats) this record stands for under smoothing
    /// `epsilon`; the classes must be below `classCount` (readers check it first).
    @inline(__always)
    public func expand(classCount k: Int, epsilon: Float, into out: UnsafeMutablePointer<Float>) {
        LabelRow.write(lambda: weight, primaryClass: Int(classA), partnerClass: Int(classB), classCount: k, epsilon: epsilon, into: out)
    }

    /// What breaks the rules every reader checks of a sparse record (DESIGN.md, rule 7a),
    /// for a shard of `classCount` classes; `provenance` is the sample's record when the
    /// shard has provenance. Nil when the record keeps them.
    public func problem(classCount k: Int, provenance p: Provenance?) -> String? {
        for (role, c) in [("classA", classA), ("classB", classB)] where Int(c) >= k {
            return "sparse label \(role) \(c) is not a class of the shard (it has \(Wording.grouped(k)))"
        }
        guard weight >= 0 && weight <= 1 else { return "sparse label weight \(Wording.float(weight)) is not in [0, 1]" }
        guard let p else { return nil }
        guard weight.bitPattern == p.lambda.bitPattern else {
            return "sparse label weight \(Wording.float(weight)) differs from the provenance lambda \(Wording.float(p.lambda))"
        }
        if p.kind == .copy && classA != classB {
            return "sparse label of a copy names two classes (\(classA) and \(classB))"
        }
        return nil
    }
}

/// The labels of a block of samples, as stored: dense rows, or sparse records and ε.
public enum SampleLabels: Equatable, Sendable {
    /// `n × K` float32 weights (MixShard v1, v2, and v3 `labelType` 0).
    case dense([Float])
    /// One record per sample and the label smoothing ε (binary32) they expand with (v3 `labelType` 2).
    case sparse([LabelRecord], smoothing: Float)

    /// Samples labelled (`classCount` is K, for dense rows).
    public func count(classCount k: Int) -> Int {
        switch self {
        case .dense(let rows): return k == 0 ? 0 : rows.count / k
        case .sparse(let records, _): return records.count
        }
    }

    /// Calls `body` with each sample's dense row (`classCount` floats), in sample order:
    /// as stored, or the record expanded into one scratch row (no `n × K` array).
    public func forEachRow(classCount k: Int, _ body: (Int, UnsafeBufferPointer<Float>) -> Void) {
        switch self {
        case .dense(let rows):
            rows.withUnsafeBufferPointer { r in
                for s in 0..<(k == 0 ? 0 : rows.count / k) { body(s, UnsafeBufferPointer(rebasing: r[(s * k)..<((s + 1) * k)])) }
            }
        case .sparse(let records, let epsilon):
            withUnsafeTemporaryAllocation(of: Float.self, capacity: max(k, 1)) { row in
                for (s, r) in records.enumerated() {
                    r.expand(classCount: k, epsilon: epsilon, into: row.baseAddress!)
                    body(s, UnsafeBufferPointer(rebasing: row[0..<k]))
                }
            }
        }
    }

    /// The dense rows (`n × K`): as stored, or the records expanded.
    public func rows(classCount k: Int) -> [Float] {
        switch self {
        case .dense(let rows):
            return rows
        case .sparse(let records, let epsilon):
            var out = [Float](repeating: 0, count: records.count * k)
            out.withUnsafeMutableBufferPointer { o in
                for (s, r) in records.enumerated() { r.expand(classCount: k, epsilon: epsilon, into: o.baseAddress! + s * k) }
            }
            return out
        }
    }
}

extension LabelRecord {
    /// Writes the 12-byte record at `at`.
    func write(into buf: UnsafeMutableRawBufferPointer, at: Int) {
        typealias R = MixShardLayout.SparseLabel
        buf.storeBytes(of: classA.littleEndian, toByteOffset: at + R.classA, as: UInt32.self)
        buf.storeBytes(of: classB.littleEndian, toByteOffset: at + R.classB, as: UInt32.self)
        buf.storeBytes(of: weight.bitPattern.littleEndian, toByteOffset: at + R.weight, as: UInt32.self)
    }

    /// Reads the 12-byte record at `at` (unchecked: see `problem`).
    static func read(_ b: UnsafeRawBufferPointer, at: Int) -> LabelRecord {
        typealias R = MixShardLayout.SparseLabel
        return LabelRecord(classA: b.le(UInt32.self, at: at + R.classA), classB: b.le(UInt32.self, at: at + R.classB),
                           weight: Float(bitPattern: b.le(UInt32.self, at: at + R.weight)))
    }
}
