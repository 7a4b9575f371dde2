import Foundation
import MixCore
import NN
import Pipeline
import ShardStore

/// The training recipe beyond constant-rate Adam (version 3 checkpoints): the learning-rate
/// schedule, AdamW weight decay and the EMA decay, as in `[train]`. Absent (nil) in a
/// checkpoint means the article's recipe: constant rate, no weight decay, no EMA.
public struct CheckpointRecipe: Sendable, Equatable, Codable {
    public var lrSchedule: String
    public var warmupEpochs: Int
    public var minLR: Double
    public var stepEpochs: Int
    public var stepGamma: Double
    public var weightDecay: Double
    public var ema: Double
    /// Cosine only: `train.epochs`, the schedule's horizon (the rate of every step depends on
    /// it, so a cosine run resumes only to the same number of epochs); nil otherwise.
    public var scheduleEpochs: Int?

    /// The recipe of `t`, or nil when it is the default one.
    public init?(_ t: TrainSection) {
        let d = TrainSection()
        guard t.lrSchedule != d.lrSchedule || t.warmupEpochs != d.warmupEpochs || t.minLR != d.minLR
                || t.stepEpochs != d.stepEpochs || t.stepGamma != d.stepGamma || t.weightDecay != d.weightDecay
                || t.ema != d.ema else { return nil }
        lrSchedule = t.lrSchedule
        warmupEpochs = t.warmupEpochs
        minLR = t.minLR
        stepEpochs = t.stepEpochs
        stepGamma = t.stepGamma
        weightDecay = t.weightDecay
        ema = t.ema
        scheduleEpochs = t.lrSchedule == "cosine" ? t.epochs : nil
    }

    /// `t` with this recipe's keys.
    func applied(to t: TrainSection) -> TrainSection {
        var t = t
        t.lrSchedule = lrSchedule
        t.warmupEpochs = warmupEpochs
        t.minLR = minLR
        t.stepEpochs = stepEpochs
        t.stepGamma = stepGamma
        t.weightDecay = weightDecay
        t.ema = ema
        return t
    }
}

/// Everything needed to continue training exactly where it stopped.
public struct Checkpoint: Sendable, Equatable {
    /// The fixed-size facts, stored as the checkpoint's JSON header.
    public struct Header: Sendable, Equatable, Codable {
        /// Network shape (version 1 had one `inputSize` for square images; it reads as both sides).
        public var widths: [Int]
        public var hidden: Int
        public var classes: Int
        public var inputChannels: Int
        public var inputHeight: Int
        public var inputWidth: Int
        /// The per-channel figures the inputs were normalised with in training (version 2; a
        /// version 1 checkpoint was trained with `PixelNormalizer.legacy`, the CIFAR-10
        /// constants, and reads as such): evaluating the network normalises with them too.
        public var normalization: ChannelStats
        /// Epochs completed (this is `checkpoint-<epoch>.ckpt`).
        public var epoch: Int
        /// Adam updates taken so far.
        public var adamStep: Int
        /// Optimiser settings.
        public var learningRate: Double
        public var beta1: Double
        public var beta2: Double
        public var epsilon: Double
        /// Batch size and seed: with `nextEpoch`, they fix the loader position
        /// (the chunk order of epoch e is a pure function of (seed, e)).
        public var batch: Int
        public var seed: UInt64
        /// The next (0-based) training epoch the loader reads.
        public var nextEpoch: Int
        /// Metrics of every epoch completed so far.
        public var metrics: [EpochMetrics]
        /// The run's pipeline name, and the shard set it trained on.
        public var pipelineName: String
        public var manifestSHA256: String
        public var sourceFingerprint: String
        /// Parameters in each of the float blocks.
        public var parameterCount: Int
        /// The recipe (version 3); nil: constant rate, no weight decay, no EMA. `learningRate`
        /// is the base rate the schedule scales.
        public var recipe: CheckpointRecipe? = nil

        /// The recipe keys of `[train]` this checkpoint trained with (`learningRate` as `lr`).
        public var trainRecipe: TrainSection {
            var t = TrainSection()
            t.lr = learningRate
            return recipe?.applied(to: t) ?? t
        }

        /// What is impossible in the header apart from the network shape (a crafted file), naming the field; nil when fine.
        var problem: String? {
            if epoch < 0 || nextEpoch < 0 || adamStep < 0 {
                return "header: epoch \(epoch), nextEpoch \(nextEpoch) and adamStep \(adamStep) must be ≥ 0"
            }
            if let problem = TrainingLimits.batchProblem(batch, key: "header: batch") { return problem }
            if parameterCount != config.checkedParameterCount {
                return "header: parameterCount \(parameterCount) does not match the network's \(config.checkedParameterCount ?? 0)"
            }
            if let r = recipe {
                var t = r.applied(to: TrainSection())
                t.lr = learningRate
                t.epochs = r.scheduleEpochs ?? max(1, r.warmupEpochs + 1)
                if (r.scheduleEpochs != nil) != (r.lrSchedule == "cosine") {
                    return "header: recipe: scheduleEpochs must be given for the cosine schedule only"
                }
                if let problem = t.recipeProblems().first { return "header: recipe: " + problem }
            }
            let n = normalization
            guard n.mean.count == inputChannels, n.std.count == inputChannels,
                  n.mean.allSatisfy({ (0...1).contains($0) }), n.std.allSatisfy({ $0 > 0 && $0 <= 1 }) else {
                return "header: normalization must hold \(inputChannels) means from 0 to 1 and \(inputChannels) standard deviations "
                    + "above 0 and at most 1, one per input channel (got \(n.description))"
            }
            return nil
        }

        /// The network configuration this header describes.
        public var config: CNNConfig {
            CNNConfig(widths: widths, hidden: hidden, classes: classes, inputChannels: inputChannels,
                      inputHeight: inputHeight, inputWidth: inputWidth)
        }
    }

    public var header: Header
    /// The flat parameter buffer (`SeedCNN` order).
    public var parameters: [Float]
    /// Adam's first and second moments.
    public var adamM: [Float]
    public var adamV: [Float]
    /// The exponential moving average of the parameters (version 3, when the recipe's
    /// `ema` > 0): what evaluation and `mixtrain eval` use.
    public var ema: [Float]?

    public init(header: Header, parameters: [Float], adamM: [Float], adamV: [Float], ema: [Float]? = nil) {
        self.header = header
        self.parameters = parameters
        self.adamM = adamM
        self.adamV = adamV
        self.ema = ema
    }

    /// Whether the file holds an EMA block (the recipe's `ema` > 0).
    var hasEMA: Bool { (header.recipe?.ema ?? 0) > 0 }

    // MARK: File format

    /// `MIXCKPT1`.
    public static let magic: [UInt8] = Array("MIXCKPT1".utf8)
    /// The version written: 3 (the header's `recipe`, and an EMA block when its `ema` > 0) when
    /// the run's recipe is not the default one; else 2 (non-square inputs, the normalisation
    /// figures), byte for byte as before the recipe existed. Version 1 (mixshards ≤ 0.4:
    /// `inputSize`, no figures) is still read.
    public static let version: UInt32 = 3
    public static let readableVersions: ClosedRange<UInt32> = 1...3

    /// The version this checkpoint is written as.
    public var formatVersion: UInt32 { header.recipe == nil ? 2 : 3 }

    /// The file name of the checkpoint taken after `epoch` completed epochs.
    public static func fileName(epoch: Int) -> String {
        "checkpoint-" + String(format: "%03d", epoch) + ".ckpt"
    }

    /// The file's bytes:
    ///
    /// ```
    /// magic "MIXCKPT1" (8) | version u32 | headerBytes u32 | header (JSON, UTF-8)
    /// | parameterCount u64 | parameters f32 × n | Adam m f32 × n | Adam v f32 × n
    /// | [version 3 with recipe.ema > 0: EMA parameters f32 × n]
    /// | SHA-256 of everything before (32)
    /// ```
    /// Integers and floats little-endian.
    public func encoded() throws -> [UInt8] {
        let n = header.parameterCount
        guard parameters.count == n, adamM.count == n, adamV.count == n else {
            throw MixError("checkpoint: parameter/moment counts (\(parameters.count)/\(adamM.count)/\(adamV.count)) do not match \(n)")
        }
        guard hasEMA ? ema?.count == n : ema == nil else {
            throw MixError("checkpoint: EMA parameters (\(ema?.count ?? 0)) do not match the recipe's ema \(header.recipe?.ema ?? 0) and \(n) parameters")
        }
        let json = Array(try JSONEncoder.sorted.encode(header))
        var out: [UInt8] = []
        out.reserveCapacity(8 + 8 + json.count + 8 + 12 * n + 32)
        out += Checkpoint.magic
        out.appendLE(formatVersion)
        out.appendLE(UInt32(json.count))
        out += json
        out.appendLE(UInt64(n))
        for block in [parameters, adamM, adamV] + (ema.map { [$0] } ?? []) { out.appendFloats(block) }
        out += SHA256.hash(out)
        return out
    }

    /// Decodes and verifies checkpoint bytes; errors name `path`.
    public static func decode(_ bytes: [UInt8], path: String) throws -> Checkpoint {
        let fail = { (what: String) in MixError.file(path, what) }
        guard bytes.count >= 8 + 8 + 8 + 32 else { throw fail("too short to be a checkpoint (\(bytes.count) bytes)") }
        guard Array(bytes[0..<8]) == magic else { throw fail("not a mixtrain checkpoint (bad magic)") }
        let body = bytes.count - 32
        let digest = bytes.withUnsafeBytes { SHA256.hash(UnsafeRawBufferPointer(rebasing: $0[0..<body])) }
        guard digest == Array(bytes[body...]) else { throw fail("checksum mismatch (corrupt or truncated checkpoint)") }
        var r = ByteReader(bytes: bytes, end: body, at: 8)
        let v: UInt32 = try r.le(fail)
        guard readableVersions.contains(v) else {
            throw fail("unsupported checkpoint version \(v) (this build reads versions \(Wording.range(Int(readableVersions.lowerBound), Int(readableVersions.upperBound))))")
        }
        let headerBytes = Int(try r.le(fail) as UInt32)
        let json = try r.take(headerBytes, fail)
        var header: Header
        do {
            header = v == 1 ? try HeaderV1.decode(Data(json)) : try JSONDecoder().decode(Header.self, from: Data(json))
        } catch {
            throw fail("header is not valid: \(MixError.describe(decoding: error))")
        }
        // Everything a crafted header could make overflow or allocate is checked before the floats are read.
        if let problem = header.config.validationError() { throw fail("network configuration: \(problem)") }
        if v == 1 { header.normalization = PixelNormalizer.legacy(channels: header.inputChannels).stats }
        if v < 3 && header.recipe != nil { throw fail("header: a version \(v) checkpoint cannot hold a recipe") }
        if v == 3 && header.recipe == nil { throw fail("header: a version 3 checkpoint must hold a recipe") }
        if let problem = header.problem { throw fail(problem) }
        let count: UInt64 = try r.le(fail)
        let blocks: UInt64 = (header.recipe?.ema ?? 0) > 0 ? 4 : 3
        guard count == UInt64(header.parameterCount), UInt64(r.remaining) == 4 &* blocks &* count else {
            throw fail("holds \(r.remaining) bytes of parameters\(blocks == 4 ? ", moments and EMA" : " and moments") for \(count) parameters, "
                       + "expected \(blocks) × 4 × \(header.parameterCount)")
        }
        let n = header.parameterCount
        let p = try r.floats(n, fail), m = try r.floats(n, fail), vv = try r.floats(n, fail)
        let e = blocks == 4 ? try r.floats(n, fail) : nil
        return Checkpoint(header: header, parameters: p, adamM: m, adamV: vv, ema: e)
    }

    /// Writes atomically (temp + fsync + rename).
    public func write(to path: String) throws {
        try FileIO.writeAtomically(path, try encoded())
    }

    /// Reads and verifies a checkpoint file.
    public static func read(_ path: String) throws -> Checkpoint {
        try decode(try FileIO.read(path), path: path)
    }

    /// The checkpoints in `directory`, newest (highest epoch) first.
    public static func list(in directory: String) -> [(epoch: Int, path: String)] {
        guard let names = try? FileIO.list(directory) else { return [] }
        return names.compactMap { name -> (Int, String)? in
            guard name.hasPrefix("checkpoint-"), name.hasSuffix(".ckpt"),
                  let e = Int(name.dropFirst("checkpoint-".count).dropLast(".ckpt".count)) else { return nil }
            return (e, directory + "/" + name)
        }.sorted { $0.0 > $1.0 }
    }

    /// The newest checkpoint in `directory` that verifies; each corrupt newer one
    /// is reported through `warn` and skipped. Nil when there is none.
    public static func latestGood(in directory: String, warn: (String) -> Void) -> Checkpoint? {
        for (_, path) in list(in: directory) {
            do {
                return try read(path)
            } catch {
                warn("skipping unusable checkpoint: \(error)")
            }
        }
        return nil
    }

    /// The newest checkpoint in `directory` that verifies, and the one-line
    /// problem of each newer one that does not (newest first).
    public static func newestUsable(in directory: String) -> (checkpoint: Checkpoint?, skipped: [String]) {
        var skipped: [String] = []
        for (_, path) in list(in: directory) {
            do {
                return (try read(path), skipped)
            } catch {
                skipped.append("\(error)")
            }
        }
        return (nil, skipped)
    }

    // MARK: Model and optimiser

    /// Captures a model, its optimiser, and the figures its inputs were normalised with; with a
    /// recipe, `learningRate` is its base rate (the optimiser's is the last scheduled one), and
    /// `ema` the averaged weights when the recipe's `ema` > 0.
    public init(model: SeedCNN, optimizer: Adam, normalizer: PixelNormalizer, epoch: Int, batch: Int, seed: UInt64,
                metrics: [EpochMetrics], pipelineName: String, manifestSHA256: String, sourceFingerprint: String,
                learningRate: Double? = nil, recipe: CheckpointRecipe? = nil, ema: WeightEMA? = nil) {
        let c = model.config
        header = Header(widths: c.widths, hidden: c.hidden, classes: c.classes, inputChannels: c.inputChannels,
                        inputHeight: c.inputHeight, inputWidth: c.inputWidth, normalization: normalizer.stats,
                        epoch: epoch, adamStep: optimizer.step,
                        learningRate: learningRate ?? optimizer.learningRate, beta1: optimizer.beta1, beta2: optimizer.beta2,
                        epsilon: optimizer.epsilon, batch: batch, seed: seed, nextEpoch: epoch, metrics: metrics,
                        pipelineName: pipelineName, manifestSHA256: manifestSHA256,
                        sourceFingerprint: sourceFingerprint, parameterCount: model.parameterCount, recipe: recipe)
        parameters = model.parameters
        adamM = optimizer.m
        adamV = optimizer.v
        self.ema = ema?.values
    }

    /// A model holding the weights to evaluate: the EMA's when the checkpoint has one, else
    /// the trained parameters.
    public func makeEvaluationModel() throws -> SeedCNN {
        let model = try makeModel()
        if let ema { model.parameters = ema }
        return model
    }

    /// The EMA state stored in the checkpoint (nil when the recipe has none).
    public func makeEMA() -> WeightEMA? {
        guard let ema, let decay = header.recipe?.ema, decay > 0 else { return nil }
        return WeightEMA(decay: decay, parameters: ema)
    }

    /// A model holding the checkpoint's parameters.
    public func makeModel() throws -> SeedCNN {
        let model = SeedCNN(config: header.config, seed: header.seed)
        guard model.parameterCount == parameters.count else {
            throw MixError("checkpoint: \(parameters.count) parameters, but its configuration needs \(model.parameterCount)")
        }
        model.parameters = parameters
        return model
    }

    /// The normaliser the network's inputs were trained with (and must be evaluated with).
    public var normalizer: PixelNormalizer { PixelNormalizer(stats: header.normalization) }

    /// The optimiser state stored in the checkpoint.
    public func makeOptimizer() -> Adam {
        var adam = Adam(parameterCount: parameters.count, learningRate: header.learningRate, beta1: header.beta1,
                        beta2: header.beta2, epsilon: header.epsilon, weightDecay: header.recipe?.weightDecay ?? 0)
        adam.m = adamM
        adam.v = adamV
        adam.step = header.adamStep
        return adam
    }
}

/// A version 1 header: the square network's `inputSize`, no normalisation figures (those of
/// `PixelNormalizer.legacy`, which `decode` sets once the shape is checked).
struct HeaderV1: Decodable {
    var widths: [Int]
    var hidden: Int
    var classes: Int
    var inputChannels: Int
    var inputSize: Int
    var epoch: Int
    var adamStep: Int
    var learningRate: Double
    var beta1: Double
    var beta2: Double
    var epsilon: Double
    var batch: Int
    var seed: UInt64
    var nextEpoch: Int
    var metrics: [EpochMetrics]
    var pipelineName: String
    var manifestSHA256: String
    var sourceFingerprint: String
    var parameterCount: Int

    static func decode(_ json: Data) throws -> Checkpoint.Header {
        let h = try JSONDecoder().decode(HeaderV1.self, from: json)
        return Checkpoint.Header(widths: h.widths, hidden: h.hidden, classes: h.classes, inputChannels: h.inputChannels,
                                 inputHeight: h.inputSize, inputWidth: h.inputSize, normalization: ChannelStats(mean: [], std: []),
                                 epoch: h.epoch, adamStep: h.adamStep, learningRate: h.learningRate, beta1: h.beta1, beta2: h.beta2,
                                 epsilon: h.epsilon, batch: h.batch, seed: h.seed, nextEpoch: h.nextEpoch, metrics: h.metrics,
                                 pipelineName: h.pipelineName, manifestSHA256: h.manifestSHA256,
                                 sourceFingerprint: h.sourceFingerprint, parameterCount: h.parameterCount)
    }
}

extension JSONEncoder {
    /// Deterministic JSON (sorted keys).
    static var sorted: JSONEncoder {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return e
    }
}

extension Array where Element == UInt8 {
    mutating func appendLE<T: FixedWidthInteger>(_ v: T) {
        Swift.withUnsafeBytes(of: v.littleEndian) { append(contentsOf: $0) }
    }

    mutating func appendFloats(_ values: [Float]) {
        if 1.littleEndian == 1 {
            values.withUnsafeBytes { append(contentsOf: $0) }
        } else {
            for x in values { appendLE(x.bitPattern) }
        }
    }
}

/// Bounds-checked little-endian reads from a byte array.
struct ByteReader {
    let bytes: [UInt8]
    let end: Int
    var at: Int

    var remaining: Int { end - at }

    mutating func take(_ n: Int, _ fail: (String) -> MixError) throws -> ArraySlice<UInt8> {
        guard n >= 0, n <= remaining else { throw fail("truncated at byte \(at)") }
        defer { at += n }
        return bytes[at..<(at + n)]
    }

    mutating func le<T: FixedWidthInteger>(_ fail: (String) -> MixError) throws -> T {
        let s = try take(MemoryLayout<T>.size, fail)
        var v: T = 0
        for (i, b) in s.enumerated() { v |= T(b) << (8 * i) }
        return v
    }

    mutating func floats(_ n: Int, _ fail: (String) -> MixError) throws -> [Float] {
        let s = try take(4 * n, fail)
        var out = [Float](repeating: 0, count: n)
        if 1.littleEndian == 1 {
            out.withUnsafeMutableBytes { dst in s.withUnsafeBytes { dst.copyMemory(from: $0) } }
        } else {
            s.withUnsafeBytes { src in
                for i in 0..<n { out[i] = Float(bitPattern: UInt32(littleEndian: src.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))) }
            }
        }
        return out
    }
}
