/// Summary statistics of samples: how many were mixed, how λ is spread, and
/// how much label mass each class holds. Mergeable, so shards, epochs and
/// splits add up; a pure function of the samples, so a shard read back from
/// disk gives the same numbers as the one just written.
public struct ShardStats: Sendable, Equatable, Codable {
    public static let lambdaBins = 10

    public var samples: Int = 0
    /// Samples that are not a plain copy of their primary (v1: partner ≠ primary or λ ≠ 1).
    public var mixed: Int = 0
    /// Samples whose primary is mirrored (v2 provenance; 0 in v1 manifests).
    public var flipped: Int = 0
    /// Samples whose primary is shifted by a crop (v2).
    public var shifted: Int = 0
    /// Samples stored as references to the source copy (v2).
    public var references: Int = 0
    /// Histogram of λ over mixed samples, 10 equal bins over [0, 1].
    public var lambdaHistogram: [Int] = Array(repeating: 0, count: ShardStats.lambdaBins)
    /// Sum of the label vectors, per class.
    public var labelMass: [Double]

    public init(classCount: Int) {
        labelMass = Array(repeating: 0, count: classCount)
    }

    /// The statistics of a block of samples (provenance needed for mixing counts).
    public init(of block: SampleBlock) {
        self.init(classCount: block.shape.classCount)
        add(block)
    }

    public mutating func add(_ block: SampleBlock) {
        add(block, continuing: false)
    }

    /// Adds the next chunk of a shard whose statistics these are: the label mass is
    /// summed straight into `labelMass`, sample after sample, so a shard's statistics
    /// built chunk by chunk from zero equal, bit for bit, `ShardStats(of:)` of the
    /// whole shard (what `verify` and the Python reader recompute).
    public mutating func addChunk(_ block: SampleBlock) {
        add(block, continuing: true)
    }

    private mutating func add(_ block: SampleBlock, continuing: Bool) {
        let k = block.shape.classCount
        samples += block.count
        for p in block.provenance {
            if p.primaryTransform.flip { flipped += 1 }
            if p.primaryTransform.dx != 0 || p.primaryTransform.dy != 0 { shifted += 1 }
            if p.isReference { references += 1 }
            guard p.isMixed else { continue }
            mixed += 1
            let bin = min(Int(Double(p.lambda) * Double(ShardStats.lambdaBins)), ShardStats.lambdaBins - 1)
            lambdaHistogram[max(bin, 0)] += 1
        }
        // The dense rows readers yield, summed in the same order whether stored dense or sparse.
        var mass = continuing ? labelMass : [Double](repeating: 0, count: k)
        block.labels.forEachRow(classCount: k) { _, row in
            for c in 0..<k { mass[c] += Double(row[c]) }
        }
        if continuing { labelMass = mass } else { for c in 0..<k { labelMass[c] += mass[c] } }
    }

    public mutating func merge(_ other: ShardStats) {
        samples += other.samples
        mixed += other.mixed
        flipped += other.flipped
        shifted += other.shifted
        references += other.references
        for i in 0..<ShardStats.lambdaBins { lambdaHistogram[i] += other.lambdaHistogram[i] }
        for c in 0..<min(labelMass.count, other.labelMass.count) { labelMass[c] += other.labelMass[c] }
    }

    enum CodingKeys: String, CodingKey { case samples, mixed, flipped, shifted, references, lambdaHistogram, labelMass }

    /// Decodes v1 manifests too (no flipped, shifted or references counts: 0).
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        samples = try c.decode(Int.self, forKey: .samples)
        mixed = try c.decode(Int.self, forKey: .mixed)
        flipped = try c.decodeIfPresent(Int.self, forKey: .flipped) ?? 0
        shifted = try c.decodeIfPresent(Int.self, forKey: .shifted) ?? 0
        references = try c.decodeIfPresent(Int.self, forKey: .references) ?? 0
        lambdaHistogram = try c.decode([Int].self, forKey: .lambdaHistogram)
        labelMass = try c.decode([Double].self, forKey: .labelMass)
    }

    public var fractionMixed: Double { samples == 0 ? 0 : Double(mixed) / Double(samples) }
}
