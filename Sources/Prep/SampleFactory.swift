import MixCore
import Mixup
import ShardFormat
import ShardStore

/// Makes the samples of a shard job: a pure function of (source, augmentation,
/// mixing config, seed, job).
struct SampleFactory: Sendable {
    let train: ImageStore
    let test: ImageStore
    let classCount: Int
    let augment: AugmentConfig
    let mix: MixConfig
    let seed: UInt64
    /// Mark unmixed training samples as references (written without pixels).
    let references: Bool

    var shape: SampleShape {
        SampleShape(channels: train.channels, height: train.height, width: train.width, classCount: classCount)
    }

    /// The samples of `job`, labels as sparse records (the primary's class, the partner's, λ)
    /// with the split's label smoothing: the writer stores them as such in v3 and expands
    /// them with the same formula (`LabelRow`) to dense rows for v1 and v2.
    func block(for job: ShardJob) -> SampleBlock {
        let n = job.count
        let imageBytes = shape.imageBytes
        var images = [UInt8](repeating: 0, count: n * imageBytes)
        let decisions: [MixDecision]
        let source: ImageStore
        let smoothing: Double
        switch job.split {
        case .train:
            let plan = EpochPlan(config: mix, augment: augment, seed: seed, epoch: job.epoch, count: train.count,
                                 height: train.height, width: train.width)
            decisions = job.positions.map { plan.decision(at: $0) }
            source = train
            smoothing = mix.smoothing
        case .test, .source:
            // The test split unmixed; the source copy is the training images as read.
            decisions = job.positions.map { MixDecision.unmixed($0) }
            source = job.split == .test ? test : train
            smoothing = 0
        }
        images.withUnsafeMutableBufferPointer { images in
            for (s, d) in decisions.enumerated() { Mixer.image(d, source: source, into: images.baseAddress! + s * imageBytes) }
        }
        let records = decisions.map { d in
            let parts = Mixer.labelParts(d, source: source)
            return LabelRecord(classA: UInt32(parts.primaryClass), classB: UInt32(parts.partnerClass), weight: parts.lambda)
        }
        var block = SampleBlock(shape: shape, images: images, labels: .sparse(records, smoothing: Float(smoothing)))
        let referencing = references && job.split == .train
        block.provenance = decisions.map { SampleFactory.provenance($0, reference: referencing && $0.isCopy) }
        return block
    }

    /// The provenance record of a decision.
    static func provenance(_ d: MixDecision, reference: Bool) -> Provenance {
        let kind: MixKind = !d.mixed ? .copy : d.box != nil ? .cutmix : .blend
        let box = d.box.map { CutBox(x0: UInt16($0.x0), y0: UInt16($0.y0), x1: UInt16($0.x1), y1: UInt16($0.y1)) } ?? .empty
        return Provenance(primary: UInt32(d.primary), partner: UInt32(d.partner), lambda: d.lambda, kind: kind,
                          primaryTransform: d.primaryTransform, partnerTransform: d.partnerTransform, box: box,
                          isReference: reference)
    }
}
