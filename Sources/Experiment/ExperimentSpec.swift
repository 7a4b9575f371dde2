import Foundation
import MixCore
import Mixup
import Pipeline
import TOMLKit

/// One arm of an experiment: a name and the augmentation and mixing settings
/// that differ from the base pipeline's `[augment]` and `[mix]`.
public struct ExperimentArm: Sendable, Equatable, Codable {
    /// Names the arm's shard and run directories (`<name>-seed<k>`) and its rows in the report.
    public var name: String
    /// The base pipeline's `[augment]` with the arm's `crop_pad` / `flip` applied.
    public var augment: AugmentConfig = AugmentConfig()
    /// The base pipeline's `[mix]` with the arm's overrides applied.
    public var mix: MixConfig
    /// A final test accuracy (fraction) to compare the arm with, e.g. a
    /// published result (`reference_accuracy`, given in percent).
    public var referenceAccuracy: Double?
    /// Another arm to compare this one with besides the baseline (`compare_with`),
    /// e.g. crop-and-flip-then-mixup with crop-and-flip alone. Report only: it
    /// changes no shard and no run.
    public var compareWith: String?
    /// The arm's training-recipe keys (`lr`, `lr_schedule`, `warmup_epochs`, `min_lr`,
    /// `step_epochs`, `step_gamma`, `weight_decay`, `ema`); unset keys keep the base pipeline's.
    public var train = TrainOverrides()
    /// Epochs to materialise (`shards_epochs`, the pipeline's `shards.epochs`), 1 … the
    /// experiment's training epochs; training cycles through them. nil: as many as are trained.
    public var shardsEpochs: Int?
    /// The arm's own seeds (`trials`), e.g. more for the best arms of a screen; nil: the file's.
    public var trials: [UInt64]?

    /// An arm named `name` that augments and mixes as `augment` and `mix` say.
    public init(name: String, augment: AugmentConfig = AugmentConfig(), mix: MixConfig, referenceAccuracy: Double? = nil,
                compareWith: String? = nil, train: TrainOverrides = TrainOverrides(), shardsEpochs: Int? = nil,
                trials: [UInt64]? = nil) {
        self.name = name
        self.augment = augment
        self.mix = mix
        self.referenceAccuracy = referenceAccuracy
        self.compareWith = compareWith
        self.train = train
        self.shardsEpochs = shardsEpochs
        self.trials = trials
    }

    /// The base pipeline's `[train]` with the arm's recipe keys applied.
    public func training(base: TrainSection) -> TrainSection { train.applied(to: base) }

    /// Problems with the arm's recipe keys against the base pipeline's `[train]` (each
    /// naming `arms.<name>.<key>`); empty when valid.
    public func problems(base: Pipeline) -> [String] {
        training(base: base.train).problems().map { p in
            p.hasPrefix("train.") ? "arms.\(name)." + p.dropFirst("train.".count) : p
        }
    }

    /// Whether the arm mixes anything at all (mode other than `none`, p > 0).
    public var mixes: Bool { mix.mode != .none && mix.p > 0 }

    /// Whether the arm changes its training images at all (augments or mixes).
    public var transformsImages: Bool { mixes || augment.isActive }

    /// A short description of the augmentation and mixing, e.g. `sample, p 0.2, α 0.2`,
    /// `crop (pad 4) + flip, then cutmix, p 0.5, α 1` or `none`.
    public var mixDescription: String {
        let crop = augment.isActive ? augment.summary : nil
        guard mixes else { return crop ?? "none" }
        var s = "\(mix.mode.rawValue), p \(shortNumber(mix.p)), α \(shortNumber(mix.alpha))"
        if mix.mode == .batch { s += ", block \(mix.block)" }
        if mix.smoothing > 0 { s += ", ε \(shortNumber(mix.smoothing))" }
        return crop.map { "\($0), then \(s)" } ?? s
    }

    enum CodingKeys: String, CodingKey { case name, augment, mix, referenceAccuracy, compareWith, train, shardsEpochs, trials }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        augment = try c.decodeIfPresent(AugmentConfig.self, forKey: .augment) ?? AugmentConfig()
        mix = try c.decode(MixConfig.self, forKey: .mix)
        referenceAccuracy = try c.decodeIfPresent(Double.self, forKey: .referenceAccuracy)
        compareWith = try c.decodeIfPresent(String.self, forKey: .compareWith)
        train = try c.decodeIfPresent(TrainOverrides.self, forKey: .train) ?? TrainOverrides()
        shardsEpochs = try c.decodeIfPresent(Int.self, forKey: .shardsEpochs)
        trials = try c.decodeIfPresent([UInt64].self, forKey: .trials)
    }

    /// Encodes the keys it has; an arm without recipe keys, `shards_epochs` or `trials`
    /// encodes as before they existed.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(name, forKey: .name)
        try c.encode(augment, forKey: .augment)
        try c.encode(mix, forKey: .mix)
        try c.encodeIfPresent(referenceAccuracy, forKey: .referenceAccuracy)
        try c.encodeIfPresent(compareWith, forKey: .compareWith)
        if !train.isEmpty { try c.encode(train, forKey: .train) }
        try c.encodeIfPresent(shardsEpochs, forKey: .shardsEpochs)
        try c.encodeIfPresent(trials, forKey: .trials)
    }
}

/// An arm's training-recipe keys; nil keeps the base pipeline's `[train]` value.
public struct TrainOverrides: Sendable, Equatable, Codable {
    public var lr: Double?
    public var lrSchedule: String?
    public var warmupEpochs: Int?
    public var minLR: Double?
    public var stepEpochs: Int?
    public var stepGamma: Double?
    public var weightDecay: Double?
    public var ema: Double?

    /// No key set: the base pipeline's recipe.
    public init() {}

    /// Whether no key is set.
    public var isEmpty: Bool { self == TrainOverrides() }

    /// `train` with the set keys replaced.
    public func applied(to train: TrainSection) -> TrainSection {
        var t = train
        t.lr = lr ?? t.lr
        t.lrSchedule = lrSchedule ?? t.lrSchedule
        t.warmupEpochs = warmupEpochs ?? t.warmupEpochs
        t.minLR = minLR ?? t.minLR
        t.stepEpochs = stepEpochs ?? t.stepEpochs
        t.stepGamma = stepGamma ?? t.stepGamma
        t.weightDecay = weightDecay ?? t.weightDecay
        t.ema = ema ?? t.ema
        return t
    }

    /// Reads the keys from an arm's table (the `[train]` keys of the same names).
    mutating func read(from r: inout StrictTOMLTable) throws {
        lr = try r.double("lr")
        lrSchedule = try r.string("lr_schedule")
        warmupEpochs = try r.int("warmup_epochs")
        minLR = try r.double("min_lr")
        stepEpochs = try r.int("step_epochs")
        stepGamma = try r.double("step_gamma")
        weightDecay = try r.double("weight_decay")
        ema = try r.double("ema")
    }
}

/// An experiment file: a base pipeline, the arms that differ from it, and the
/// trials (seeds) each arm is run with.
///
/// ```toml
/// name = "article"                 # default: the file name without .toml
/// pipeline = "cifar10-mixup.toml"  # base pipeline, relative to this file (or inline
///                                  # [dataset] [mix] [shards] [train] sections instead)
/// trials = [0, 1, 2]               # seeds; each arm runs once per seed
/// epochs = 30                      # optional: sets train.epochs and shards.epochs
/// data = "../../shared/cifar10"    # optional: replaces dataset.path (relative to this file)
/// out = "../experiments/article"   # optional: output folder (relative to this file)
/// baseline = "baseline"            # optional: the arm the others are compared with
/// reference = "the article, mean of 3 trials"  # optional: where reference_accuracy comes from
///
/// [[arms]]
/// name = "baseline"
/// mode = "none"
/// reference_accuracy = 74.5        # optional: % to compare the arm's result with
/// compare_with = "other-arm"       # optional: also compare with this arm, not only the baseline
///
/// [[arms]]
/// name = "mixup"
/// mode = "sample"                  # and/or p, alpha, block, smoothing, crop_pad, flip
/// p = 0.2
/// alpha = 0.2
/// ```
public struct ExperimentSpec: Sendable, Equatable {
    /// Names the experiment in reports; default output folder `experiments/<name>`.
    public var name: String
    /// The file it was read from (names it in errors and in the report).
    public var file: String
    /// The base pipeline (its `seed` and `name` are replaced per trial).
    public var base: Pipeline
    /// Where the base pipeline came from: a file path, or nil for inline sections.
    public var basePipelineFile: String?
    /// The arms, in file order.
    public var arms: [ExperimentArm]
    /// Seeds; each arm runs once per seed.
    public var trials: [UInt64]
    /// `epochs`, when given (already applied to `base`).
    public var epochs: Int?
    /// `data`, resolved against the file's folder (already applied to `base`).
    public var data: String?
    /// `out`, resolved against the file's folder.
    public var out: String?
    /// The arm the others are compared with.
    public var baseline: String
    /// What the arms' reference accuracies are (e.g. "the article, mean of 3 trials").
    public var reference: String?

    /// The most runs (arms × trials) an experiment may hold. Each is a mixprep
    /// and a training run; the bound keeps a small hostile file (1,000 arms ×
    /// 3,000 trials is 54 KB) from planning millions of runs (~700 bytes each).
    public static let maxRuns = 10_000

    /// Reads an experiment file. Unknown keys, wrong types and bad values are
    /// one-line errors naming the file and the key. Relative paths (`pipeline`,
    /// `data`, `out`, inline `dataset.path`) are relative to the file's folder.
    public static func load(_ path: String) throws -> ExperimentSpec {
        let bytes = try FileIO.read(path, limit: 16 << 20, what: "an experiment file")
        return try parse(String(decoding: bytes, as: UTF8.self), file: path)
    }

    /// Parses experiment TOML; `file` names it in errors and anchors relative paths.
    public static func parse(_ text: String, file: String = "<experiment>") throws -> ExperimentSpec {
        let root: TOMLTable
        try TOMLParserGuard.check(text, file: file)
        do {
            root = try TOMLTable(string: text)
        } catch let e as TOMLParseError {
            throw MixError("\(file): line \(e.source.begin.line), column \(e.source.begin.column): \(e.description)")
        }
        let dir = folder(of: file)
        var top = StrictTOMLTable(root, prefix: "", file: file)
        if root["seed"] != nil {
            throw MixError("\(file): seed is not an experiment key; the seeds are trials = [0, 1, …]")
        }
        let name = try top.string("name") ?? defaultName(file)
        guard isSafeName(name) else {
            throw MixError("\(file): name must be letters, digits, '.', '_' or '-' (got \"\(name)\")")
        }

        // Base pipeline: a file, or inline sections.
        let sections = ["dataset", "mix", "augment", "shards", "train"]
        let inline = sections.filter { root[$0] != nil }
        var base: Pipeline
        var baseFile: String?
        if let pipelinePath = try top.string("pipeline") {
            if let first = inline.first {
                throw MixError("\(file): give either pipeline = \"…\" or inline sections, not both (found [\(first)])")
            }
            let resolved = resolve(pipelinePath, in: dir)
            guard FileIO.exists(resolved) else { throw MixError("\(file): pipeline: no such file \(resolved)") }
            base = try Pipeline.load(resolved)
            baseFile = resolved
        } else {
            guard !inline.isEmpty else {
                throw MixError("\(file): no base pipeline: set pipeline = \"FILE.toml\" or give [dataset], [mix], [augment], [shards], [train] sections")
            }
            let sub = TOMLTable()
            for key in inline {
                guard let t = root[key]?.table else { throw MixError("\(file): \(key) must be a table ([\(key)])") }
                sub[key] = t
            }
            var hasPath = false
            if let d = sub["dataset"]?.table, d["path"] != nil { hasPath = true }
            if !hasPath {
                // The path may come from `data` or --data; checked once those are applied.
                let d = sub["dataset"]?.table ?? TOMLTable()
                d["path"] = "-"
                sub["dataset"] = d
            }
            base = try Pipeline.parse(sub.convert(to: .toml), file: file)
            if !hasPath {
                base.dataset.path = ""
            } else {
                base.dataset.path = resolve(base.dataset.path, in: dir)
            }
            for key in inline { top.markUsed(key) }
        }

        // Trials, epochs, data, out.
        guard let trialValues = try top.intArray("trials") else {
            throw MixError("\(file): trials must be set (the seeds, e.g. trials = [0, 1, 2])")
        }
        guard !trialValues.isEmpty else { throw MixError("\(file): trials must list at least one seed") }
        if let bad = trialValues.first(where: { $0 < 0 }) { throw MixError("\(file): trials must be seeds ≥ 0 (got \(bad))") }
        if let dup = firstDuplicate(trialValues) { throw MixError("\(file): trials lists seed \(dup) twice") }
        let trials = trialValues.map { UInt64($0) }

        let epochs = try top.int("epochs")
        if let epochs, !(1...100_000).contains(epochs) { throw MixError("\(file): epochs must be \(Wording.range(1, 100_000)) (got \(epochs))") }
        if let epochs {
            base.train.epochs = epochs
            base.shards.epochs = epochs
        }
        var data: String?
        if let d = try top.string("data") {
            guard !d.isEmpty else { throw MixError("\(file): data must not be empty") }
            data = resolve(d, in: dir)
            base.dataset.path = data!
        }
        var out: String?
        if let o = try top.string("out") {
            guard !o.isEmpty else { throw MixError("\(file): out must not be empty") }
            out = resolve(o, in: dir)
        }

        // Arms.
        guard let armValues = try top.tableArray("arms") else {
            throw MixError("\(file): no arms: add [[arms]] tables, each with a name and mix overrides")
        }
        guard !armValues.isEmpty else { throw MixError("\(file): arms must hold at least one [[arms]] table") }
        try checkRuns(arms: armValues.count, trials: trials.count, file: file, from: "")
        var arms: [ExperimentArm] = []
        var armNames = Set<String>()
        for (i, t) in armValues.enumerated() {
            var r = StrictTOMLTable(t, prefix: "arms[\(i + 1)].", file: file)
            guard let armName = try r.string("name") else { throw MixError("\(file): arms[\(i + 1)].name must be set") }
            guard isSafeName(armName) else {
                throw MixError("\(file): arms[\(i + 1)].name must be letters, digits, '.', '_' or '-' (got \"\(armName)\")")
            }
            guard armNames.insert(armName).inserted else { throw MixError("\(file): arms[\(i + 1)].name \"\(armName)\" is used twice") }
            r.prefix = "arms.\(armName)."
            var mix = base.mix
            if let mode = try r.string("mode") {
                guard let m = MixMode(rawValue: mode) else {
                    throw MixError("\(file): arms.\(armName).mode must be one of \(MixMode.allCases.map(\.rawValue).joined(separator: ", ")) (got \"\(mode)\")")
                }
                mix.mode = m
            }
            if let p = try r.double("p") {
                mix.p = p
            } else if mix.mode == .none {
                mix.p = 0
            }
            mix.alpha = try r.double("alpha") ?? mix.alpha
            mix.block = try r.int("block") ?? mix.block
            mix.smoothing = try r.double("smoothing") ?? mix.smoothing
            var augment = base.augment
            augment.cropPad = try r.int("crop_pad") ?? augment.cropPad
            augment.flip = try r.bool("flip") ?? augment.flip
            try augment.readPolicyKeys(&r)
            if let problem = augment.problems(prefix: "arms.\(armName).").first { throw MixError("\(file): \(problem)") }
            let reference = try r.double("reference_accuracy")
            if let reference, !(0...100).contains(reference) {
                throw MixError("\(file): arms.\(armName).reference_accuracy must be a percentage in [0, 100] (got \(reference))")
            }
            let compareWith = try r.string("compare_with")
            var train = TrainOverrides()
            try train.read(from: &r)
            let shardsEpochs = try r.int("shards_epochs")
            var armTrials: [UInt64]?
            if let values = try r.intArray("trials") {
                guard !values.isEmpty else { throw MixError("\(file): arms.\(armName).trials must list at least one seed") }
                if let bad = values.first(where: { $0 < 0 }) { throw MixError("\(file): arms.\(armName).trials must be seeds ≥ 0 (got \(bad))") }
                if let dup = firstDuplicate(values) { throw MixError("\(file): arms.\(armName).trials lists seed \(dup) twice") }
                armTrials = values.map { UInt64($0) }
            }
            try r.finish()
            if let problem = mix.problems(prefix: "arms.\(armName).").first { throw MixError("\(file): \(problem)") }
            let arm = ExperimentArm(name: armName, augment: augment, mix: mix, referenceAccuracy: reference.map { $0 / 100 },
                                    compareWith: compareWith, train: train, shardsEpochs: shardsEpochs, trials: armTrials)
            if let problem = arm.problems(base: base).first { throw MixError("\(file): \(problem)") }
            if let n = shardsEpochs, !(1...max(base.train.epochs, 1)).contains(n) {
                throw MixError("\(file): arms.\(armName).shards_epochs must be \(Wording.range(1, max(base.train.epochs, 1))), at most the epochs trained (got \(n))")
            }
            arms.append(arm)
        }
        let runs = arms.reduce(0) { $0 + ($1.trials?.count ?? trials.count) }
        guard runs <= maxRuns else {
            throw MixError("\(file): the arms' trials must be at most \(Wording.grouped(maxRuns)) runs in all (got \(Wording.grouped(runs)))")
        }
        for arm in arms {
            guard let other = arm.compareWith else { continue }
            guard other != arm.name, armNames.contains(other) else {
                throw MixError("\(file): arms.\(arm.name).compare_with must name another arm (got \"\(other)\"; arms: "
                    + arms.map(\.name).joined(separator: ", ") + ")")
            }
        }

        let baseline: String
        if let b = try top.string("baseline") {
            guard arms.contains(where: { $0.name == b }) else {
                throw MixError("\(file): baseline names no arm (got \"\(b)\"; arms: \(arms.map(\.name).joined(separator: ", ")))")
            }
            baseline = b
        } else {
            baseline = (arms.first { !$0.transformsImages } ?? arms.first { !$0.mixes } ?? arms[0]).name
        }
        let reference = try top.string("reference")
        if reference != nil && !arms.contains(where: { $0.referenceAccuracy != nil }) {
            throw MixError("\(file): reference is set but no arm has a reference_accuracy")
        }
        try top.finish()

        if !base.dataset.path.isEmpty, let problem = base.problems().first { throw MixError("\(file): \(problem)") }
        return ExperimentSpec(name: name, file: file, base: base, basePipelineFile: baseFile, arms: arms, trials: trials,
                              epochs: epochs, data: data, out: out, baseline: baseline, reference: reference)
    }

    // MARK: - Helpers

    /// Refuses more than `maxRuns` runs; `from` says where the trials came from (e.g. " from --trials").
    static func checkRuns(arms: Int, trials: Int, file: String, from: String) throws {
        let (runs, overflow) = arms.multipliedReportingOverflow(by: trials)
        guard !overflow, runs <= maxRuns else {
            throw MixError("\(file): arms × trials must be at most \(Wording.grouped(maxRuns)) runs (got \(arms) arm\(arms == 1 ? "" : "s") × \(trials) trial\(trials == 1 ? "" : "s")\(from))")
        }
    }

    static func folder(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    static func resolve(_ path: String, in dir: String) -> String {
        path.hasPrefix("/") || dir == "." ? path : FileIO.normalizedPath(dir + "/" + path)
    }

    static func defaultName(_ file: String) -> String {
        var base = file.split(separator: "/").last.map(String.init) ?? file
        if base.hasSuffix(".toml") { base.removeLast(5) }
        return isSafeName(base) ? base : "experiment"
    }

    /// Names that are safe as one path component.
    static func isSafeName(_ s: String) -> Bool { FileIO.isSafeName(s) }

    static func firstDuplicate(_ values: [Int]) -> Int? {
        var seen = Set<Int>()
        for v in values where !seen.insert(v).inserted { return v }
        return nil
    }
}


/// `0.2`, `1`, `0.001`: a number without trailing zeros.
func shortNumber(_ x: Double) -> String {
    if x == x.rounded() && abs(x) < 1e15 { return String(Int(x)) }
    var s = String(format: "%.6g", x)
    if s.contains("e") { return s }
    while s.hasSuffix("0") { s.removeLast() }
    if s.hasSuffix(".") { s.removeLast() }
    return s
}
