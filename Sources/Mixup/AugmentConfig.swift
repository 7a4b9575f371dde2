import MixCore

/// The augmentation of a pipeline (`[augment]`), applied to each source image before
/// mixing — primary and partner independently — and (random erasing) to each sample after.
///
/// Crop and flip draw from `CounterRNG(seed, .augment, epoch, position k)`: the primary's
/// (dx, dy, flip), then the partner's, always six draws whatever is enabled, so
/// turning flips on never moves a crop and vice versa. The policy keys of issue 20
/// (`random_resized_crop`, `color_jitter`, `trivial_augment`, `rand_augment`,
/// `random_erasing`) each draw from a stream of their own (`ops(seed:epoch:position:height:width:)`)
/// and are recorded in MixShard v4 op records. See DESIGN.md, "Mixing semantics" and
/// "The draws of an epoch, exactly".
public struct AugmentConfig: Sendable, Equatable, Codable {
    /// Pad by this many zero pixels on every side, then crop back to H×W at a
    /// uniformly drawn offset (0: off). `augment.crop_pad`.
    public var cropPad: Int
    /// Mirror left–right with probability 1/2. `augment.flip`.
    public var flip: Bool

    /// `augment.random_resized_crop`: torchvision's RandomResizedCrop (nil: off).
    public var randomResizedCrop: ResizedCropConfig?
    /// `augment.color_jitter`: torchvision's ColorJitter (nil: off).
    public var colorJitter: ColorJitterConfig?
    /// `augment.trivial_augment = true`: torchvision's TrivialAugmentWide (nil: off).
    public var trivialAugment: Bool?
    /// `augment.rand_augment`: torchvision's RandAugment (nil: off).
    public var randAugment: RandAugmentConfig?
    /// `augment.random_erasing`: torchvision's RandomErasing, after mixing (nil: off).
    public var randomErasing: ErasingConfig?

    public init(cropPad: Int = 0, flip: Bool = false) {
        self.cropPad = cropPad
        self.flip = flip
    }

    /// Whether any op beyond crop and flip is on: the shards then record op records (MixShard v4).
    public var recordsOps: Bool {
        randomResizedCrop != nil || colorJitter?.isActive == true || trivialAugment == true || randAugment != nil || randomErasing != nil
    }

    /// Whether any per-image op (all but erasing) is on.
    public var hasImageOps: Bool {
        randomResizedCrop != nil || colorJitter?.isActive == true || trivialAugment == true || randAugment != nil
    }

    /// The largest `crop_pad` the format can record (offsets are stored as int16).
    public static let maxCropPad = 1023

    /// Whether any transform is drawn.
    public var isActive: Bool { cropPad > 0 || flip }

    /// A short description, e.g. `crop (pad 4) + flip` or `none`.
    public var summary: String {
        var parts: [String] = []
        if let r = randomResizedCrop { parts.append("resized crop (scale \(Wording.float(Float(r.scale[0])))–\(Wording.float(Float(r.scale[1]))))") }
        if cropPad > 0 { parts.append("crop (pad \(cropPad))") }
        if flip { parts.append("flip") }
        if trivialAugment == true { parts.append("TrivialAugment") }
        if let r = randAugment { parts.append("RandAugment (\(r.ops) ops, magnitude \(r.magnitude))") }
        if let j = colorJitter, j.isActive { parts.append("colour jitter") }
        if let e = randomErasing { parts.append("erasing (p \(Wording.float(Float(e.p))))") }
        return parts.isEmpty ? "none" : parts.joined(separator: " + ")
    }

    /// Problems with the values, each naming its key; empty when valid.
    public func problems(prefix: String = "augment.") -> [String] {
        var out: [String] = []
        if !(0...AugmentConfig.maxCropPad).contains(cropPad) {
            out.append("\(prefix)crop_pad must be \(Wording.range(0, AugmentConfig.maxCropPad)) (got \(cropPad))")
        }
        if let r = randomResizedCrop { out += r.problems(prefix: prefix + "random_resized_crop.") }
        if let j = colorJitter { out += j.problems(prefix: prefix + "color_jitter.") }
        if let r = randAugment { out += r.problems(prefix: prefix + "rand_augment.") }
        if let e = randomErasing { out += e.problems(prefix: prefix + "random_erasing.") }
        if trivialAugment == true && randAugment != nil {
            out.append("\(prefix)trivial_augment and \(prefix)rand_augment cannot both be on (each is a whole policy)")
        }
        return out
    }

    /// Why these settings cannot apply to images of this size, naming the key; nil when they can.
    public func shapeProblem(height: Int, width: Int, prefix: String = "augment.") -> String? {
        cropPad < min(height, width) ? nil
            : "\(prefix)crop_pad = \(cropPad) must be smaller than the image side (\(width)×\(height))"
    }

    /// The transforms of the primary and the partner at position `k` of `epoch`.
    public func transforms(seed: UInt64, epoch: Int, position k: Int) -> (primary: ImageTransform, partner: ImageTransform) {
        guard isActive else { return (.identity, .identity) }
        var rng = CounterRNG(seed: seed, stream: .augment, epoch: UInt32(truncatingIfNeeded: epoch), position: UInt32(k))
        let span = 2 * cropPad + 1
        func draw() -> ImageTransform {
            let dx = rng.uniformInt(below: span) - cropPad
            let dy = rng.uniformInt(below: span) - cropPad
            let f = rng.uniformInt(below: 2) == 1
            return ImageTransform(dx: Int16(dx), dy: Int16(dy), flip: flip && f)
        }
        let primary = draw()
        let partner = draw()
        return (primary, partner)
    }

    /// The v4 ops at position `k` of `epoch` for images of `height` × `width`: the primary's
    /// and the partner's image ops, each family from its own stream keyed by (seed, e, k) —
    /// resized crop (8), policy (10), colour jitter (9), the primary's draws then the
    /// partner's, always both — and the sample's erasing (11). Families that are off draw
    /// nothing and turning one on never moves another's draws.
    public func ops(seed: UInt64, epoch: Int, position k: Int, height: Int, width: Int)
        -> (primary: ImageOps, partner: ImageOps, erasing: Erasing) {
        guard recordsOps else { return (.none, .none, .none) }
        func stream(_ s: RNGStream) -> CounterRNG {
            CounterRNG(seed: seed, stream: s, epoch: UInt32(truncatingIfNeeded: epoch), position: UInt32(k))
        }
        var images = [ImageOps.none, ImageOps.none]
        if let r = randomResizedCrop {
            var rng = stream(.resizedCrop)
            for i in 0..<2 { images[i].resizedCrop = r.draw(&rng, height: height, width: width) }
        }
        if trivialAugment == true {
            var rng = stream(.policy)
            for i in 0..<2 { images[i].ops.append(PolicyAugment.drawTrivial(&rng)) }
        } else if let r = randAugment {
            var rng = stream(.policy)
            for i in 0..<2 { images[i].ops += PolicyAugment.drawRand(&rng, config: r, height: height, width: width) }
        }
        if let j = colorJitter, j.isActive {
            var rng = stream(.colorJitter)
            for i in 0..<2 { images[i].ops += j.draw(&rng) }
        }
        var erasing = Erasing.none
        if let e = randomErasing {
            var rng = stream(.erasing)
            erasing = e.draw(&rng, height: height, width: width)
        }
        return (images[0], images[1], erasing)
    }

    enum CodingKeys: String, CodingKey {
        case cropPad = "crop_pad", flip, randomResizedCrop = "random_resized_crop", colorJitter = "color_jitter"
        case trivialAugment = "trivial_augment", randAugment = "rand_augment", randomErasing = "random_erasing"
    }
}
