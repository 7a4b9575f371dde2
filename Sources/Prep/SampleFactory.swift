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

    /// What a job's samples are, before any pixel is made: the decisions, where the
    /// pixels come from, and which samples are references.
    struct JobPlan {
        let decisions: [MixDecision]
        let source: ImageStore
        let smoothing: Double
        let referencing: Bool
        var count: Int { decisions.count }
        /// Whether any sample is stored as a reference (the header's flag bit 1).
        var hasReferences: Bool { referencing && decisions.contains(where: \.canBeReference) }
        /// The epoch of the decisions (for the random erasing fill's stream), and each one's position.
        let epoch: Int
        let positions: Range<Int>
    }

    func plan(for job: ShardJob) -> JobPlan {
        switch job.split {
        case .train:
            let plan = EpochPlan(config: mix, augment: augment, seed: seed, epoch: job.epoch, count: train.count,
                                 height: train.height, width: train.width)
            return JobPlan(decisions: job.positions.map { plan.decision(at: $0) }, source: train, smoothing: mix.smoothing,
                           referencing: references, epoch: job.epoch, positions: job.positions)
        case .test, .source:
            // The test split unmixed; the source copy is the training images as read.
            return JobPlan(decisions: job.positions.map { MixDecision.unmixed($0) }, source: job.split == .test ? test : train,
                           smoothing: 0, referencing: false, epoch: 0, positions: job.positions)
        }
    }

    /// Every sample of `job` (the pixels of references included).
    func block(for job: ShardJob) -> SampleBlock {
        let p = plan(for: job)
        return block(p, samples: 0..<p.count, referencePixels: true)
    }

    /// Samples `range` of a job's plan, labels as sparse records (the primary's class, the
    /// partner's, λ) with the split's label smoothing: the writer stores them as such in v3
    /// and expands them with the same formula (`LabelRow`) to dense rows for v1 and v2.
    /// Without `referencePixels`, the pixels of samples stored as references are left
    /// zero: the writer leaves them out, and making them is most of the work of an epoch
    /// that is mostly references.
    func block(_ p: JobPlan, samples range: Range<Int>, referencePixels: Bool) -> SampleBlock {
        let imageBytes = shape.imageBytes
        var images = [UInt8](repeating: 0, count: range.count * imageBytes)
        images.withUnsafeMutableBufferPointer { images in
            for (s, d) in p.decisions[range].enumerated() where referencePixels || !(p.referencing && d.canBeReference) {
                let values = d.erasing.fill == .random
                    ? Erasing.valueStream(seed: seed, epoch: p.epoch, position: p.positions.lowerBound + range.lowerBound + s) : nil
                Mixer.image(d, source: p.source, into: images.baseAddress! + s * imageBytes, erasingValues: values)
            }
        }
        let records = p.decisions[range].map { d in
            let parts = Mixer.labelParts(d, source: p.source)
            return LabelRecord(classA: UInt32(parts.primaryClass), classB: UInt32(parts.partnerClass), weight: parts.lambda)
        }
        var block = SampleBlock(shape: shape, images: images, labels: .sparse(records, smoothing: Float(p.smoothing)))
        block.provenance = p.decisions[range].map { SampleFactory.provenance($0, reference: p.referencing && $0.canBeReference) }
        return block
    }

    /// The provenance record of a decision.
    static func provenance(_ d: MixDecision, reference: Bool) -> Provenance {
        let kind: MixKind = !d.mixed ? .copy : d.box != nil ? .cutmix : .blend
        let box = d.box.map { CutBox(x0: UInt16($0.x0), y0: UInt16($0.y0), x1: UInt16($0.x1), y1: UInt16($0.y1)) } ?? .empty
        var p = Provenance(primary: UInt32(d.primary), partner: UInt32(d.partner), lambda: d.lambda, kind: kind,
                           primaryTransform: d.primaryTransform, partnerTransform: d.partnerTransform, box: box,
                           isReference: reference)
        p.primaryOps = d.primaryOps
        p.partnerOps = d.partnerOps
        p.erasing = d.erasing
        return p
    }
}
