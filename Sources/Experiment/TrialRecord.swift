import Foundation
import MixCore
import Pipeline

/// What the experiment runner remembers about one arm × trial, in
/// `runs/<arm>-seed<k>/trial.json` (written atomically): the settings it was
/// made with, the measured prep time (a rerun that keeps the shards measures
/// nothing), and — once the run has finished and its final checkpoint was
/// evaluated — the confusion matrix.
///
/// A record read back is checked field by field (`problem`): a file that does
/// not decode or holds impossible numbers is not trusted, and the runner redoes
/// the trial (see `ExperimentRunner.runTrial`).
struct TrialRecord: Codable, Equatable {
    static let fileName = "trial.json"

    /// The most prep seconds a record may hold (about 32 years): no measurement is
    /// larger, and sums over the most runs an experiment has stay exact and printable.
    static let maxSeconds = 1e9
    /// The most shards, training or test samples a record may count: the confusion
    /// matrices of `ExperimentSpec.maxRuns` runs, summed per arm, stay below 2^63.
    static let maxCount = 1_000_000_000_000
    /// The most classes: the shard format's (`MixShardLayout.maxClasses`).
    static let maxClasses = 65_535

    var arm: String
    var seed: UInt64
    /// What the shards were made from (besides the source bytes).
    var identity: PrepIdentity
    var train: TrainSection
    /// Wall seconds of the `PrepRunner.run` calls that wrote shards.
    var prepSeconds: Double = 0
    var shardsWritten: Int = 0
    /// The final checkpoint was evaluated: the run is done.
    var complete: Bool = false
    /// `confusion[true][predicted]` of the final checkpoint on the test split.
    var confusion: [[Int]]?
    var classNames: [String]?
    var trainSamples: Int?
    var testSamples: Int?
    var sourceName: String?
    var sourceFingerprint: String?
    var manifestSHA256: String?

    init(trial: TrialPlan) {
        arm = trial.arm.name
        seed = trial.seed
        identity = trial.pipeline.prepIdentity
        train = trial.pipeline.train
    }

    /// The record in `directory`: nil when there is none, a failure (one line naming the
    /// file and what is wrong) when it does not decode or `problem` finds an impossible
    /// field. Throws only when the file cannot be read.
    static func load(directory: String) throws -> Result<TrialRecord, MixError>? {
        let path = directory + "/" + fileName
        guard FileIO.exists(path) else { return nil }
        let bytes = try FileIO.read(path, limit: 64 << 20, what: "a trial record")
        let record: TrialRecord
        do {
            record = try JSONDecoder().decode(TrialRecord.self, from: Data(bytes))
        } catch {
            return .failure(MixError.file(path, "is not a trial record (\(MixError.describe(decoding: error)))"))
        }
        if let problem = record.problem { return .failure(MixError.file(path, problem)) }
        return .success(record)
    }

    /// What is impossible about the record's own fields, naming the key; nil when nothing is.
    /// Times are finite and from 0 to `maxSeconds`; counts from 0 (samples: 1) to `maxCount`;
    /// the results — `confusion`, `classNames`, `trainSamples`, `testSamples`, `sourceName`,
    /// `sourceFingerprint`, `manifestSHA256` — are all there exactly when `complete` is;
    /// `confusion` is K×K for the K classes of `classNames` (2 to `maxClasses`), its entries
    /// from 0 to `testSamples` and summing to it.
    var problem: String? {
        if !(prepSeconds >= 0 && prepSeconds <= Self.maxSeconds) {
            return "prepSeconds must be from 0 to \(Wording.grouped(Int(Self.maxSeconds))) seconds (got \(prepSeconds))"
        }
        if !(0...Self.maxCount).contains(shardsWritten) {
            return "shardsWritten must be \(Wording.range(0, Self.maxCount)) (got \(shardsWritten))"
        }
        for (key, value) in [("trainSamples", trainSamples), ("testSamples", testSamples)] {
            if let value, !(1...Self.maxCount).contains(value) { return "\(key) must be \(Wording.range(1, Self.maxCount)) (got \(value))" }
        }
        let results: [(String, Bool)] = [("confusion", confusion != nil), ("classNames", classNames != nil),
                                         ("trainSamples", trainSamples != nil), ("testSamples", testSamples != nil),
                                         ("sourceName", sourceName != nil), ("sourceFingerprint", sourceFingerprint != nil),
                                         ("manifestSHA256", manifestSHA256 != nil)]
        if complete, let missing = results.first(where: { !$0.1 }) {
            return "complete is true but \(missing.0) is missing"
        }
        if !complete, let present = results.first(where: { $0.1 }) {
            return "complete is false but \(present.0) is set"
        }
        guard let confusion, let classNames, let testSamples else { return nil }
        let k = classNames.count
        if !(2...Self.maxClasses).contains(k) { return "classNames must name \(Wording.range(2, Self.maxClasses)) classes (got \(k))" }
        if let problem = ClassNames.problem(classNames, what: "classNames") { return problem }
        if confusion.count != k { return "confusion has \(confusion.count) rows; classNames names \(k) classes" }
        var total = 0
        for (i, row) in confusion.enumerated() {
            if row.count != k { return "confusion[\(i)] has \(row.count) entries; classNames names \(k) classes" }
            if let j = row.firstIndex(where: { !(0...testSamples).contains($0) }) {
                return "confusion[\(i)][\(j)] must be \(Wording.range(0, testSamples)), the test samples (got \(row[j]))"
            }
            // A row holds k < 2^16 entries of at most testSamples ≤ maxCount < 2^40 (< 2^56 together), but k rows
            // can pass 2^63: the total saturates (it is only compared with testSamples).
            let (sum, overflow) = total.addingReportingOverflow(row.reduce(0, +))
            total = overflow ? Int.max : sum
        }
        if total != testSamples { return "confusion counts \(total) test samples; testSamples says \(testSamples)" }
        return nil
    }

    func write(directory: String) throws {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .prettyPrinted]
        try FileIO.writeAtomically(directory + "/" + TrialRecord.fileName, Array(try e.encode(self)))
    }

    /// The settings in which this record differs from `trial`, by key.
    func differences(from trial: TrialPlan) -> [String] {
        let p = trial.pipeline
        var d: [String] = []
        if arm != trial.arm.name { d.append("arm") }
        if seed != trial.seed { d.append("seed") }
        if identity.trainLimit != p.dataset.trainLimit { d.append("dataset.train_limit") }
        if identity.testLimit != p.dataset.testLimit { d.append("dataset.test_limit") }
        if identity.augment.cropPad != p.augment.cropPad { d.append("augment.crop_pad") }
        if identity.augment.flip != p.augment.flip { d.append("augment.flip") }
        let (a, b) = (identity.mix, p.mix)
        if a.mode != b.mode { d.append("mix.mode") }
        if a.p != b.p { d.append("mix.p") }
        if a.alpha != b.alpha { d.append("mix.alpha") }
        if a.block != b.block { d.append("mix.block") }
        if a.smoothing != b.smoothing { d.append("mix.smoothing") }
        let (s, t) = (identity.shards, p.shards)
        if s.epochs != t.epochs { d.append("shards.epochs") }
        if s != t && s.epochs == t.epochs { d.append("shards") }
        let (x, y) = (train, p.train)
        if x.epochs != y.epochs { d.append("train.epochs") }
        if x.batch != y.batch { d.append("train.batch") }
        if x.lr != y.lr || x.beta1 != y.beta1 || x.beta2 != y.beta2 || x.eps != y.eps { d.append("train optimiser (lr, beta1, beta2, eps)") }
        if x.lrSchedule != y.lrSchedule || x.warmupEpochs != y.warmupEpochs || x.minLR != y.minLR || x.stepEpochs != y.stepEpochs
            || x.stepGamma != y.stepGamma || x.weightDecay != y.weightDecay || x.ema != y.ema {
            d.append("train recipe (lr_schedule, warmup_epochs, min_lr, step_epochs, step_gamma, weight_decay, ema)")
        }
        if x.widths != y.widths { d.append("train.widths") }
        if x.hidden != y.hidden { d.append("train.hidden") }
        return d
    }
}
