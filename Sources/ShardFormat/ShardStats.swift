/// Summary statistics of samples: how many were mixed, how λ is spread, and
/// how much label mass each class holds. Mergeable, so shards, epochs and
/// splits add up; a pure function of the samples, so a shard read back from
/// disk gives the same numbers as the one just written.
public struct ShardStats: Sendable, Equatable, Codable {
    public static let lambdaBins = 10

    public var samples: Int = 0
    /// Samples whose partner differs from the primary or whose λ is not 1.
    public var mixed: Int = 0
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
        let k = block.shape.classCount
        samples += block.count
        for p in block.provenance where p.partner != p.primary || p.lambda != 1 {
            mixed += 1
            let bin = min(Int(Double(p.lambda) * Double(ShardStats.lambdaBins)), ShardStats.lambdaBins - 1)
            lambdaHistogram[max(bin, 0)] += 1
        }
        block.labels.withUnsafeBufferPointer { labels in
            var mass = [Double](repeating: 0, count: k)
            for s in 0..<block.count {
                for c in 0..<k { mass[c] += Double(labels[s * k + c]) }
            }
            for c in 0..<k { labelMass[c] += mass[c] }
        }
    }

    public mutating func merge(_ other: ShardStats) {
        samples += other.samples
        mixed += other.mixed
        for i in 0..<ShardStats.lambdaBins { lambdaHistogram[i] += other.lambdaHistogram[i] }
        for c in 0..<min(labelMass.count, other.labelMass.count) { labelMass[c] += other.labelMass[c] }
    }

    public var fractionMixed: Double { samples == 0 ? 0 : Double(mixed) / Double(samples) }
}
