import Foundation
import Mixup

/// Mean and spread of one quantity over an arm's trials.
public struct TrialStatistic: Sendable, Equatable, Codable {
    /// Trials.
    public var n: Int
    /// Arithmetic mean.
    public var mean: Double
    /// Sample standard deviation (n − 1 in the denominator); nil for one trial.
    public var std: Double?
    /// Smallest value.
    public var min: Double
    /// Largest value.
    public var max: Double
    /// The per-trial values, in trial order.
    public var values: [Double]

    /// The statistic of `values` (at least one).
    public init(_ values: [Double]) {
        precondition(!values.isEmpty, "TrialStatistic needs at least one value")
        n = values.count
        mean = values.reduce(0, +) / Double(n)
        let m = mean
        std = n > 1 ? (values.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(n - 1)).squareRoot() : nil
        min = values.min()!
        max = values.max()!
        self.values = values
    }
}

/// Wall seconds split by what they were spent on.
public struct TimeSplit: Sendable, Equatable, Codable {
    /// `mixprep`: reading the source and writing shards.
    public var prep: Double = 0
    /// Training passes waiting for the loader's next batch.
    public var loading: Double = 0
    /// Training steps (forward, backward, Adam), loader waits excluded.
    public var training: Double = 0
    /// Test-split evaluation after each epoch.
    public var evaluation: Double = 0

    /// Seconds per part.
    public init(prep: Double = 0, loading: Double = 0, training: Double = 0, evaluation: Double = 0) {
        self.prep = prep
        self.loading = loading
        self.training = training
        self.evaluation = evaluation
    }

    /// All four parts.
    public var total: Double { prep + loading + training + evaluation }

    static func + (a: TimeSplit, b: TimeSplit) -> TimeSplit {
        TimeSplit(prep: a.prep + b.prep, loading: a.loading + b.loading, training: a.training + b.training,
                  evaluation: a.evaluation + b.evaluation)
    }

    enum CodingKeys: String, CodingKey { case prep, loading, training, evaluation, total }

    /// Decodes the four parts (`total` is derived).
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        prep = try c.decode(Double.self, forKey: .prep)
        loading = try c.decode(Double.self, forKey: .loading)
        training = try c.decode(Double.self, forKey: .training)
        evaluation = try c.decode(Double.self, forKey: .evaluation)
    }

    /// Encodes the four parts and their total.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(prep, forKey: .prep)
        try c.encode(loading, forKey: .loading)
        try c.encode(training, forKey: .training)
        try c.encode(evaluation, forKey: .evaluation)
        try c.encode(total, forKey: .total)
    }
}

/// One finished arm × trial.
public struct RunSummary: Sendable, Equatable, Codable {
    /// The arm's name.
    public var arm: String
    /// The trial's seed.
    public var seed: UInt64
    /// `runs/<arm>-seed<k>`, relative to the experiment folder.
    public var run: String
    /// `shards/<arm>-seed<k>`, relative to the experiment folder.
    public var shards: String
    /// Test accuracy (fraction) after the last epoch.
    public var finalTestAccuracy: Double
    /// Highest test accuracy over the epochs, and its 1-based epoch.
    public var bestTestAccuracy: Double
    public var bestEpoch: Int
    /// Test loss after the last epoch.
    public var finalTestLoss: Double
    /// Mean training loss of the last epoch.
    public var finalTrainLoss: Double
    /// Per epoch, from the final checkpoint's metrics (equal to `metrics.csv`).
    public var testAccuracy: [Double]
    /// Per epoch.
    public var testLoss: [Double]
    /// Per epoch.
    public var trainLoss: [Double]
    /// Per epoch: the threads it trained with (nil where the checkpoint did not record it).
    public var threads: [Int?]
    /// Per epoch: the OpenBLAS kernel it ran on (nil where the checkpoint did not record it).
    public var blasKernels: [String?]?
    /// Where the run's time went.
    public var seconds: TimeSplit
    /// `confusion[true][predicted]` of the final model on the test split.
    public var confusion: [[Int]]
}

/// One arm over its trials.
public struct ArmSummary: Sendable, Equatable, Codable {
    /// The arm's name.
    public var name: String
    /// The arm's mixing settings.
    public var mix: MixConfig
    /// e.g. `sample, p 0.2, α 0.2` or `none`.
    public var mixing: String
    /// Test accuracy after the last epoch, over trials.
    public var finalTestAccuracy: TrialStatistic
    /// Best test accuracy of each trial, over trials.
    public var bestTestAccuracy: TrialStatistic
    /// Test loss after the last epoch, over trials.
    public var finalTestLoss: TrialStatistic
    /// Summed over trials.
    public var confusion: [[Int]]
    /// Per class: correct / test samples of that class, from `confusion`.
    public var perClassAccuracy: [Double]
    /// Summed over trials.
    public var seconds: TimeSplit
    /// The experiment file's `reference_accuracy` for the arm (fraction).
    public var referenceAccuracy: Double? = nil
    /// The arm's training recipe in one line (`TrainSection.recipeDescription`).
    public var training: String? = nil
    /// Epochs materialised per run (training cycles through them).
    public var materialisedEpochs: Int? = nil
    /// Bytes on disk of one run's shard directory (every file its manifest lists:
    /// the epochs, the test split and the source copy), over trials.
    public var shardBytes: TrialStatistic? = nil
}

/// One arm against another (the baseline, or the arm's `compare_with`): the
/// difference of mean final test accuracies.
public struct Comparison: Sendable, Equatable, Codable {
    /// The compared arm.
    public var arm: String
    /// The arm it is compared with.
    public var baseline: String
    /// Mean final test accuracy of `arm` minus that of `baseline` (fraction; ×100 for points).
    public var difference: Double
    /// Standard error of the difference (Welch); nil unless both arms have ≥ 2 trials.
    public var standardError: Double?
    /// Welch–Satterthwaite degrees of freedom.
    public var degreesOfFreedom: Double?
    /// 95% confidence interval of the difference (Welch t); nil when the standard error is nil or 0.
    public var ci95Low: Double?
    public var ci95High: Double?
    /// Per seed present in both arms: arm minus baseline final test accuracy
    /// (same seed: same initialisation and sample order, only the mixing differs).
    public var perSeed: [SeedDifference]

    /// One seed's difference.
    public struct SeedDifference: Sendable, Equatable, Codable {
        /// The seed both runs used.
        public var seed: UInt64
        /// Arm minus baseline final test accuracy (fraction).
        public var difference: Double
    }

    /// Compares `arm`'s final test accuracies with `baseline`'s.
    public init(arm: ArmSummary, baseline: ArmSummary, runs: [RunSummary]) {
        self.arm = arm.name
        self.baseline = baseline.name
        let a = arm.finalTestAccuracy, b = baseline.finalTestAccuracy
        difference = a.mean - b.mean
        if let sa = a.std, let sb = b.std {
            let va = sa * sa / Double(a.n), vb = sb * sb / Double(b.n)
            let se = (va + vb).squareRoot()
            standardError = se
            if se > 0 {
                let df = (va + vb) * (va + vb) / (va * va / Double(a.n - 1) + vb * vb / Double(b.n - 1))
                degreesOfFreedom = df
                let t = studentT975(df)
                ci95Low = difference - t * se
                ci95High = difference + t * se
            }
        }
        var diffs: [SeedDifference] = []
        for r in runs where r.arm == arm.name {
            if let base = runs.first(where: { $0.arm == baseline.name && $0.seed == r.seed }) {
                diffs.append(SeedDifference(seed: r.seed, difference: r.finalTestAccuracy - base.finalTestAccuracy))
            }
        }
        perSeed = diffs
    }
}

/// `summary.json`: every number of the experiment report.
public struct ExperimentSummary: Sendable, Equatable, Codable {
    /// The experiment's name.
    public var experiment: String
    /// The experiment file.
    public var file: String
    /// The arm the others are compared with.
    public var baseline: String
    /// Training epochs of every run.
    public var epochs: Int
    /// The trials' seeds.
    public var seeds: [UInt64]
    /// The dataset's name, and the SHA-256 fingerprint of its records.
    public var source: String
    public var sourceFingerprint: String
    /// Training images per epoch.
    public var trainSamples: Int
    /// Test images.
    public var testSamples: Int
    /// Class names, in label order.
    public var classNames: [String]
    /// Training settings shared by every run.
    public var batch: Int
    public var learningRate: Double
    public var widths: [Int]
    public var hidden: Int
    /// Per arm, in file order.
    public var arms: [ArmSummary]
    /// Every other arm against the baseline, then each `compare_with` pair that is not already one of those.
    public var comparisons: [Comparison]
    /// With three arms or more: the arm with the highest mean final test accuracy
    /// against the runner-up (ties keep file order); nil otherwise.
    public var leader: Comparison? = nil
    /// Per arm × trial, arm by arm.
    public var runs: [RunSummary]
    /// Summed over every run.
    public var seconds: TimeSplit
    /// What the arms' reference accuracies are.
    public var reference: String? = nil
    /// The published experiment folder some runs were imported from (`--import`), and those
    /// runs' names (`<arm>-seed<k>`); nil when none was.
    public var importedFrom: String? = nil
    public var importedRuns: [String]? = nil

    /// The comparisons an experiment reports: every arm but the baseline against
    /// the baseline, then each arm against its `compareWith` (when that is not the baseline).
    public static func comparisons(arms: [ArmSummary], baseline: String, compareWith: [String: String],
                                   runs: [RunSummary]) -> [Comparison] {
        guard let base = arms.first(where: { $0.name == baseline }) else { return [] }
        var out = arms.filter { $0.name != baseline }.map { Comparison(arm: $0, baseline: base, runs: runs) }
        for arm in arms {
            guard let name = compareWith[arm.name], name != baseline, let other = arms.first(where: { $0.name == name }) else { continue }
            out.append(Comparison(arm: arm, baseline: other, runs: runs))
        }
        return out
    }

    /// The best arm against the runner-up by mean final test accuracy, for three arms or more.
    public static func leader(arms: [ArmSummary], runs: [RunSummary]) -> Comparison? {
        guard arms.count >= 3 else { return nil }
        let ranked = ranking(arms)
        return Comparison(arm: ranked[0], baseline: ranked[1], runs: runs)
    }

    /// Arms by mean final test accuracy, highest first; equal means keep file order.
    public static func ranking(_ arms: [ArmSummary]) -> [ArmSummary] {
        arms.enumerated().sorted {
            $0.element.finalTestAccuracy.mean != $1.element.finalTestAccuracy.mean
                ? $0.element.finalTestAccuracy.mean > $1.element.finalTestAccuracy.mean : $0.offset < $1.offset
        }.map(\.element)
    }

    /// Deterministic JSON (sorted keys, snake_case, indented).
    public func encoded() throws -> [UInt8] {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .prettyPrinted]
        e.keyEncodingStrategy = .convertToSnakeCase
        return Array(try e.encode(self)) + [10]
    }

    /// Reads `summary.json` bytes.
    public static func decode(_ bytes: [UInt8]) throws -> ExperimentSummary {
        let d = JSONDecoder()
        d.keyDecodingStrategy = .convertFromSnakeCase
        return try d.decode(ExperimentSummary.self, from: Data(bytes))
    }
}

/// The 97.5% quantile of Student's t with `df` degrees of freedom (fractional
/// df interpolated linearly in 1/df between tabulated values; 1.96 in the limit).
func studentT975(_ df: Double) -> Double {
    let table: [(Double, Double)] = [
        (1, 12.706), (2, 4.303), (3, 3.182), (4, 2.776), (5, 2.571), (6, 2.447), (7, 2.365), (8, 2.306),
        (9, 2.262), (10, 2.228), (12, 2.179), (15, 2.131), (20, 2.086), (25, 2.060), (30, 2.042),
        (40, 2.021), (60, 2.000), (120, 1.980),
    ]
    guard df.isFinite, df > 0 else { return 1.960 }
    if df <= 1 { return table[0].1 }
    for i in 1..<table.count where df <= table[i].0 {
        let (d0, t0) = table[i - 1], (d1, t1) = table[i]
        let w = (1 / df - 1 / d0) / (1 / d1 - 1 / d0)
        return t0 + w * (t1 - t0)
    }
    let (d0, t0) = table[table.count - 1]
    let w = (1 / df - 1 / d0) / (0 - 1 / d0)
    return t0 + w * (1.960 - t0)
}
