import MixCore
import NN
import ShardStore

/// `mixtrain eval`: a checkpoint evaluated on a shard directory's test split.
public enum CheckpointEvaluation {
    /// Loads `checkpoint`, evaluates it on `shardDirectory`'s test split, and returns the
    /// accuracy line, the normalisation used and the confusion matrix with class names.
    ///
    /// Inputs are normalised with the figures the checkpoint records — those its network was
    /// trained with (a version 1 checkpoint: the CIFAR-10 constants, all it was ever trained
    /// with) — not the directory's: a network's input scaling is part of the network, and the
    /// directory may hold other data of the same shape. A checkpoint trained with an EMA of
    /// the weights is evaluated with the averaged weights, as training evaluated it. When the directory's own figures differ,
    /// `warn` says so.
    public static func run(checkpoint: String, shardDirectory: String, threads: Int = 2, quiet: Bool = false,
                           warn: (String) -> Void = { printError("warning: " + $0) }) throws -> String {
        let ckpt = try Checkpoint.read(checkpoint)
        let dir = try ShardDirectory(path: shardDirectory)
        let s = dir.shape
        let c = ckpt.header.config
        guard c.inputChannels == s.channels, c.inputHeight == s.height, c.inputWidth == s.width, c.classes == s.classCount else {
            throw MixError.file(checkpoint, "network takes \(Wording.image(channels: c.inputChannels, height: c.inputHeight, width: c.inputWidth)) images and \(c.classes) classes; "
                                + "\(shardDirectory) holds \(Wording.image(channels: s.channels, height: s.height, width: s.width)) images and \(s.classCount) classes")
        }
        try MemoryBudget.check(c, workers: threads, training: false, context: checkpoint)
        setTrainingThreads(threads)
        let model = try ckpt.makeEvaluationModel()
        let normalizer = ckpt.normalizer
        let own = PixelNormalizer.forSource(dir.manifest.source)
        if own.normalizer != normalizer {
            warn("\(shardDirectory)'s images have other figures (\(own.normalizer.description)\(own.recorded ? "" : ", the CIFAR-10 constants")) "
                 + "than \(checkpoint) was trained with; normalising with the checkpoint's, as in training")
        }
        let loader = try ShardLoader(directory: dir, options: LoaderOptions(batch: 256, seed: ckpt.header.seed, normalizer: normalizer))
        let eval = try Evaluation.run(model: model, loader: loader,
                                      progress: Progress("eval", total: dir.testSampleCount, unit: "images", quiet: quiet))
        var out = "checkpoint \(checkpoint) (epoch \(ckpt.header.epoch)) on \(shardDirectory): \(eval.count) test images\n"
        if ckpt.ema != nil { out += "weights: the EMA (decay \(ckpt.header.recipe?.ema ?? 0)) of the trained weights, as in training\n" }
        out += "inputs normalised with \(normalizer.description) (the checkpoint's, as in training)\n"
        out += eval.table(classNames: dir.classNames)
        return out
    }
}
