import Foundation
import Kernels
import MixCore
import NN
import Pipeline
import ShardStore

/// What `Trainer.run` needs: where to read and write, and the training knobs.
public struct TrainSettings: Sendable {
    /// A complete shard directory (with `manifest.json`).
    public var shardDirectory: String
    /// Where metrics, curves, report and checkpoints go (created if needed).
    public var runDirectory: String
    /// Epochs, batch, optimiser and network settings (the pipeline's `[train]`).
    public var train: TrainSection
    /// A name for reports (the pipeline's name).
    public var pipelineName: String
    /// Seeds the network initialisation and the loader's chunk order.
    public var seed: UInt64
    /// Threads for the network's micro-batch workers and loops (speed only, never numbers).
    public var threads: Int
    /// Continue from the newest good checkpoint in `runDirectory`.
    public var resume: Bool
    /// Train from scratch, deleting the checkpoints in `runDirectory`; with
    /// `resume`, only when none of them is usable (else that is refused).
    public var startOver: Bool
    /// Skip (and count) corrupt chunks instead of stopping.
    public var skipCorrupt: Bool
    /// No progress lines and no per-epoch lines.
    public var quiet: Bool

    public init(shardDirectory: String, runDirectory: String, train: TrainSection = TrainSection(),
                pipelineName: String = "pipeline", seed: UInt64 = 0, threads: Int = 2, resume: Bool = false,
                startOver: Bool = false, skipCorrupt: Bool = false, quiet: Bool = false) {
        self.shardDirectory = shardDirectory
        self.runDirectory = runDirectory
        self.train = train
        self.pipelineName = pipelineName
        self.seed = seed
        self.threads = threads
        self.resume = resume
        self.startOver = startOver
        self.skipCorrupt = skipCorrupt
        self.quiet = quiet
    }

    /// Throws the first problem with the settings, naming it.
    public func validate() throws {
        if let problem = train.trainProblems.first { throw MixError(problem) }
        guard threads >= 1 else { throw MixError("threads must be ≥ 1 (got \(threads))") }
        try FileIO.checkOutputDirectory(runDirectory)
    }

    /// `runs/<pipeline name>`, when the name is safe as a folder name (an older
    /// manifest's may not be: `../x`, empty, a newline).
    public static func defaultRunDirectory(pipelineName name: String) throws -> String {
        guard FileIO.isSafeName(name) else {
            throw MixError("the pipeline name \(String(reflecting: name)) cannot name a run directory; choose one with --out")
        }
        return "runs/" + name
    }
}

extension TrainSection {
    /// The section's problems, each naming its key (mirrors `Pipeline.problems`).
    var trainProblems: [String] {
        var p = Pipeline()
        p.dataset.path = "-"
        p.train = self
        return p.problems()
    }
}

/// What a training run produced.
public struct TrainResult: Sendable {
    /// Every epoch's metrics, including those restored from a checkpoint.
    public var metrics: [EpochMetrics]
    /// Epochs restored from a checkpoint (0 for a fresh run).
    public var resumedEpochs: Int
    /// Corrupt chunk reads skipped (with `skipCorrupt`).
    public var skipped: [CorruptChunk]
    /// Wall seconds of this invocation.
    public var wallSeconds: Double
    /// Final test accuracy (nil if no epoch ran).
    public var finalAccuracy: Double? { metrics.last?.testAccuracy }
}

/// The train/evaluate loop: per epoch, a pass over that epoch's shards, an
/// evaluation on the test split, then `metrics.csv`, `curves.svg`,
/// `report.md` and `checkpoint-NNN.ckpt` written atomically.
public enum Trainer {
    /// Trains as `settings` say; `log` receives the per-epoch summary lines.
    public static func run(_ settings: TrainSettings, log: @escaping (String) -> Void = { print($0) }) throws -> TrainResult {
        try settings.validate()
        // First, while this is the only thread: loading OpenBLAS sets OPENBLAS_CORETYPE for a moment.
        setTrainingThreads(settings.threads)
        let wallStart = Progress.now()
        let say: (String) -> Void = settings.quiet ? { _ in } : log
        let t = settings.train
        let dir = try ShardDirectory(path: settings.shardDirectory)
        let shape = dir.shape
        if let problem = t.imageShapeProblem(height: shape.height, width: shape.width) {
            throw MixError.file(settings.shardDirectory, problem)
        }
        let config = CNNConfig(widths: t.widths, hidden: t.hidden, classes: shape.classCount,
                               inputChannels: shape.channels, inputHeight: shape.height, inputWidth: shape.width)
        if let problem = config.validationError() {
            throw MixError.file(settings.shardDirectory, "cannot build the CNN for \(Wording.image(channels: shape.channels, height: shape.height, width: shape.width)) images: \(problem)")
        }
        try MemoryBudget.check(config, workers: settings.threads, training: true, context: settings.shardDirectory)
        let (normalizer, recorded) = PixelNormalizer.forSource(dir.manifest.source)
        if !recorded { printError("warning: " + PixelNormalizer.fallbackNote(directory: settings.shardDirectory, normalizer: normalizer)) }
        let loader = try ShardLoader(directory: dir, options: LoaderOptions(batch: t.batch, seed: settings.seed,
                                                                            skipCorrupt: settings.skipCorrupt, normalizer: normalizer))
        let run = settings.runDirectory
        try FileIO.makeDirectories(run)

        var model: SeedCNN
        var adam: Adam
        var ema: WeightEMA?
        var metrics: [EpochMetrics] = []
        var resumed = 0
        let usable = settings.resume ? Checkpoint.newestUsable(in: run) : (checkpoint: nil, skipped: [])
        if let ckpt = usable.checkpoint {
            for problem in usable.skipped { printError("warning: skipping unusable checkpoint: " + problem) }
            try check(ckpt.header, against: settings, config: config, directory: dir, normalizer: normalizer)
            model = try ckpt.makeModel()
            adam = ckpt.makeOptimizer()
            ema = ckpt.makeEMA()
            metrics = ckpt.header.metrics
            resumed = ckpt.header.epoch
            say("resuming from \(run)/\(Checkpoint.fileName(epoch: resumed)) (\(resumed) epoch\(resumed == 1 ? "" : "s") done)")
        } else {
            let existing = Checkpoint.list(in: run)
            if !existing.isEmpty && settings.startOver {
                for problem in usable.skipped { printError("warning: unusable checkpoint: " + problem) }
                for c in existing { FileIO.remove(c.path) }
                printError("warning: \(run): deleted \(existing.count) checkpoint\(existing.count == 1 ? "" : "s")"
                           + "\(settings.resume ? ", none usable" : "") (start over); training from scratch")
            } else if let newest = usable.skipped.first {
                throw MixError("\(run): none of its \(existing.count) checkpoint\(existing.count == 1 ? " is" : "s is") usable (newest: \(newest)); "
                               + "pass --start-over to delete \(existing.count == 1 ? "it" : "them") and train from scratch")
            } else if let first = existing.first {
                throw MixError.file(run, "already holds \(first.path.split(separator: "/").last!); pass --resume to continue it, "
                                    + "--start-over to replace it, or choose another --out")
            } else if settings.resume {
                printError("warning: no checkpoint in \(run); starting from scratch")
            }
            model = SeedCNN(config: config, seed: settings.seed)
            adam = Adam(parameterCount: model.parameterCount, learningRate: t.lr, beta1: t.beta1, beta2: t.beta2, epsilon: t.eps,
                        weightDecay: t.weightDecay)
            if t.ema > 0 { ema = WeightEMA(decay: t.ema, parameters: model.parameters) }
        }
        let schedule = t.schedule
        let recipe = CheckpointRecipe(t)
        // The schedule's epoch, in steps: the first epoch's batch count (DESIGN.md, "Training contract").
        let stepsPerEpoch = max(1, (dir.trainSampleCount(epoch: 0) + t.batch - 1) / t.batch)
        // Evaluation runs on the EMA's weights when there is one (timm's ModelEmaV2 use).
        let emaModel = ema.map { _ in SeedCNN(config: config, seed: settings.seed) }
        let context = ReportContext(settings: settings, directory: dir, parameterCount: model.parameterCount,
                                    resumedEpochs: resumed, normalizer: normalizer, normalizationRecorded: recorded)
        say("inputs normalised with \(normalizer.description) "
            + (recorded ? "(the training images' own, manifest.json source.channelStats)" : "(the CIFAR-10 constants)"))

        for epoch in resumed..<max(resumed, t.epochs) {
            let epochStart = Progress.now()
            let samples = dir.trainSampleCount(epoch: epoch)
            let batches = (samples + t.batch - 1) / t.batch
            let progress = Progress("epoch \(epoch + 1)/\(t.epochs)", total: samples, unit: "images", quiet: settings.quiet)
            let stream = loader.trainBatches(epoch: epoch)
            var lossSum = 0.0
            var seen = 0
            var loaderSeconds = 0.0
            var lastRate = adam.learningRate
            while true {
                let waitStart = Progress.now()
                guard let batch = try stream.next() else { break }
                loaderSeconds += Progress.now() - waitStart
                adam.learningRate = schedule.rate(base: t.lr, step: adam.step, stepsPerEpoch: stepsPerEpoch, epochs: t.epochs)
                lastRate = adam.learningRate
                let loss = batch.images.withUnsafeBufferPointer { x in
                    batch.labels.withUnsafeBufferPointer { y in
                        model.trainStep(input: x.baseAddress!, targets: y.baseAddress!, batch: batch.count, optimizer: &adam)
                    }
                }
                ema?.update(from: model)
                guard loss.isFinite else {
                    throw MixError("epoch \(epoch + 1), batch \(batch.index + 1): the loss is \(loss); lower the learning rate (train.lr = \(t.lr))")
                }
                lossSum += Double(loss) * Double(batch.count)
                seen += batch.count
                progress.advance(by: batch.count, status: "batch \(batch.index + 1)/\(batches), loss \(fmt(lossSum / Double(seen), 4))")
                stream.recycle(batch)
            }
            let trainSeconds = progress.finish()
            guard seen > 0 else { throw MixError.file(settings.shardDirectory, "epoch \(epoch + 1): no training sample could be read") }
            let evalStart = Progress.now()
            if let emaModel, let ema { emaModel.parameters = ema.values }
            let eval = try Evaluation.run(model: emaModel ?? model, loader: loader,
                                          progress: Progress("test \(epoch + 1)/\(t.epochs)", total: dir.testSampleCount,
                                                             unit: "images", quiet: settings.quiet))
            let epochEnd = Progress.now()
            let m = EpochMetrics(epoch: epoch + 1, trainLoss: lossSum / Double(seen), testLoss: eval.loss,
                                 testAccuracy: eval.accuracy, imagesPerSecond: Double(seen) / max(trainSeconds, 1e-9),
                                 seconds: epochEnd - epochStart, loaderSeconds: loaderSeconds,
                                 evalSeconds: epochEnd - evalStart, threads: settings.threads,
                                 blasKernel: BLASReport.kernel, lr: lastRate)
            metrics.append(m)
            say("epoch \(m.epoch)/\(t.epochs): train loss \(fmt(m.trainLoss, 4)), test loss \(fmt(m.testLoss, 4)), "
                + "test acc \(fmt(100 * m.testAccuracy, 2))%, \(Int(m.imagesPerSecond.rounded())) images/s, \(fmt(m.seconds, 1)) s")
            let ckpt = Checkpoint(model: model, optimizer: adam, normalizer: normalizer, epoch: epoch + 1, batch: t.batch, seed: settings.seed,
                                  metrics: metrics, pipelineName: settings.pipelineName,
                                  manifestSHA256: dir.manifestSHA256, sourceFingerprint: dir.manifest.source.fingerprint,
                                  learningRate: t.lr, recipe: recipe, ema: ema)
            try ckpt.write(to: run + "/" + Checkpoint.fileName(epoch: epoch + 1))
            try writeOutputs(run: run, metrics: metrics, context: context, skipped: loader.skipped,
                             wallSeconds: Progress.now() - wallStart)
        }
        if resumed >= t.epochs {
            say("nothing to do: \(resumed) epochs already done (asked for \(t.epochs))")
            try writeOutputs(run: run, metrics: metrics, context: context, skipped: loader.skipped,
                             wallSeconds: Progress.now() - wallStart)
        }
        let skipped = loader.skipped
        if !skipped.isEmpty {
            printError("warning: skipped \(skipped.count) corrupt chunk read\(skipped.count == 1 ? "" : "s") "
                       + "(\(Set(skipped.map { "\($0.file)#\($0.chunk)" }).count) distinct chunks); see \(run)/report.md")
        }
        return TrainResult(metrics: metrics, resumedEpochs: resumed, skipped: skipped, wallSeconds: Progress.now() - wallStart)
    }

    /// A checkpoint can continue this run only if it was made with the same settings and shards.
    static func check(_ h: Checkpoint.Header, against s: TrainSettings, config: CNNConfig, directory: ShardDirectory,
                      normalizer: PixelNormalizer) throws {
        var diff: [String] = []
        if h.config != config { diff.append("network (widths \(h.widths), hidden \(h.hidden) vs \(config.widths), \(config.hidden))") }
        if h.batch != s.train.batch { diff.append("batch (\(h.batch) vs \(s.train.batch))") }
        if h.seed != s.seed { diff.append("seed (\(h.seed) vs \(s.seed))") }
        if h.learningRate != s.train.lr || h.beta1 != s.train.beta1 || h.beta2 != s.train.beta2 || h.epsilon != s.train.eps {
            diff.append("optimiser settings")
        }
        let recipe = CheckpointRecipe(s.train)
        // The same recipe but for the cosine horizon (train.epochs) gets its own, actionable message.
        var sameButEpochs = recipe
        sameButEpochs?.scheduleEpochs = h.recipe?.scheduleEpochs
        if let e = h.recipe?.scheduleEpochs, let now = recipe?.scheduleEpochs, e != now, sameButEpochs == h.recipe {
            diff.append("epochs of the cosine schedule (\(e) vs \(now): the rate of every step depends on them; resume with --epochs \(e))")
        } else if h.recipe != recipe {
            diff.append("training recipe (\(h.trainRecipe.recipeDescription) vs \(s.train.recipeDescription))")
        }
        if h.manifestSHA256 != directory.manifestSHA256 { diff.append("shard set (manifest.json differs)") }
        if h.normalization != normalizer.stats {
            diff.append("input normalisation (\(h.normalization.description) vs \(normalizer.description))")
        }
        guard diff.isEmpty else {
            throw MixError.file(s.runDirectory, "the checkpoint of epoch \(h.epoch) differs from this run in: \(diff.joined(separator: ", "))")
        }
    }

    static func writeOutputs(run: String, metrics: [EpochMetrics], context: ReportContext, skipped: [CorruptChunk],
                             wallSeconds: Double) throws {
        try FileIO.writeAtomically(run + "/metrics.csv", RunOutputs.csv(metrics))
        try FileIO.writeAtomically(run + "/curves.svg", RunOutputs.svg(metrics, title: "mixtrain: \(context.settings.pipelineName)"))
        try FileIO.writeAtomically(run + "/report.md", context.markdown(metrics: metrics, skipped: skipped, wallSeconds: wallSeconds))
    }
}

extension TrainSection {
    /// The learning-rate schedule these keys name (validated: `lrSchedule` is a known name).
    public var schedule: LRSchedule {
        switch lrSchedule {
        case "cosine": return .cosine(warmupEpochs: warmupEpochs, minLR: minLR)
        case "step": return .step(everyEpochs: stepEpochs, gamma: stepGamma)
        default: return .constant
        }
    }
}

/// Sets the training thread count (Kernels' `setThreads`; OpenBLAS itself stays single-threaded).
public func setTrainingThreads(_ n: Int) {
    setThreads(n)
}
