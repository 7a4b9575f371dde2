import MixCore
import Pipeline
import Training

/// How `mixtrain experiment` runs a file: command-line overrides and resources.
public struct ExperimentOptions: Sendable {
    /// Replaces the dataset path (relative to the working directory).
    public var data: String?
    /// Output folder (default: the file's `out`, else `experiments/<name>`).
    public var out: String?
    /// Replaces `epochs` (training epochs and materialised epochs).
    public var epochs: Int?
    /// Threads for mixprep and for training.
    public var threads: Int
    /// Replaces the file's trials (seeds).
    public var trials: [UInt64]?
    /// Print nothing but warnings (no progress, no per-epoch lines).
    public var quiet: Bool
    /// A published experiment folder (its `summary.json`, as `scripts/publish-experiment.sh`
    /// writes it): the runs it holds of this experiment's arms and seeds are taken as finished
    /// instead of being run again (`ImportedRuns`).
    public var importFrom: String?
    /// Only these arms (and the baseline, which every comparison needs) are run and reported.
    public var arms: [String]?

    /// Options; nil keeps the file's value.
    public init(data: String? = nil, out: String? = nil, epochs: Int? = nil, threads: Int = Parallel.defaultThreads,
                trials: [UInt64]? = nil, quiet: Bool = false, importFrom: String? = nil, arms: [String]? = nil) {
        self.arms = arms
        self.data = data
        self.out = out
        self.epochs = epochs
        self.threads = threads
        self.trials = trials
        self.quiet = quiet
        self.importFrom = importFrom
    }
}

/// One arm × trial: the pipeline it runs and where its shards and run go.
public struct TrialPlan: Sendable, Equatable {
    /// The arm (its name and mixing).
    public var arm: ExperimentArm
    /// The trial's seed: mixing, network initialisation and sample order.
    public var seed: UInt64
    /// `<arm>-seed<k>`.
    public var name: String
    /// The base pipeline with the arm's mixing, the trial's seed and the experiment's overrides.
    public var pipeline: Pipeline
    /// `OUT/shards/<name>`.
    public var shardDirectory: String
    /// `OUT/runs/<name>`.
    public var runDirectory: String

    /// `OUT`, the experiment's folder, which holds `shards/<name>` and `runs/<name>`.
    public var experimentDirectory: String {
        String(runDirectory.dropLast("/runs/".count + name.count))
    }

    /// The checkpoint a finished run holds.
    public var finalCheckpoint: String {
        runDirectory + "/" + Checkpoint.fileName(epoch: pipeline.train.epochs)
    }
}

/// An experiment with the command line applied: every arm × trial, seed by
/// seed (every arm of the first seed, then of the next), so that an
/// interrupted experiment has comparable runs early.
public struct ExperimentPlan: Sendable, Equatable {
    /// The experiment file as read.
    public var spec: ExperimentSpec
    /// The output folder (`report.md`, `summary.json`, `shards/`, `runs/`).
    public var outDirectory: String
    /// Training epochs of every run.
    public var epochs: Int
    /// The trials' seeds, in order.
    public var seeds: [UInt64]
    /// Every arm × trial, in the order they run.
    public var trials: [TrialPlan]

    /// Applies `options` to `spec` and checks the result.
    public init(spec file: ExperimentSpec, options: ExperimentOptions) throws {
        guard options.threads >= 1 else { throw MixError("threads must be ≥ 1 (got \(options.threads))") }
        var spec = file
        if let chosen = options.arms {
            let names = Set(spec.arms.map(\.name))
            if let unknown = chosen.first(where: { !names.contains($0) }) {
                throw MixError("--arms: \(spec.file) has no arm \"\(unknown)\" (its arms: \(spec.arms.map(\.name).joined(separator: ", ")))")
            }
            spec.arms = spec.arms.filter { chosen.contains($0.name) || $0.name == spec.baseline }
        }
        var base = spec.base
        if let data = options.data {
            guard !data.isEmpty else { throw MixError("--data must not be empty") }
            base.dataset.path = data
        }
        if let e = options.epochs {
            guard (1...100_000).contains(e) else { throw MixError("--epochs must be \(Wording.range(1, 100_000)) (got \(e))") }
            base.train.epochs = e
            base.shards.epochs = e
        }
        guard !base.dataset.path.isEmpty else {
            throw MixError("\(spec.file): dataset.path must be set (in the pipeline, as data = \"…\", or with --data)")
        }
        if let problem = base.problems().first { throw MixError("\(spec.file): \(problem)") }
        // The file's seeds, then any an arm adds (`arms.trials`), in order of appearance;
        // --trials replaces them all, every arm's included.
        var seeds = options.trials ?? spec.trials
        if options.trials == nil {
            for arm in spec.arms { for s in arm.trials ?? [] where !seeds.contains(s) { seeds.append(s) } }
        }
        guard !seeds.isEmpty else { throw MixError("--trials must list at least one seed") }
        guard Set(seeds).count == seeds.count else { throw MixError("--trials lists a seed twice (\(seeds.map(String.init).joined(separator: ",")))") }
        if options.trials != nil { try ExperimentSpec.checkRuns(arms: spec.arms.count, trials: seeds.count, file: spec.file, from: " from --trials") }
        let out = options.out ?? spec.out ?? "experiments/\(spec.name)"
        guard !out.isEmpty else { throw MixError("--out must not be empty") }

        self.spec = spec
        outDirectory = out
        epochs = base.train.epochs
        self.seeds = seeds
        for arm in spec.arms {
            if let problem = arm.problems(base: base).first { throw MixError("\(spec.file): \(problem)") }
        }
        let everyArmEverySeed = options.trials != nil
        trials = seeds.flatMap { seed in
            spec.arms.filter { everyArmEverySeed || ($0.trials ?? spec.trials).contains(seed) }.map { arm in
                var p = base
                p.augment = arm.augment
                p.mix = arm.mix
                p.train = arm.training(base: base.train)
                if let n = arm.shardsEpochs { p.shards.epochs = min(n, base.train.epochs) }
                p.seed = seed
                p.name = "\(spec.name)-\(arm.name)-seed\(seed)"
                let name = "\(arm.name)-seed\(seed)"
                return TrialPlan(arm: arm, seed: seed, name: name, pipeline: p,
                                 shardDirectory: out + "/shards/" + name, runDirectory: out + "/runs/" + name)
            }
        }
    }

    /// The trials of one arm, in the order of the seeds.
    public func trials(of arm: String) -> [TrialPlan] {
        trials.filter { $0.arm.name == arm }
    }
}
