import MixCore
import Mixup
import TOMLKit

extension Pipeline {
    /// Reads a pipeline file. Unknown keys, wrong types and out-of-range values
    /// are errors that name the file and the key. Relative `dataset.path` is
    /// resolved against the file's folder (and normalised: `data/x`, not `pipelines/../data/x`).
    public static func load(_ path: String) throws -> Pipeline {
        let bytes = try FileIO.read(path, limit: 16 << 20, what: "a pipeline file")
        var pipeline = try parse(String(decoding: bytes, as: UTF8.self), file: path)
        if !pipeline.dataset.path.isEmpty && !pipeline.dataset.path.hasPrefix("/") {
            let dir = path.contains("/") ? String(path[..<path.lastIndex(of: "/")!]) : "."
            pipeline.dataset.path = FileIO.normalizedPath(dir + "/" + pipeline.dataset.path)
        }
        return pipeline
    }

    /// Parses pipeline TOML text (`file` only names it in errors).
    public static func parse(_ text: String, file: String = "<pipeline>") throws -> Pipeline {
        let root: TOMLTable
        try TOMLParserGuard.check(text, file: file)
        do {
            root = try TOMLTable(string: text)
        } catch let e as TOMLParseError {
            throw MixError("\(file): line \(e.source.begin.line), column \(e.source.begin.column): \(e.description)")
        }
        var p = Pipeline()
        var top = StrictTOMLTable(root, prefix: "", file: file)
        p.name = try top.string("name") ?? p.name
        if let seed = try top.int("seed") {
            guard seed >= 0 else { throw MixError("\(file): seed must be ≥ 0 (got \(seed))") }
            p.seed = UInt64(seed)
        }
        if var t = try top.table("dataset") {
            p.dataset.path = try t.string("path") ?? p.dataset.path
            p.dataset.trainLimit = try t.int("train_limit") ?? p.dataset.trainLimit
            p.dataset.testLimit = try t.int("test_limit") ?? p.dataset.testLimit
            p.dataset.size = try t.intOrIntArray("size") ?? p.dataset.size
            p.dataset.resize = try t.string("resize") ?? p.dataset.resize
            p.dataset.crop = try t.string("crop") ?? p.dataset.crop
            p.dataset.resample = try t.string("resample") ?? p.dataset.resample
            p.dataset.classes = try t.stringArray("classes") ?? p.dataset.classes
            p.dataset.testFraction = try t.double("test_fraction") ?? p.dataset.testFraction
            if let seed = try t.int("split_seed") {
                guard seed >= 0 else { throw MixError("\(file): dataset.split_seed must be ≥ 0 (got \(seed))") }
                p.dataset.splitSeed = UInt64(seed)
            }
            p.dataset.skipBad = try t.bool("skip_bad") ?? p.dataset.skipBad
            try t.finish()
        }
        if var t = try top.table("augment") {
            p.augment.cropPad = try t.int("crop_pad") ?? p.augment.cropPad
            p.augment.flip = try t.bool("flip") ?? p.augment.flip
            try p.augment.readPolicyKeys(&t)
            try t.finish()
        }
        if var t = try top.table("mix") {
            if let mode = try t.string("mode") {
                guard let m = MixMode(rawValue: mode) else {
                    throw MixError("\(file): mix.mode must be one of \(MixMode.allCases.map(\.rawValue).joined(separator: ", ")) (got \"\(mode)\")")
                }
                p.mix.mode = m
            }
            p.mix.p = try t.double("p") ?? p.mix.p
            p.mix.alpha = try t.double("alpha") ?? p.mix.alpha
            p.mix.block = try t.int("block") ?? p.mix.block
            p.mix.smoothing = try t.double("smoothing") ?? p.mix.smoothing
            try t.finish()
        }
        if var t = try top.table("shards") {
            p.shards.epochs = try t.int("epochs") ?? p.shards.epochs
            p.shards.samplesPerShard = try t.int("samples_per_shard") ?? p.shards.samplesPerShard
            p.shards.samplesPerChunk = try t.int("samples_per_chunk") ?? p.shards.samplesPerChunk
            func named<T>(_ key: String, _ names: [(String, T)]) throws -> T? {
                guard let name = try t.string(key) else { return nil }
                do { return try ShardSection.value(named: name, in: names, key: "shards." + key) } catch let e as MixError {
                    throw MixError("\(file): \(e.message)")
                }
            }
            p.shards.codec = try named("codec", ShardSection.codecNames) ?? p.shards.codec
            p.shards.level = try t.int("level") ?? p.shards.level
            p.shards.strategy = try named("strategy", ShardSection.strategyNames) ?? p.shards.strategy
            p.shards.filter = try named("filter", ShardSection.filterNames) ?? p.shards.filter
            p.shards.provenance = try t.bool("provenance") ?? p.shards.provenance
            p.shards.references = try t.bool("references") ?? p.shards.references
            p.shards.sourceCodec = try named("source_codec", ShardSection.codecNames) ?? p.shards.sourceCodec
            p.shards.sourceSamplesPerChunk = try t.int("source_samples_per_chunk") ?? p.shards.sourceSamplesPerChunk
            try t.finish()
        }
        if var t = try top.table("train") {
            p.train.epochs = try t.int("epochs") ?? p.train.epochs
            p.train.batch = try t.int("batch") ?? p.train.batch
            p.train.lr = try t.double("lr") ?? p.train.lr
            p.train.beta1 = try t.double("beta1") ?? p.train.beta1
            p.train.beta2 = try t.double("beta2") ?? p.train.beta2
            p.train.eps = try t.double("eps") ?? p.train.eps
            p.train.widths = try t.intArray("widths") ?? p.train.widths
            p.train.hidden = try t.int("hidden") ?? p.train.hidden
            p.train.lrSchedule = try t.string("lr_schedule") ?? p.train.lrSchedule  // checked with the rest by `problems()` below
            p.train.warmupEpochs = try t.int("warmup_epochs") ?? p.train.warmupEpochs
            p.train.minLR = try t.double("min_lr") ?? p.train.minLR
            p.train.stepEpochs = try t.int("step_epochs") ?? p.train.stepEpochs
            p.train.stepGamma = try t.double("step_gamma") ?? p.train.stepGamma
            p.train.weightDecay = try t.double("weight_decay") ?? p.train.weightDecay
            p.train.ema = try t.double("ema") ?? p.train.ema
            try t.finish()
        }
        try top.finish()
        if let problem = p.problems().first { throw MixError("\(file): \(problem)") }
        return p
    }
}


extension AugmentConfig {
    /// Reads the `[augment]` keys of issue 20's policies from `t` (a pipeline's `[augment]` or an
    /// experiment arm): `random_resized_crop = {scale = [lo, hi], ratio = [lo, hi]}`,
    /// `color_jitter = {brightness, contrast, saturation, hue}`, `trivial_augment = true`,
    /// `rand_augment = {ops, magnitude}`, `random_erasing = {p, scale, ratio, value = 0 or "random"}`.
    /// A table's missing keys take torchvision's defaults; `false` turns a table-valued key off
    /// (an arm's way to drop what its base pipeline sets); wrong types and unknown keys are
    /// one-line errors naming the key (values are checked by `problems`).
    public mutating func readPolicyKeys(_ t: inout StrictTOMLTable) throws {
        switch try t.tableOrOff("random_resized_crop") {
        case nil: break
        case .some(nil): randomResizedCrop = nil
        case .some(var r?):
            var c = ResizedCropConfig()
            c.scale = try r.doubleArray("scale") ?? c.scale
            c.ratio = try r.doubleArray("ratio") ?? c.ratio
            try r.finish()
            randomResizedCrop = c
        }
        switch try t.tableOrOff("color_jitter") {
        case nil: break
        case .some(nil): colorJitter = nil
        case .some(var r?):
            var c = ColorJitterConfig()
            c.brightness = try r.double("brightness") ?? c.brightness
            c.contrast = try r.double("contrast") ?? c.contrast
            c.saturation = try r.double("saturation") ?? c.saturation
            c.hue = try r.double("hue") ?? c.hue
            try r.finish()
            // All four 0 is torchvision's no-op: recorded as off, so the shards keep their version.
            colorJitter = c.isActive || !c.problems(prefix: "").isEmpty ? c : nil
        }
        if let on = try t.bool("trivial_augment") { trivialAugment = on ? true : nil }
        switch try t.tableOrOff("rand_augment") {
        case nil: break
        case .some(nil): randAugment = nil
        case .some(var r?):
            var c = RandAugmentConfig()
            c.ops = try r.int("ops") ?? c.ops
            c.magnitude = try r.int("magnitude") ?? c.magnitude
            try r.finish()
            randAugment = c
        }
        switch try t.tableOrOff("random_erasing") {
        case nil: break
        case .some(nil): randomErasing = nil
        case .some(var r?):
            var c = ErasingConfig()
            c.p = try r.double("p") ?? c.p
            c.scale = try r.doubleArray("scale") ?? c.scale
            c.ratio = try r.doubleArray("ratio") ?? c.ratio
            if let v = try r.intOrString("value") {
                switch (v.int, v.string) {
                case (0?, _): c.random = false
                case (_, "random"?): c.random = true
                default:
                    throw MixError("\(r.file): \(r.prefix)value must be 0 or \"random\" (got \(v.int.map(String.init) ?? "\"\(v.string ?? "")\""))")
                }
            }
            try r.finish()
            randomErasing = c
        }
    }
}
