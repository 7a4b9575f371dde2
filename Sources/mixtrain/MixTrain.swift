import ArgumentParser
import Experiment
import Foundation
import MixCore
import Pipeline
import ShardStore
import Training

@main
struct MixTrain: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mixtrain",
        abstract: "Train the seed CNN on a MixShard directory made by `mixprep run`.",
        version: Manifest.toolVersion,
        subcommands: [Train.self, Eval.self, Bench.self, BenchLoader.self, Experiment.self])
}

/// Turns library errors into one line and a non-zero exit.
func guarded(_ body: () throws -> Void) throws {
    do {
        try body()
    } catch let error as MixError {
        printError("error: \(error.message)")
        throw ExitCode(1)
    }
}

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train on SHARD_DIR; write metrics.csv, curves.svg, report.md and a checkpoint per epoch.",
        discussion: """
        Settings come from the pipeline embedded in the directory's manifest.json (or --pipeline FILE); \
        options override them. With --resume, training continues from the newest good checkpoint in the \
        run directory and gives the same per-epoch metrics as an uninterrupted run; when the run directory \
        holds checkpoints but none is usable, it is refused unless --start-over is also given.
        """)

    @Argument(help: "Shard directory (with manifest.json).") var shardDir: String
    @Option(help: "Pipeline file whose [train] section to use (default: the manifest's pipeline).") var pipeline: String?
    @Option(help: "Training epochs (overrides train.epochs).") var epochs: Int?
    @Option(help: "Threads for OpenBLAS and the kernels.") var threads: Int = Parallel.defaultThreads
    @Option(help: "Seed for initialisation and chunk order (default: the pipeline's seed).") var seed: UInt64?
    @Option(help: "Run directory (default: runs/<pipeline name>).") var out: String?
    @Flag(help: "Continue from the newest good checkpoint in the run directory.") var resume = false
    @Flag(help: "Train from scratch, deleting the run directory's checkpoints; with --resume, only if none of them is usable.")
    var startOver = false
    @Flag(help: "Skip corrupt chunks (counted and reported) instead of stopping.") var skipCorrupt = false
    @Option(help: "Batch size (overrides train.batch).") var batch: Int?
    @Option(help: "Learning rate (overrides train.lr; the base rate a schedule scales).") var lr: Double?
    @Option(help: "Learning-rate schedule: constant, cosine or step (overrides train.lr_schedule).") var lrSchedule: String?
    @Option(help: "Cosine: linear warm-up epochs, counted in steps (overrides train.warmup_epochs).") var warmupEpochs: Int?
    @Option(help: "Cosine: the rate's floor (overrides train.min_lr).") var minLr: Double?
    @Option(help: "Step: epochs between decays (overrides train.step_epochs).") var stepEpochs: Int?
    @Option(help: "Step: factor of each decay (overrides train.step_gamma).") var stepGamma: Double?
    @Option(help: "Decoupled AdamW weight decay, 0 = Adam (overrides train.weight_decay).") var weightDecay: Double?
    @Option(help: "EMA decay of the weights, evaluated and checkpointed; 0 = off (overrides train.ema).") var ema: Double?
    @Flag(help: "Print nothing but errors and warnings.") var quiet = false

    func validate() throws {
        if threads < 1 { throw ValidationError("--threads must be ≥ 1") }
        if let epochs, epochs < 1 { throw ValidationError("--epochs must be ≥ 1") }
        if let lr, !(lr > 0 && lr.isFinite) { throw ValidationError("--lr must be > 0") }
        if let lrSchedule, !TrainSection.scheduleNames.contains(lrSchedule) {
            throw ValidationError("--lr-schedule must be one of \(TrainSection.scheduleNames.joined(separator: ", ")) (got \(String(reflecting: lrSchedule)))")
        }
        if let warmupEpochs, warmupEpochs < 0 { throw ValidationError("--warmup-epochs must be ≥ 0") }
        if let minLr, !(minLr >= 0 && minLr.isFinite) { throw ValidationError("--min-lr must be ≥ 0") }
        if let stepEpochs, stepEpochs < 1 { throw ValidationError("--step-epochs must be ≥ 1") }
        if let stepGamma, !(stepGamma > 0 && stepGamma <= 1) { throw ValidationError("--step-gamma must be in (0, 1]") }
        if let weightDecay, !(weightDecay >= 0 && weightDecay.isFinite) { throw ValidationError("--weight-decay must be ≥ 0") }
        if let ema, !(0..<1).contains(ema) { throw ValidationError("--ema must be in [0, 1), 0 = off") }
    }

    func run() throws {
        try guarded {
            if let batch, let problem = TrainingLimits.batchProblem(batch, key: "--batch") { throw MixError(problem) }
            let p: Pipeline
            if let pipeline {
                p = try Pipeline.load(pipeline)
            } else {
                p = try Manifest.load(directory: shardDir).pipeline
            }
            var t = p.train
            if let epochs { t.epochs = epochs }
            if let batch { t.batch = batch }
            if let lr { t.lr = lr }
            if let lrSchedule { t.lrSchedule = lrSchedule }
            if let warmupEpochs { t.warmupEpochs = warmupEpochs }
            if let minLr { t.minLR = minLr }
            if let stepEpochs { t.stepEpochs = stepEpochs }
            if let stepGamma { t.stepGamma = stepGamma }
            if let weightDecay { t.weightDecay = weightDecay }
            if let ema { t.ema = ema }
            let runDirectory = try out ?? TrainSettings.defaultRunDirectory(pipelineName: p.name)
            let settings = TrainSettings(shardDirectory: shardDir, runDirectory: runDirectory, train: t,
                                         pipelineName: p.name, seed: seed ?? p.seed, threads: threads, resume: resume,
                                         startOver: startOver, skipCorrupt: skipCorrupt, quiet: quiet)
            let result = try Trainer.run(settings) { line in
                FileHandle.standardOutput.write(Data((line + "\n").utf8))
            }
            if !quiet, let acc = result.finalAccuracy {
                print("final test accuracy \(String(format: "%.2f", 100 * acc))%; wrote \(settings.runDirectory)/{metrics.csv,curves.svg,report.md}")
            }
        }
    }
}

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate a checkpoint on a shard directory's test split: accuracy and confusion matrix.")

    @Argument(help: "Checkpoint file (checkpoint-NNN.ckpt).") var checkpoint: String
    @Argument(help: "Shard directory (with manifest.json).") var shardDir: String
    @Option(help: "Threads for OpenBLAS and the kernels.") var threads: Int = Parallel.defaultThreads

    func validate() throws {
        if threads < 1 { throw ValidationError("--threads must be ≥ 1") }
    }

    func run() throws {
        try guarded {
            let result = try CheckpointEvaluation.run(checkpoint: checkpoint, shardDirectory: shardDir, threads: threads)
            print(result, terminator: "")
        }
    }
}

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Time training steps (forward, loss, backward, Adam) of the seed CNN on synthetic input.",
        discussion: "Prints the settings, the BLAS kernel in use and, last, the rate in images/s.")

    @Option(help: "Timed steps (after 3 warm-up steps).") var steps: Int = 20
    @Option(help: "Threads for the micro-batch workers and the kernels.") var threads: Int = Parallel.defaultThreads
    @Option(help: "Batch size.") var batch: Int = 128
    @Option(help: "Samples per micro-batch (changes the numbers; training uses the default).")
    var microBatch: Int = TrainingDefaults.microBatch
    @Flag(help: "Also print the CPU time per step of each phase.") var profile = false

    func validate() throws {
        if steps < 1 { throw ValidationError("--steps must be ≥ 1") }
        if threads < 1 { throw ValidationError("--threads must be ≥ 1") }
        if !(1...TrainingLimits.maxBatch).contains(microBatch) {
            throw ValidationError("--micro-batch must be \(Wording.range(1, TrainingLimits.maxBatch))")
        }
    }

    func run() throws {
        try guarded {
            if let problem = TrainingLimits.batchProblem(batch, key: "--batch") { throw MixError(problem) }
            try TrainBenchmark.checkMemory(batch: batch, threads: threads, microBatch: microBatch)
        }
        let header = "seed CNN, fp32 (the one precision), batch \(batch), micro-batch \(microBatch), \(threads) thread\(threads == 1 ? "" : "s"), \(steps) steps, "
            + "synthetic 3×32×32 input drawn from N(0, 1) (already normalised: no mean or std applied)"
        if profile {
            let r = TrainBenchmark.profile(batch: batch, steps: steps, threads: threads, microBatch: microBatch)
            print(header)
            print(BLASReport.line)
            print(ProfileTable.render(r.phases, batch: batch, threads: threads))
            print(String(format: "%.0f images/s", r.imagesPerSecond))
        } else {
            let rate = TrainBenchmark.run(batch: batch, steps: steps, threads: threads, microBatch: microBatch)
            print(header)
            print(BLASReport.line)
            print(String(format: "%.0f images/s", rate))
        }
        if let warning = BLASReport.warning { printError("warning: " + warning) }
    }
}

struct BenchLoader: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-loader",
        abstract: "Time the shard loader alone (inflate, checks, normalisation) over training epochs.")

    @Argument(help: "Shard directory (with manifest.json).") var shardDir: String
    @Option(help: "Epochs to read.") var epochs: Int = 1
    @Option(help: "Batch size.") var batch: Int = 128

    func validate() throws {
        if epochs < 1 { throw ValidationError("--epochs must be ≥ 1") }
    }

    func run() throws {
        try guarded {
            if let problem = TrainingLimits.batchProblem(batch, key: "--batch") { throw MixError(problem) }
            let r = try LoaderBenchmark.run(path: shardDir, epochs: epochs, batch: batch)
            if !r.recorded { printError("warning: " + PixelNormalizer.fallbackNote(directory: shardDir, normalizer: r.normalizer)) }
            print("inputs normalised with \(r.normalizer.description) (\(r.recorded ? "manifest.json source.channelStats" : "the CIFAR-10 constants"))")
            if let source = r.source { print("source copy: \(source); opening the directory took \(String(format: "%.2f", r.openSeconds)) s") }
            print("\(r.images) images in \(String(format: "%.2f", r.seconds)) s on one decoding thread; "
                  + "\(String(format: "%.2f", r.cpuSeconds)) CPU s (\(String(format: "%.0f", r.imagesPerCPUSecond)) images per CPU second)")
            print(String(format: "%.0f images/s", r.imagesPerSecond))
        }
    }
}

struct Experiment: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run an experiment file: mixprep and mixtrain for every arm × trial, then OUT/report.md and OUT/summary.json.",
        discussion: """
        Shards go to OUT/shards/<arm>-seed<k>, runs to OUT/runs/<arm>-seed<k>. Rerunning keeps shards that verify, \
        skips finished runs and resumes interrupted ones from their last checkpoint. Several processes may run the \
        same experiment into the same OUT at once (e.g. one per core with --threads 1): each run is claimed with a \
        lock, and a process that runs out of free runs waits for the others' and takes over any whose process died. \
        See README.md, "Experiments".
        """)

    @Argument(help: "Experiment file (TOML: a base pipeline, [[arms]] and trials).") var file: String
    @Option(help: "Dataset path (overrides the file's data / dataset.path).") var data: String?
    @Option(help: "Output folder (default: the file's out, else experiments/<name>).") var out: String?
    @Option(help: "Epochs to train and materialise (overrides the file's epochs).") var epochs: Int?
    @Option(help: "Threads for mixprep and training.") var threads: Int = Parallel.defaultThreads
    @Option(help: "Seeds to run, comma-separated (overrides the file's trials), e.g. 0,1.") var trials: String?
    @Option(name: .customLong("import"),
            help: "A published experiment folder (its summary.json): its runs of this file's arms and seeds are taken as finished, not run again.")
    var importFrom: String?
    @Option(help: "Arms to run and report, comma-separated (the baseline always is), e.g. baseline,cutmix.") var arms: String?
    @Flag(help: "Print nothing but the answer, warnings and errors.") var quiet = false

    func validate() throws {
        if threads < 1 { throw ValidationError("--threads must be ≥ 1") }
        if let epochs, epochs < 1 { throw ValidationError("--epochs must be ≥ 1") }
        if let trials, parsedTrials(trials) == nil { throw ValidationError("--trials must be seeds ≥ 0 separated by commas, e.g. 0,1") }
        if let arms, arms.split(separator: ",", omittingEmptySubsequences: false).contains(where: { $0.trimmingCharacters(in: .whitespaces).isEmpty }) {
            throw ValidationError("--arms must be arm names separated by commas, e.g. baseline,cutmix")
        }
    }

    func parsedTrials(_ text: String) -> [UInt64]? {
        let seeds = text.split(separator: ",", omittingEmptySubsequences: false).map { UInt64($0.trimmingCharacters(in: .whitespaces)) }
        return seeds.isEmpty || seeds.contains(nil) ? nil : seeds.map { $0! }
    }

    func run() throws {
        try guarded {
            let spec = try ExperimentSpec.load(file)
            let options = ExperimentOptions(data: data, out: out, epochs: epochs, threads: threads,
                                            trials: trials.flatMap(parsedTrials), quiet: quiet, importFrom: importFrom,
                                            arms: arms.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } })
            let outcome = try ExperimentRunner.run(spec, options: options)
            for line in outcome.headline { print(line) }
            print("report: \(outcome.reportPath)")
        }
    }
}
