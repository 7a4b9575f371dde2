import Foundation
import MixCore
import Pipeline

/// What the experiment runner remembers about one arm × trial, in
/// `runs/<arm>-seed<k>/trial.json` (written atomically): the settings it was
/// made with, the measured prep time (a rerun that keeps the shards measures
/// nothing), and — once the run has finished and its final checkpoint was
/// evaluated — the confusion matrix.
struct TrialRecord: Codable, Equatable {
    static let fileName = "trial.json"

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

    static func load(directory: String) throws -> TrialRecord? {
        let path = directory + "/" + fileName
        guard FileIO.exists(path) else { return nil }
        do {
            return try JSONDecoder().decode(TrialRecord.self, from: Data(try FileIO.read(path)))
        } catch let e as MixError {
            throw e
        } catch {
            throw MixError.file(path, "is not a trial record (\(MixError.describe(decoding: error))); delete it to redo this run")
        }
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
        if x.widths != y.widths { d.append("train.widths") }
        if x.hidden != y.hidden { d.append("train.hidden") }
        return d
    }
}
