import Kernels
import Foundation
import MixCore
import ShardStore

/// The fixed facts of a run that `report.md` states.
struct ReportContext {
    let settings: TrainSettings
    let shardPath: String
    let manifestSHA256: String
    let sourceName: String
    let sourceFingerprint: String
    let classNames: [String]
    /// `64×48 (width×height, 3 channels)`.
    let imageSize: String
    let trainSamples: Int
    let testSamples: Int
    let materialisedEpochs: Int
    let parameterCount: Int
    let resumedEpochs: Int
    /// What the inputs were normalised with, and whether the manifest recorded it (else the CIFAR-10 constants).
    let normalizer: PixelNormalizer
    let normalizationRecorded: Bool

    init(settings: TrainSettings, directory: ShardDirectory, parameterCount: Int, resumedEpochs: Int,
         normalizer: PixelNormalizer, normalizationRecorded: Bool) {
        self.settings = settings
        shardPath = directory.path
        manifestSHA256 = directory.manifestSHA256
        sourceName = directory.manifest.source.name
        sourceFingerprint = directory.manifest.source.fingerprint
        classNames = directory.classNames
        imageSize = Wording.image(channels: directory.shape.channels, height: directory.shape.height, width: directory.shape.width)
        trainSamples = directory.trainSampleCount(epoch: 0)
        testSamples = directory.testSampleCount
        materialisedEpochs = directory.materialisedEpochs
        self.parameterCount = parameterCount
        self.resumedEpochs = resumedEpochs
        self.normalizer = normalizer
        self.normalizationRecorded = normalizationRecorded
    }

    /// The kernel(s) the epochs ran on, with the CPU.
    func blasText(_ metrics: [EpochMetrics]) -> String {
        let kernels = metrics.compactMap(\.blasKernel).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        let kernel = kernels.isEmpty ? BLASReport.kernel : kernels.joined(separator: "; then ")
        return "OpenBLAS kernel \(kernel), on \(CPUFeatures.current.summary)"
    }

    func markdown(metrics: [EpochMetrics], skipped: [CorruptChunk], wallSeconds: Double) -> String {
        let t = settings.train
        var s = "# mixtrain run: \(settings.pipelineName)\n\n## Settings\n\n"
        s += "| setting | value |\n|---|---|\n"
        s += "| shard directory | `\(shardPath)` |\n"
        s += "| manifest.json SHA-256 | `\(manifestSHA256)` |\n"
        s += "| source | \(sourceName) |\n"
        s += "| source fingerprint (SHA-256) | `\(sourceFingerprint)` |\n"
        s += "| classes | \(classNames.joined(separator: ", ")) |\n"
        s += "| image size | \(imageSize) |\n"
        s += "| input normalisation | (x/255 − mean) / std per channel, \(normalizer.description): "
            + (normalizationRecorded ? "the training images' own (manifest.json `source.channelStats`) |\n"
               : "the CIFAR-10 constants (manifest.json records no `source.channelStats`: made before mixprep recorded them) |\n")
        s += "| training samples per epoch | \(trainSamples) |\n"
        s += "| test samples | \(testSamples) |\n"
        s += "| materialised epochs | \(materialisedEpochs)\(t.epochs > materialisedEpochs ? " (epoch e reads epoch e mod \(materialisedEpochs), reshuffled)" : "") |\n"
        s += "| epochs | \(t.epochs) |\n"
        s += "| batch | \(t.batch) |\n"
        s += "| optimiser | \(t.weightDecay > 0 ? "AdamW" : "Adam"), lr \(t.lr), β1 \(t.beta1), β2 \(t.beta2), ε \(t.eps)"
            + "\(t.weightDecay > 0 ? ", weight decay \(t.weightDecay) (decoupled, every parameter incl. biases)" : "") |\n"
        s += "| recipe | \(t.recipeDescription) (per optimizer step; DESIGN.md, \"The training recipe\") |\n"
        s += "| evaluated weights | \(t.ema > 0 ? "the EMA of the weights (decay \(t.ema)): every test loss and accuracy below" : "the trained weights") |\n"
        s += "| network | conv widths \(t.widths), hidden \(t.hidden), \(parameterCount) parameters |\n"
        s += "| seed | \(settings.seed) |\n"
        s += "| micro-batch | \(TrainingDefaults.microBatch) samples (gradients summed in a fixed order: the thread count changes speed only) |\n"
        s += "| threads | \(metrics.isEmpty ? String(settings.threads) : RunOutputs.byStretches(metrics.map(\.threads))) |\n"
        s += "| BLAS | \(blasText(metrics)) |\n"
        if resumedEpochs > 0 { s += "| resumed | after epoch \(resumedEpochs) (from `\(Checkpoint.fileName(epoch: resumedEpochs))`) |\n" }
        s += "\n## Epochs\n\n| epoch | lr (last step) | train loss | test loss | test accuracy | images/s | seconds |\n|---:|---:|---:|---:|---:|---:|---:|\n"
        for m in metrics {
            s += "| \(m.epoch) | \(m.lr.map { String(format: "%.4g", $0) } ?? "—") | \(fmt(m.trainLoss, 4)) | \(fmt(m.testLoss, 4)) | \(fmt(100 * m.testAccuracy, 2))% | \(Int(m.imagesPerSecond.rounded())) | \(fmt(m.seconds, 1)) |\n"
        }
        s += "\n## Result\n\n"
        if let last = metrics.last {
            let best = metrics.max { $0.testAccuracy < $1.testAccuracy }!
            s += "Final test accuracy: **\(fmt(100 * last.testAccuracy, 2))%** after \(last.epoch) epoch\(last.epoch == 1 ? "" : "s") "
                + "(best \(fmt(100 * best.testAccuracy, 2))% at epoch \(best.epoch))"
                + (t.ema > 0 ? ", of the EMA of the weights (decay \(t.ema)).\n\n" : ".\n\n")
        } else {
            s += "No epoch has completed.\n\n"
        }
        let total = metrics.reduce(0) { $0 + $1.seconds }
        s += "Wall time: \(fmt(total, 1)) s summed over epochs; \(fmt(wallSeconds, 1)) s in this invocation.\n"
        if !skipped.isEmpty {
            let distinct = Dictionary(grouping: skipped) { "\($0.file)#\($0.chunk)" }
            s += "\n## Skipped corrupt chunks\n\n\(skipped.count) read\(skipped.count == 1 ? "" : "s") skipped, \(distinct.count) distinct chunk\(distinct.count == 1 ? "" : "s"):\n\n"
            for key in distinct.keys.sorted() {
                s += "- \(distinct[key]!.first!.message) (\(distinct[key]!.count)×)\n"
            }
        }
        return s
    }
}
