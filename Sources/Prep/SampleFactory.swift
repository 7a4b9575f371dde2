import MixCore
import Mixup
import ShardFormat

/// Makes the samples of a shard job: a pure function of (source, mixing config, seed, job).
struct SampleFactory: Sendable {
    let train: LabeledImages
    let test: LabeledImages
    let classCount: Int
    let mix: MixConfig
    let seed: UInt64

    var shape: SampleShape {
        SampleShape(channels: train.channels, height: train.height, width: train.width, classCount: classCount)
    }

    func block(for job: ShardJob) -> SampleBlock {
        var block = SampleBlock(shape: shape)
        let n = job.count
        let k = classCount
        let imageBytes = shape.imageBytes
        block.images = [UInt8](repeating: 0, count: n * imageBytes)
        block.labels = [Float](repeating: 0, count: n * k)
        block.provenance.reserveCapacity(n)
        let decisions: [MixDecision]
        let source: LabeledImages
        let smoothing: Double
        switch job.split {
        case .train:
            let plan = EpochPlan(config: mix, seed: seed, epoch: job.epoch, count: train.count,
                                 height: train.height, width: train.width)
            decisions = job.positions.map { plan.decision(at: $0) }
            source = train
            smoothing = mix.smoothing
        case .test:
            decisions = job.positions.map(MixDecision.unmixed)
            source = test
            smoothing = 0
        }
        block.images.withUnsafeMutableBufferPointer { images in
            block.labels.withUnsafeMutableBufferPointer { labels in
                for (s, d) in decisions.enumerated() {
                    Mixer.image(d, source: source, into: images.baseAddress! + s * imageBytes)
                    Mixer.label(d, source: source, classCount: k, smoothing: smoothing, into: labels.baseAddress! + s * k)
                }
            }
        }
        block.provenance = decisions.map { Provenance(primary: UInt32($0.primary), partner: UInt32($0.partner), lambda: $0.lambda) }
        return block
    }
}
