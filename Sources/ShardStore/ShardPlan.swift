import Pipeline
import ShardFormat

/// One shard file to produce: which split, epoch and positions it holds.
public struct ShardJob: Sendable, Equatable {
    public var split: Split
    /// Training epoch (0-based); 0 for test.
    public var epoch: Int
    public var shardIndex: Int
    /// Positions in the epoch order (train) or in the test split (test).
    public var positions: Range<Int>
    /// Path relative to the shard directory.
    public var file: String

    public var count: Int { positions.count }
}

/// The list of shard files of a directory: the source copy (when samples are
/// stored as references), every epoch's training shards, then the test shards.
public enum ShardPlan {
    public static func jobs(trainCount: Int, testCount: Int, epochs: Int, samplesPerShard: Int, sourceCopy: Bool) -> [ShardJob] {
        var jobs: [ShardJob] = []
        if sourceCopy {
            jobs.append(ShardJob(split: .source, epoch: 0, shardIndex: 0, positions: 0..<trainCount, file: MixShardLayout.sourceFile))
        }
        for e in 0..<epochs {
            for (s, range) in ranges(trainCount, samplesPerShard).enumerated() {
                jobs.append(ShardJob(split: .train, epoch: e, shardIndex: s, positions: range,
                                     file: "train/" + epochDirectory(e) + "/" + shardName(s)))
            }
        }
        for (s, range) in ranges(testCount, samplesPerShard).enumerated() {
            jobs.append(ShardJob(split: .test, epoch: 0, shardIndex: s, positions: range, file: "test/" + shardName(s)))
        }
        return jobs
    }

    /// How many files `jobs` would list, without listing them; nil when the
    /// numbers cannot describe a plan (negative counts, shards of < 1 sample,
    /// a total number of samples that overflows). A manifest's numbers are
    /// checked with it before `jobs` is built from them, so a crafted manifest
    /// cannot make the plan huge or its sums overflow.
    public static func fileCount(trainCount: Int, testCount: Int, epochs: Int, samplesPerShard: Int, sourceCopy: Bool) -> Int? {
        guard trainCount >= 0, testCount >= 0, epochs >= 0, epochs < Int.max, samplesPerShard >= 1 else { return nil }
        let (trainSamples, o1) = trainCount.multipliedReportingOverflow(by: epochs + (sourceCopy ? 1 : 0))
        let (samples, o2) = trainSamples.addingReportingOverflow(testCount)
        guard !o1, !o2, samples < Int.max else { return nil }
        let perEpoch = trainCount / samplesPerShard + (trainCount % samplesPerShard == 0 ? 0 : 1)
        let test = testCount / samplesPerShard + (testCount % samplesPerShard == 0 ? 0 : 1)
        return perEpoch * epochs + test + (sourceCopy ? 1 : 0)  // at most samples + 1: no overflow
    }

    public static func epochDirectory(_ e: Int) -> String { "epoch-" + pad(e, 3) }
    public static func shardName(_ s: Int) -> String { "shard-" + pad(s, 5) + ".mxs" }

    static func ranges(_ n: Int, _ size: Int) -> [Range<Int>] {
        stride(from: 0, to: n, by: size).map { $0..<min($0 + size, n) }
    }

    static func pad(_ v: Int, _ width: Int) -> String {
        let s = String(v)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }
}

extension Pipeline {
    /// The shard files of this pipeline over a source of these sizes.
    public func shardJobs(trainCount: Int, testCount: Int) -> [ShardJob] {
        ShardPlan.jobs(trainCount: trainCount, testCount: testCount, epochs: shards.epochs,
                       samplesPerShard: shards.samplesPerShard, sourceCopy: usesReferences)
    }

    /// How the shards of `split` are encoded in a directory of format `version`: training
    /// and test shards as `[shards]` says; the source copy as `sourceEncoding` says.
    public func encoding(for split: Split, shape: SampleShape, version: UInt16 = MixShardLayout.version) -> ShardEncoding {
        guard split != .source else { return sourceEncoding(shape: shape, version: version) }
        var e = shards.encoding
        e.version = version
        return e
    }

    /// The source copy's encoding, never with provenance. Uncompressed (codec none,
    /// filter none: memory-mapped, references resolve without inflating) in chunks
    /// of as many images as fit a quarter of the format's chunk limit (with the label
    /// records of `version`, and dense rows within it) — always so before v3 —, or
    /// compressed as training chunks are (`level`, `strategy`, `filter`) in chunks of
    /// `sourceSamplesPerChunkDefault` images, so that resolving a reference inflates one
    /// image. `shards.source_codec` and `shards.source_samples_per_chunk` choose; unset,
    /// the codec is `sourceCodecDefault`.
    public func sourceEncoding(shape: SampleShape, version: UInt16 = MixShardLayout.version) -> ShardEncoding {
        var e = shards.encoding
        e.version = version
        e.provenance = false
        let labelBytes = MixShardLayout.labelBytes(MixShardLayout.labelType(writtenIn: version), classCount: shape.classCount)
        let quarter = MixShardLayout.maxChunkRawBytes / 4
        let fitting = max(1, min(MixShardLayout.maxSamplesPerChunk, quarter / (shape.imageBytes + labelBytes),
                                 quarter / (4 * shape.classCount)))
        guard version >= MixShardLayout.compressedSourceVersion else {
            e.codec = .none
            e.filter = .none
            e.samplesPerChunk = fitting
            return e
        }
        e.codec = shards.sourceCodec ?? Pipeline.sourceCodecDefault(height: shape.height, width: shape.width)
        if e.codec == .none { e.filter = .none }
        e.samplesPerChunk = shards.sourceSamplesPerChunk ?? (e.codec == .none ? fitting : Pipeline.sourceSamplesPerChunkDefault)
        return e
    }

    /// The source copy's codec when `shards.source_codec` is unset: `zlib` for images of
    /// at least 64×64 pixels (4,096 a plane), where it shrinks the copy — the bulk of a
    /// directory with references — by a third to a half; `none` for smaller ones
    /// (CIFAR's 32×32 shrink by a fifth, and the loader is slowest relative to a
    /// mapped copy there). See DESIGN.md, "As built".
    public static func sourceCodecDefault(height: Int, width: Int) -> Codec {
        height * width >= sourceCompressionMinimumPixels ? .zlib : .none
    }

    /// Pixels a plane from which the source copy is compressed by default (64×64).
    public static let sourceCompressionMinimumPixels = 4096

    /// Images per chunk of a compressed source copy when `shards.source_samples_per_chunk` is unset.
    public static let sourceSamplesPerChunkDefault = 1

    /// Why the source copy of images of `shape` cannot be written within the format
    /// limits (an explicit `shards.source_samples_per_chunk` too large), nil when it can.
    public func sourceCopyProblem(shape: SampleShape) -> String? {
        guard usesReferences, let n = shards.sourceSamplesPerChunk else { return nil }
        let perSample = shape.imageBytes + 4 * shape.classCount
        guard n > MixShardLayout.maxChunkRawBytes / perSample else { return nil }
        return "shards.source_samples_per_chunk = \(n): a source-copy chunk of \(n) images of \(perSample) bytes exceeds the format's "
            + "\(MixShardLayout.maxChunkRawBytes >> 20) MiB per chunk; use at most \(MixShardLayout.maxChunkRawBytes / perSample)"
    }
}
