import MixCore
import Mixup
import ShardFormat
import ZlibKit

/// A pipeline: what to read, how to mix, how to store, how to train.
/// Decoded from `pipelines/*.toml`; command-line options override file values.
public struct Pipeline: Sendable, Equatable, Codable {
    /// A name for reports.
    public var name: String = "pipeline"
    /// The one seed every random draw derives from.
    public var seed: UInt64 = 0
    public var dataset = DatasetSection()
    /// Geometric augmentation of each source image before mixing.
    public var augment = AugmentConfig()
    public var mix = MixConfig()
    public var shards = ShardSection()
    public var train = TrainSection()

    public init() {}

    enum CodingKeys: String, CodingKey { case name, seed, dataset, augment, mix, shards, train }

    /// Decodes pipelines recorded before `[augment]` existed (mixshards ≤ 0.2) too.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        seed = try c.decode(UInt64.self, forKey: .seed)
        dataset = try c.decode(DatasetSection.self, forKey: .dataset)
        augment = try c.decodeIfPresent(AugmentConfig.self, forKey: .augment) ?? AugmentConfig()
        mix = try c.decode(MixConfig.self, forKey: .mix)
        shards = try c.decode(ShardSection.self, forKey: .shards)
        train = try c.decode(TrainSection.self, forKey: .train)
    }

    /// Problems with the values, each naming its key; empty when valid.
    public func problems() -> [String] {
        var out: [String] = []
        if !FileIO.isSafeName(name) {
            out.append("name must be letters, digits, '.', '_' or '-', not starting with '.' (got \(String(reflecting: name)))")
        }
        out += dataset.problems()
        out += augment.problems(prefix: "augment.")
        out += mix.problems(prefix: "mix.")
        out += shards.problems()
        if shards.references == true && !shards.provenance {
            out.append("shards.references needs shards.provenance = true (a reference is its provenance)")
        }
        out += train.problems()
        return out
    }

    /// Throws the first problem, if any.
    public func validate() throws {
        if let first = problems().first { throw MixError(first) }
    }

    /// The part of the pipeline that determines shard bytes, together with the
    /// source bytes (not their path, `train` or `name`). Two runs into one
    /// directory must agree on it.
    public var prepIdentity: PrepIdentity {
        var identity = PrepIdentity(seed: seed, trainLimit: dataset.trainLimit, testLimit: dataset.testLimit, augment: augment,
                                    mix: mix, shards: shards)
        var prep = dataset
        prep.path = ""
        prep.trainLimit = 0
        prep.testLimit = 0
        identity.dataset = prep.preparation.isEmpty ? nil : prep
        return identity
    }

    /// Whether unmixed training samples are stored as references to a source copy:
    /// `shards.references` when set, else on when it saves space — with
    /// provenance, when the epochs hold at least two source copies' worth of
    /// unmixed samples (the copy is stored uncompressed, ~1.3 compressed epochs).
    public var usesReferences: Bool {
        if let r = shards.references { return r && shards.provenance }
        guard shards.provenance else { return false }
        let unmixed = mix.mode == .none ? 1 : 1 - mix.p
        return Double(shards.epochs) * unmixed >= 2
    }
}

/// What fixes every byte of a shard directory, together with the source bytes.
public struct PrepIdentity: Sendable, Equatable, Codable {
    public var seed: UInt64
    public var trainLimit: Int
    public var testLimit: Int
    public var augment: AugmentConfig
    public var mix: MixConfig
    public var shards: ShardSection
    /// `[dataset]`'s keys that prepare the images (size, resize, classes, …), without its
    /// path and limits; nil when none is set (so identities of CIFAR runs read as before).
    public var dataset: DatasetSection?

    public init(seed: UInt64, trainLimit: Int, testLimit: Int, augment: AugmentConfig, mix: MixConfig, shards: ShardSection) {
        self.seed = seed
        self.trainLimit = trainLimit
        self.testLimit = testLimit
        self.augment = augment
        self.mix = mix
        self.shards = shards
    }

    enum CodingKeys: String, CodingKey { case seed, trainLimit, testLimit, augment, mix, shards, dataset }

    /// Decodes identities recorded before `[augment]` existed too.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        seed = try c.decode(UInt64.self, forKey: .seed)
        trainLimit = try c.decode(Int.self, forKey: .trainLimit)
        testLimit = try c.decode(Int.self, forKey: .testLimit)
        augment = try c.decodeIfPresent(AugmentConfig.self, forKey: .augment) ?? AugmentConfig()
        mix = try c.decode(MixConfig.self, forKey: .mix)
        shards = try c.decode(ShardSection.self, forKey: .shards)
        dataset = try c.decodeIfPresent(DatasetSection.self, forKey: .dataset)
    }
}

/// `[dataset]`
public struct DatasetSection: Sendable, Equatable, Codable {
    /// A CIFAR-10/100 binary folder or archive, or a folder of image files (class
    /// folders, CSV lists, one folder of classes). Relative paths in a pipeline file are
    /// relative to that file's folder.
    public var path: String = ""
    /// Use only the first N training images (0: all).
    public var trainLimit: Int = 0
    /// Use only the first N test images (0: all).
    public var testLimit: Int = 0
    /// The image size: one side (square) or `[height, width]`; nil: the images' own.
    /// Optional keys stay nil unless set, so the pipelines of CIFAR runs record what they did before.
    public var size: [Int]?
    /// `none` (default), `shorter` or `stretch`: how images are brought to `size`.
    public var resize: String?
    /// `center` (default, the only crop): where `shorter` crops.
    public var crop: String?
    /// `bicubic` (default), `bilinear` or `lanczos`: the resampling filter.
    public var resample: String?
    /// The class names in label order (default: as found, sorted as text).
    public var classes: [String]?
    /// For a folder of classes without a test split: the fraction of each class held out.
    public var testFraction: Double?
    /// The seed of that held-out split (default 0; not the pipeline's seed).
    public var splitSeed: UInt64?
    /// Skip files that cannot be decoded (listing them) instead of stopping.
    public var skipBad: Bool?

    public init() {}

    enum CodingKeys: String, CodingKey {
        case path, trainLimit = "train_limit", testLimit = "test_limit", size, resize, crop, resample, classes
        case testFraction = "test_fraction", splitSeed = "split_seed", skipBad = "skip_bad"
    }

    /// The `resize` names, `crop` names and `resample` names accepted.
    public static let resizeNames = ["none", "shorter", "stretch"]
    public static let cropNames = ["center"]
    public static let resampleNames = ["bicubic", "bilinear", "lanczos"]

    /// `size` as (height, width), or nil.
    public var heightWidth: (height: Int, width: Int)? {
        guard let size, let h = size.first, let w = size.last else { return nil }
        return (h, w)
    }

    /// The keys besides `path`, which together with the source bytes fix the prepared images.
    var preparation: [String] {
        var out: [String] = []
        if let size { out.append("size \(size)") }
        if let resize { out.append("resize \(resize)") }
        if let crop { out.append("crop \(crop)") }
        if let resample { out.append("resample \(resample)") }
        if let classes { out.append("classes \(classes)") }
        if let testFraction { out.append("test_fraction \(testFraction)") }
        if let splitSeed { out.append("split_seed \(splitSeed)") }
        if let skipBad { out.append("skip_bad \(skipBad)") }
        return out
    }

    func problems() -> [String] {
        var out: [String] = []
        if path.isEmpty { out.append("dataset.path must be set") }
        if trainLimit < 0 { out.append("dataset.train_limit must be ≥ 0 (got \(trainLimit))") }
        if testLimit < 0 { out.append("dataset.test_limit must be ≥ 0 (got \(testLimit))") }
        if let size, !(1...2).contains(size.count) || size.contains(where: { !(1...MixShardLayout.maxSide).contains($0) }) {
            out.append("dataset.size must be one side or [height, width], each \(Wording.range(1, MixShardLayout.maxSide)) "
                       + "(got \(size.count == 1 ? String(size[0]) : "\(size)"))")
        }
        for (key, value, names) in [("resize", resize, Self.resizeNames), ("crop", crop, Self.cropNames),
                                    ("resample", resample, Self.resampleNames)] {
            if let value, !names.contains(value) {
                out.append("dataset.\(key) must be one of \(names.joined(separator: ", ")) (got \(String(reflecting: value)))")
            }
        }
        if let resize, resize != "none", size == nil {
            out.append("dataset.resize = \(String(reflecting: resize)) needs dataset.size (e.g. size = 64 or size = [48, 64] for height 48, width 64)")
        }
        if let classes {
            if classes.isEmpty || classes.contains(where: \.isEmpty) { out.append("dataset.classes must name classes (no empty names)") }
            if let long = classes.first(where: { $0.utf8.count > ClassNames.maxBytes }), let problem = ClassNames.problem(long) {
                out.append("dataset.classes: \(problem)")
            }
            if Set(classes).count != classes.count { out.append("dataset.classes names a class twice") }
            if classes.count > MixShardLayout.maxClasses {
                out.append("dataset.classes names \(classes.count) classes; the shard format holds at most \(MixShardLayout.maxClasses)")
            }
        }
        if let testFraction, !(testFraction > 0 && testFraction < 1) {
            out.append("dataset.test_fraction must be between 0 and 1, both excluded (got \(testFraction))")
        }
        return out
    }
}

/// `[shards]`
public struct ShardSection: Sendable, Equatable, Codable {
    /// Training epochs to materialise.
    public var epochs: Int = 1
    /// Samples per shard file (the last shard of a split may hold fewer).
    public var samplesPerShard: Int = 5000
    /// Samples per chunk inside a shard (the unit of compression and of random access).
    public var samplesPerChunk: Int = 256
    /// `zlib` or `none` (written by name in pipeline files and manifests).
    public var codec: Codec = .zlib
    /// zlib level 1...9.
    public var level: Int = 1
    /// deflate strategy: `rle` (default: smallest and fastest on delta-filtered images), `default`, `filtered`, `huffman`.
    public var strategy: DeflateStrategy = .rle
    /// `delta` or `none`.
    public var filter: ImageFilter = .delta
    public var provenance: Bool = true
    /// Store unmixed training samples as references to one source copy instead of
    /// their pixels (`true`/`false`; nil: automatic, see `Pipeline.usesReferences`).
    public var references: Bool?
    /// How the source copy is stored (`none` or `zlib`; zlib with `level`, `strategy` and
    /// `filter`, as training chunks); nil: automatic, see `Pipeline.sourceEncoding`.
    public var sourceCodec: Codec?
    /// Samples per chunk of the source copy (a compressed copy's unit of inflation); nil: automatic.
    public var sourceSamplesPerChunk: Int?

    public init() {}

    enum CodingKeys: String, CodingKey {
        case epochs, codec, level, strategy, filter, provenance, references
        case samplesPerShard = "samples_per_shard", samplesPerChunk = "samples_per_chunk"
        case sourceCodec = "source_codec", sourceSamplesPerChunk = "source_samples_per_chunk"
    }

    /// The names of `codec`, `strategy` and `filter` values, in the order errors list them.
    public static let codecNames: [(String, Codec)] = [("none", .none), ("zlib", .zlib)]
    public static let strategyNames: [(String, DeflateStrategy)] = DeflateStrategy.allCases.map { ($0.rawValue, $0) }
    public static let filterNames: [(String, ImageFilter)] = [("none", .none), ("delta", .delta)]

    /// The value named `name` in `names`; an unknown name is an error naming `key`
    /// and the choices (never a silent fallback).
    public static func value<T>(named name: String, in names: [(String, T)], key: String) throws -> T {
        guard let v = names.first(where: { $0.0 == name })?.1 else {
            throw MixError("\(key) must be one of \(names.map(\.0).joined(separator: ", ")) (got \(String(reflecting: name)))")
        }
        return v
    }

    static func name<T: Equatable>(of value: T, in names: [(String, T)]) -> String {
        names.first { $0.1 == value }!.0
    }

    /// The encoding these settings name.
    public var encoding: ShardEncoding {
        ShardEncoding(codec: codec, level: level, strategy: strategy, filter: filter,
                      samplesPerChunk: samplesPerChunk, provenance: provenance)
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func named<T>(_ key: CodingKeys, _ names: [(String, T)]) throws -> T {
            let name = try c.decode(String.self, forKey: key)
            do { return try ShardSection.value(named: name, in: names, key: "shards." + key.stringValue) } catch {
                throw DecodingError.dataCorruptedError(forKey: key, in: c, debugDescription: "\(error)")
            }
        }
        epochs = try c.decode(Int.self, forKey: .epochs)
        samplesPerShard = try c.decode(Int.self, forKey: .samplesPerShard)
        samplesPerChunk = try c.decode(Int.self, forKey: .samplesPerChunk)
        codec = try named(.codec, ShardSection.codecNames)
        level = try c.decode(Int.self, forKey: .level)
        strategy = try named(.strategy, ShardSection.strategyNames)
        filter = try named(.filter, ShardSection.filterNames)
        provenance = try c.decode(Bool.self, forKey: .provenance)
        references = try c.decodeIfPresent(Bool.self, forKey: .references)
        sourceCodec = try c.contains(.sourceCodec) ? named(.sourceCodec, ShardSection.codecNames) : nil
        sourceSamplesPerChunk = try c.decodeIfPresent(Int.self, forKey: .sourceSamplesPerChunk)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(epochs, forKey: .epochs)
        try c.encode(samplesPerShard, forKey: .samplesPerShard)
        try c.encode(samplesPerChunk, forKey: .samplesPerChunk)
        try c.encode(ShardSection.name(of: codec, in: ShardSection.codecNames), forKey: .codec)
        try c.encode(level, forKey: .level)
        try c.encode(ShardSection.name(of: strategy, in: ShardSection.strategyNames), forKey: .strategy)
        try c.encode(ShardSection.name(of: filter, in: ShardSection.filterNames), forKey: .filter)
        try c.encode(provenance, forKey: .provenance)
        try c.encodeIfPresent(references, forKey: .references)
        try c.encodeIfPresent(sourceCodec.map { ShardSection.name(of: $0, in: ShardSection.codecNames) }, forKey: .sourceCodec)
        try c.encodeIfPresent(sourceSamplesPerChunk, forKey: .sourceSamplesPerChunk)
    }

    func problems() -> [String] {
        var out: [String] = []
        if epochs < 1 || epochs > 100_000 { out.append("shards.epochs must be \(Wording.range(1, 100_000)) (got \(epochs))") }
        if samplesPerShard < 1 { out.append("shards.samples_per_shard must be ≥ 1 (got \(samplesPerShard))") }
        if samplesPerChunk < 1 || samplesPerChunk > 65_536 { out.append("shards.samples_per_chunk must be \(Wording.range(1, 65_536)) (got \(samplesPerChunk))") }
        if !(1...9).contains(level) { out.append("shards.level must be \(Wording.range(1, 9)) (got \(level))") }
        if let n = sourceSamplesPerChunk, !(1...MixShardLayout.maxSamplesPerChunk).contains(n) {
            out.append("shards.source_samples_per_chunk must be \(Wording.range(1, MixShardLayout.maxSamplesPerChunk)) (got \(n))")
        }
        return out
    }
}

/// `[train]`: the training contract's knobs (DESIGN.md).
public struct TrainSection: Sendable, Equatable, Codable {
    public var epochs: Int = 30
    public var batch: Int = 128
    public var lr: Double = 1e-3
    public var beta1: Double = 0.9
    public var beta2: Double = 0.999
    public var eps: Double = 1e-8
    /// Output channels of the four convolutions.
    public var widths: [Int] = [32, 64, 128, 256]
    /// Width of the hidden fully connected layer.
    public var hidden: Int = 256
    /// The learning-rate schedule: `constant`, `cosine` (linear warm-up, then cosine to
    /// `minLR`) or `step` (× `stepGamma` every `stepEpochs` epochs); per optimizer step.
    public var lrSchedule: String = "constant"
    /// Cosine only: epochs of linear warm-up (counted in steps), 0 … epochs − 1.
    public var warmupEpochs: Int = 0
    /// Cosine only: the floor the rate decays to, 0 … lr.
    public var minLR: Double = 0
    /// Step only: epochs between decays (≥ 1).
    public var stepEpochs: Int = 1
    /// Step only: the factor of each decay, in (0, 1].
    public var stepGamma: Double = 0.1
    /// Decoupled (AdamW) weight decay of every parameter, ≥ 0; 0 is plain Adam.
    public var weightDecay: Double = 0
    /// Decay of the exponential moving average of the weights, in [0, 1); 0 is off. When on,
    /// evaluation (and so the reported accuracy) and `mixtrain eval` use the averaged weights.
    public var ema: Double = 0

    /// The schedules `lrSchedule` may name.
    public static let scheduleNames = ["constant", "cosine", "step"]

    public init() {}

    enum CodingKeys: String, CodingKey {
        case epochs, batch, lr, beta1, beta2, eps, widths, hidden
        // The recipe keys as `[train]` and the rest of manifest.json's pipeline spell keys (`source_codec`).
        case lrSchedule = "lr_schedule", warmupEpochs = "warmup_epochs", minLR = "min_lr", stepEpochs = "step_epochs"
        case stepGamma = "step_gamma", weightDecay = "weight_decay", ema
    }

    /// Reads pipelines recorded before the recipe keys existed (all default then).
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        epochs = try c.decode(Int.self, forKey: .epochs)
        batch = try c.decode(Int.self, forKey: .batch)
        lr = try c.decode(Double.self, forKey: .lr)
        beta1 = try c.decode(Double.self, forKey: .beta1)
        beta2 = try c.decode(Double.self, forKey: .beta2)
        eps = try c.decode(Double.self, forKey: .eps)
        widths = try c.decode([Int].self, forKey: .widths)
        hidden = try c.decode(Int.self, forKey: .hidden)
        lrSchedule = try c.decodeIfPresent(String.self, forKey: .lrSchedule) ?? lrSchedule
        warmupEpochs = try c.decodeIfPresent(Int.self, forKey: .warmupEpochs) ?? warmupEpochs
        minLR = try c.decodeIfPresent(Double.self, forKey: .minLR) ?? minLR
        stepEpochs = try c.decodeIfPresent(Int.self, forKey: .stepEpochs) ?? stepEpochs
        stepGamma = try c.decodeIfPresent(Double.self, forKey: .stepGamma) ?? stepGamma
        weightDecay = try c.decodeIfPresent(Double.self, forKey: .weightDecay) ?? weightDecay
        ema = try c.decodeIfPresent(Double.self, forKey: .ema) ?? ema
    }

    /// Writes the recipe keys only when they differ from the defaults, so a pipeline with
    /// the article's recipe encodes (and its manifest.json hashes) as before they existed.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(epochs, forKey: .epochs)
        try c.encode(batch, forKey: .batch)
        try c.encode(lr, forKey: .lr)
        try c.encode(beta1, forKey: .beta1)
        try c.encode(beta2, forKey: .beta2)
        try c.encode(eps, forKey: .eps)
        try c.encode(widths, forKey: .widths)
        try c.encode(hidden, forKey: .hidden)
        let d = TrainSection()
        if lrSchedule != d.lrSchedule { try c.encode(lrSchedule, forKey: .lrSchedule) }
        if warmupEpochs != d.warmupEpochs { try c.encode(warmupEpochs, forKey: .warmupEpochs) }
        if minLR != d.minLR { try c.encode(minLR, forKey: .minLR) }
        if stepEpochs != d.stepEpochs { try c.encode(stepEpochs, forKey: .stepEpochs) }
        if stepGamma != d.stepGamma { try c.encode(stepGamma, forKey: .stepGamma) }
        if weightDecay != d.weightDecay { try c.encode(weightDecay, forKey: .weightDecay) }
        if ema != d.ema { try c.encode(ema, forKey: .ema) }
    }

    /// Problems with the values, each naming its key; empty when valid.
    public func problems() -> [String] {
        var out: [String] = []
        if epochs < 1 { out.append("train.epochs must be ≥ 1 (got \(epochs))") }
        if let problem = TrainingLimits.batchProblem(batch, key: "train.batch") { out.append(problem) }
        if !(lr > 0) || !lr.isFinite { out.append("train.lr must be > 0 (got \(lr))") }
        if !(0..<1).contains(beta1) { out.append("train.beta1 must be in [0, 1) (got \(beta1))") }
        if !(0..<1).contains(beta2) { out.append("train.beta2 must be in [0, 1) (got \(beta2))") }
        if !(eps > 0) || !eps.isFinite { out.append("train.eps must be > 0 (got \(eps))") }
        out += recipeProblems()
        if widths.count != 4 || widths.contains(where: { !(1...TrainingLimits.maxWidth).contains($0) }) {
            out.append("train.widths must be 4 channel counts, each \(Wording.range(1, TrainingLimits.maxWidth)) (got \(widths))")
        }
        if !(1...TrainingLimits.maxHidden).contains(hidden) { out.append("train.hidden must be \(Wording.range(1, TrainingLimits.maxHidden)) (got \(hidden))") }
        return out
    }

    /// Problems with the recipe keys (schedule, weight decay, EMA), each naming its key.
    public func recipeProblems() -> [String] {
        var out: [String] = []
        if !TrainSection.scheduleNames.contains(lrSchedule) {
            out.append("train.lr_schedule must be one of \(TrainSection.scheduleNames.joined(separator: ", ")) (got \(String(reflecting: lrSchedule)))")
        }
        if warmupEpochs < 0 || warmupEpochs >= max(epochs, 1) {
            out.append("train.warmup_epochs must be \(Wording.range(0, max(epochs, 1) - 1)), fewer than train.epochs (got \(warmupEpochs))")
        } else if warmupEpochs > 0 && lrSchedule != "cosine" {
            out.append("train.warmup_epochs applies to lr_schedule = \"cosine\" only (got \(warmupEpochs) with \(String(reflecting: lrSchedule)))")
        }
        if !(minLR >= 0 && minLR <= lr) || !minLR.isFinite { out.append("train.min_lr must be from 0 to train.lr = \(lr) (got \(minLR))") }
        if stepEpochs < 1 || stepEpochs > 100_000 { out.append("train.step_epochs must be \(Wording.range(1, 100_000)) (got \(stepEpochs))") }
        if !(stepGamma > 0 && stepGamma <= 1) { out.append("train.step_gamma must be in (0, 1] (got \(stepGamma))") }
        if !(weightDecay >= 0) || !weightDecay.isFinite {
            out.append("train.weight_decay must be ≥ 0 (got \(weightDecay))")
        } else if !(lr * weightDecay < 1) {
            out.append("train.weight_decay × train.lr must be < 1, else every step zeroes or flips the weights (got \(weightDecay) × \(lr))")
        }
        if !(0..<1).contains(ema) { out.append("train.ema must be in [0, 1), 0 = off (got \(ema))") }
        return out
    }

    /// The recipe in one line, for reports: `constant lr 0.001, Adam` or
    /// `cosine lr 0.001 → 0 after 2 warm-up epochs, AdamW weight decay 0.05, EMA 0.999`.
    public var recipeDescription: String {
        var s: String
        switch lrSchedule {
        case "cosine": s = "cosine lr \(lr) → \(minLR)" + (warmupEpochs > 0 ? " after \(warmupEpochs) linear warm-up epoch\(warmupEpochs == 1 ? "" : "s")" : "")
        case "step": s = "step lr \(lr) × \(stepGamma) every \(stepEpochs) epoch\(stepEpochs == 1 ? "" : "s")"
        default: s = "constant lr \(lr)"
        }
        s += weightDecay > 0 ? ", AdamW weight decay \(weightDecay) (all parameters)" : ", Adam (no weight decay)"
        s += ema > 0 ? ", EMA of the weights \(ema) (evaluated and reported)" : ", no EMA"
        return s
    }

    /// Why the seed CNN with these widths cannot take `height`×`width` images, or nil: it
    /// needs a height and a width that are multiples of 2^(number of convolutions), 16 for
    /// the four of `widths` (each block halves both sides with a 2×2 max-pool); square or not.
    /// The message names the nearest sizes that work (each side rounded to the nearest
    /// multiple, both when it lies halfway), width×height as everywhere, and the
    /// `dataset.size` (height, width) that makes them.
    public func imageShapeProblem(height: Int, width: Int) -> String? {
        let multiple = 1 << widths.count
        guard height % multiple != 0 || width % multiple != 0 else { return nil }
        func nearest(_ x: Int) -> [Int] {
            let below = x / multiple * multiple, above = below + multiple
            if below == x { return [x] }
            if below == 0 { return [multiple] }
            return x - below < above - x ? [below] : x - below > above - x ? [above] : [below, above]
        }
        let sizes = nearest(width).flatMap { w in nearest(height).map { h in (w, h) } }
        let names = sizes.map { "\($0.0)×\($0.1)" }
        let list = names.count == 1 ? names[0] : names.dropLast().joined(separator: ", ") + " or " + names.last!
        let (w, h) = sizes[0]
        return "images are \(width)×\(height); the CNN needs a height and a width that are multiples of \(multiple): nearest \(list) "
            + "(dataset.size = \(h == w ? "\(h)" : "[\(h), \(w)]") with resize = \"stretch\" or \"shorter\" gives \(names.count == 1 ? "it" : "the first"))"
    }
}
