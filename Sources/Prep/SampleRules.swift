import MixCore
import Mixup
import ShardFormat

/// The rules `verify` holds each provenance record to, beyond those every reader checks
/// (DESIGN.md, "Rules for records and labels"): positions inside the source, the test
/// split unmixed, transforms that `[augment]` draws, kinds that `[mix]` makes, and a
/// CutMix λ that is its box's.
struct RecordRules: Sendable {
    /// Images of the source's training and test splits.
    let trainCount: Int
    let testCount: Int
    let augment: AugmentConfig
    let mix: MixConfig
    let width: Int
    let height: Int

    /// What is wrong with the record of the sample at `position` of its split (a shard of
    /// `split`, written in format `version`: v1 records have no kind, transform or box);
    /// nil when it keeps the rules.
    func problem(_ p: Provenance, split: Split, position: Int, version: UInt16) -> String? {
        if split == .test {
            guard p.kind == .copy, Int(p.primary) == position, p.primaryTransform.isIdentity, !p.isReference, !p.hasOps else {
                return "provenance: test position \(position) must hold test image \(position), unmixed and untransformed"
            }
            return nil
        }
        for (role, index) in [("primary", p.primary), ("partner", p.partner)] where Int(index) >= trainCount {
            return "provenance: \(role) \(index) is not a training image (the source has \(Wording.grouped(trainCount)))"
        }
        let shifts = [p.primaryTransform, p.partnerTransform]
        if shifts.contains(where: { abs(Int($0.dx)) > augment.cropPad || abs(Int($0.dy)) > augment.cropPad || ($0.flip && !augment.flip) }) {
            return "provenance: transforms \(Self.text(p.primaryTransform)) and \(Self.text(p.partnerTransform)) are not drawn by "
                + "the pipeline's augment (crop_pad \(augment.cropPad), flip \(augment.flip))"
        }
        if let problem = opsProblem(p) { return problem }
        guard version >= 2 else { return nil }
        switch p.kind {
        case .copy:
            break
        case .blend, .cutmix:
            if mix.mode == .none { return "provenance: a \(p.kind), but mix.mode \"none\" mixes no sample" }
            if mix.p == 0 { return "provenance: a \(p.kind), but mix.p = 0 mixes no sample" }
            if p.kind == .cutmix && mix.mode != .cutmix { return "provenance: a cutmix, but mix.mode \"\(mix.mode.rawValue)\" blends" }
            if p.kind == .blend && mix.mode == .cutmix && p.lambda != 1 {
                return "provenance: a blend of lambda \(Wording.float(p.lambda)), but mix.mode \"cutmix\" blends only with lambda 1 "
                    + "(a box without pixels)"
            }
        }
        if p.kind == .cutmix {
            let b = p.box
            let box = "cutmix box [\(b.x0), \(b.x1)) × [\(b.y0), \(b.y1))"
            guard b.x0 < b.x1, b.y0 < b.y1 else { return "provenance: \(box) is empty" }
            let lambda = EpochPlan.cutmixLambda(boxArea: b.area, width: width, height: height)
            guard p.lambda.bitPattern == lambda.bitPattern else {
                return "provenance: \(box) leaves lambda \(Wording.float(lambda)) of the primary, the record says \(Wording.float(p.lambda))"
            }
        }
        return nil
    }

    /// Rule 13 (v4): the ops are ones `[augment]` draws — a resized crop exactly when
    /// `random_resized_crop` is on, the policy's ops (TrivialAugment: one, RandAugment: N, ids
    /// 0–13, each magnitude one of its bins, signed only for signed ops), then colour jitter's
    /// enabled components once each with magnitudes in their ranges, and an erasing only when
    /// `random_erasing` is on, with its fill and a box smaller than the image.
    func opsProblem(_ p: Provenance) -> String? {
        for (role, ops) in [("primary", p.primaryOps), ("partner", p.partnerOps)] {
            if (ops.resizedCrop != nil) != (augment.randomResizedCrop != nil) {
                return "provenance: the \(role) \(ops.resizedCrop == nil ? "has no" : "has a") resized crop, but augment.random_resized_crop is "
                    + (augment.randomResizedCrop == nil ? "off" : "on")
            }
            var rest = ops.ops[...]
            let policy = augment.trivialAugment == true ? 1 : augment.randAugment?.ops ?? 0
            guard rest.count >= policy else { return "provenance: the \(role) records \(rest.count) ops, the pipeline's policy draws \(policy)" }
            for op in rest.prefix(policy) {
                let bins: [(magnitude: Float, signed: Bool)] = augment.trivialAugment == true
                    ? (0..<PolicyAugment.bins).map { PolicyAugment.trivialMagnitude(op.op, bin: $0) }
                    : [PolicyAugment.randMagnitude(op.op, bin: augment.randAugment!.magnitude, height: height, width: width)]
                let fits = op.op.rawValue <= 13 && bins.contains {
                    $0.magnitude.bitPattern == op.magnitude.bitPattern || ($0.signed && (-$0.magnitude).bitPattern == op.magnitude.bitPattern)
                }
                if !fits {
                    return "provenance: the \(role)'s op \(op.op.name) of magnitude \(Wording.float(op.magnitude)) is not one "
                        + (augment.trivialAugment == true ? "augment.trivial_augment" : "augment.rand_augment") + " draws"
                }
            }
            rest = rest.dropFirst(policy)
            let jitter = augment.colorJitter ?? ColorJitterConfig()
            let ranges: [(PolicyOp, Double, Double, Double)] = [
                (.brightness, jitter.brightness, max(0, 1 - jitter.brightness) - 1, jitter.brightness),
                (.contrast, jitter.contrast, max(0, 1 - jitter.contrast) - 1, jitter.contrast),
                (.color, jitter.saturation, max(0, 1 - jitter.saturation) - 1, jitter.saturation),
                (.hue, jitter.hue, -jitter.hue, jitter.hue)]
            let enabled = ranges.filter { $0.1 > 0 }
            let ids = rest.map(\.op)
            guard rest.count == enabled.count, Set(ids) == Set(enabled.map(\.0)) else {
                return "provenance: the \(role)'s colour-jitter ops [\(ids.map(\.name).joined(separator: ", "))] are not the enabled "
                    + "components of augment.color_jitter [\(enabled.map(\.0.name).joined(separator: ", "))], once each"
            }
            for op in rest {
                let r = enabled.first { $0.0 == op.op }!
                if !(Float(r.2) <= op.magnitude && op.magnitude <= Float(r.3)) {
                    return "provenance: the \(role)'s colour-jitter \(op.op.name) of magnitude \(Wording.float(op.magnitude)) is not in "
                        + "[\(Wording.float(Float(r.2))), \(Wording.float(Float(r.3)))]"
                }
            }
        }
        if let fill = p.erasing.fill {
            guard let e = augment.randomErasing else { return "provenance: an erased box, but augment.random_erasing is off" }
            guard (fill == .random) == e.random else {
                return "provenance: an erased box filled with \(fill == .random ? "random bytes" : "zeros"), but augment.random_erasing.value is "
                    + (e.random ? "\"random\"" : "0")
            }
            guard Int(p.erasing.box.height) < height, Int(p.erasing.box.width) < width else {
                return "provenance: an erased box of \(p.erasing.box.height)×\(p.erasing.box.width) is not smaller than the image"
            }
        }
        return nil
    }

    /// `(dx, dy)`, or `(dx, dy, flipped)`.
    static func text(_ t: ImageTransform) -> String {
        "(\(t.dx), \(t.dy)\(t.flip ? ", flipped" : ""))"
    }
}

/// What one label row says about the classes of its sample's two source images: which
/// pairs of classes (the primary's, the partner's) give the row bit for bit through
/// `Mixer.labelWeights` with the record's λ and the split's smoothing. `LabelLedger`
/// checks it against the source labels.
struct LabelReading: Sendable, Equatable {
    var primary: UInt32
    var partner: UInt32
    var lambda: Float
    /// The first two classes whose weight differs from the weight of a class without mass (−1: fewer).
    var a: Int32
    var b: Int32
    /// With two such classes (and no more), bit 0: (a, b) gives the row, bit 1: (b, a).
    /// With one: bit 0: (a, a), bit 1: (a, any other class), bit 2: (any other class, a).
    /// 0: no pair gives it (also with none or more than two such classes).
    var fits: UInt8

    /// Reads the `classCount` weights at `row` of a sample whose record names `primary`,
    /// `partner` and `lambda`, under label smoothing `smoothing`.
    init(row: UnsafePointer<Float>, classCount k: Int, primary: UInt32, partner: UInt32, lambda: Float, smoothing: Double) {
        self.primary = primary
        self.partner = partner
        self.lambda = lambda
        let two = Mixer.labelWeights(lambda: lambda, sameClass: false, classCount: k, smoothing: smoothing)
        let one = Mixer.labelWeights(lambda: lambda, sameClass: true, classCount: k, smoothing: smoothing)
        let rest = two.rest.bitPattern
        var a = -1, b = -1, count = 0
        for c in 0..<k where row[c].bitPattern != rest {
            count += 1
            if a < 0 { a = c } else if b < 0 { b = c }
        }
        var fits: UInt8 = 0
        if count == 2 && primary != partner {
            let (va, vb) = (row[a].bitPattern, row[b].bitPattern)
            if va == two.primary.bitPattern && vb == two.partner.bitPattern { fits |= 1 }
            if va == two.partner.bitPattern && vb == two.primary.bitPattern { fits |= 2 }
        } else if count == 1 {
            let va = row[a].bitPattern
            if va == one.primary.bitPattern { fits |= 1 }
            if k >= 2 && primary != partner {
                if va == two.primary.bitPattern && two.partner.bitPattern == rest { fits |= 2 }
                if va == two.partner.bitPattern && two.primary.bitPattern == rest { fits |= 4 }
            }
        }
        self.a = Int32(a)
        self.b = Int32(b)
        self.fits = fits
    }

    /// The readings of every sample of `block` (with provenance), or of a source copy's
    /// samples (none: sample k is source image k, unmixed).
    static func all(of block: SampleBlock, smoothing: Double) -> [LabelReading] {
        let k = block.shape.classCount
        var out: [LabelReading] = []
        out.reserveCapacity(block.count)
        block.labels.forEachRow(classCount: k) { s, row in
            let p = block.provenance.isEmpty ? Provenance(primary: UInt32(s), partner: UInt32(s), lambda: 1) : block.provenance[s]
            out.append(LabelReading(row: row.baseAddress!, classCount: k, primary: p.primary, partner: p.partner,
                                    lambda: p.lambda, smoothing: smoothing))
        }
        return out
    }
}

/// The source labels as `verify` knows them, checked and learned shard by shard in
/// manifest order (the source copy, the training epochs, the test split): each label row
/// must be the one `Mixer.labelWeights` gives for its record's λ, the split's smoothing
/// and its source images' classes. Classes the file lists give are known from the start;
/// the others are learned from the rows: a class a row determines (every pair of classes
/// that gives it and agrees with what is known names it) becomes that image's class, and
/// a message about it names the row it was learned from.
struct LabelLedger: Sendable {
    /// Class of each training and test image, −1 while unknown.
    var train: [Int32]
    var test: [Int32]
    let classNames: [String]
    /// Where each learned class comes from: `(shard + 1) << 32 | sample`, shard indexing
    /// `shards`; 0 for a class the file lists give (or none yet).
    private var trainFrom: [UInt64]
    private var testFrom: [UInt64]
    /// The shards checked so far: file (relative to the directory) and samples per chunk.
    private var shards: [(file: String, perChunk: Int)] = []

    /// The source labels of a manifest: the file lists' (image files), else unknown.
    init(trainCount: Int, testCount: Int, classNames: [String], train: [Int32]? = nil, test: [Int32]? = nil) {
        self.train = train ?? Array(repeating: -1, count: trainCount)
        self.test = test ?? Array(repeating: -1, count: testCount)
        self.classNames = classNames
        trainFrom = Array(repeating: 0, count: self.train.count)
        testFrom = Array(repeating: 0, count: self.test.count)
    }

    /// Checks the readings of `file`, a shard of `split`, in sample order, learning the
    /// classes they determine, and stops at the first row that does not follow: its problem
    /// (`chunk c: sample s: …`, chunks of `samplesPerChunk`), or nil.
    mutating func check(_ readings: [LabelReading], split: Split, smoothing: Double, samplesPerChunk: Int, file: String) -> String? {
        shards.append((file, samplesPerChunk))
        let shard = UInt64(shards.count) << 32
        var y = split == .test ? test : train
        var from = split == .test ? testFrom : trainFrom
        if split == .test { (test, testFrom) = ([], []) } else { (train, trainFrom) = ([], []) }  // no copies while learning
        defer { if split == .test { (test, testFrom) = (y, from) } else { (train, trainFrom) = (y, from) } }
        for (s, r) in readings.enumerated() {
            let p = Int(r.primary), q = Int(r.partner)
            let yp = y[p], yq = y[q]
            func fits(_ c: Int32, _ known: Int32) -> Bool { known < 0 || known == c }
            var primary: Int32?, partner: Int32?   // the classes the consistent pairs agree on; nil: none or not one
            var any = false, primaryOpen = false, partnerOpen = false
            func take(_ cp: Int32?, _ cq: Int32?) {
                if any {
                    if cp != primary { primaryOpen = true }
                    if cq != partner { partnerOpen = true }
                } else {
                    (primary, partner, any) = (cp, cq, true)
                }
                if cp == nil { primaryOpen = true }
                if cq == nil { partnerOpen = true }
            }
            if r.b >= 0 {
                if r.fits & 1 != 0 && fits(r.a, yp) && fits(r.b, yq) { take(r.a, r.b) }
                if r.fits & 2 != 0 && fits(r.b, yp) && fits(r.a, yq) { take(r.b, r.a) }
            } else if r.a >= 0 {
                if r.fits & 1 != 0 && fits(r.a, yp) && fits(r.a, yq) { take(r.a, r.a) }
                if r.fits & 2 != 0 && fits(r.a, yp) && yq != r.a { take(r.a, nil) }
                if r.fits & 4 != 0 && yp != r.a && fits(r.a, yq) { take(nil, r.a) }
            }
            guard any else {
                return "chunk \(s / samplesPerChunk): sample \(s): "
                    + problem(r, yp: yp, yq: yq, smoothing: smoothing, from: (from[p], from[q]))
            }
            if !primaryOpen, let c = primary, y[p] < 0 { (y[p], from[p]) = (c, shard | UInt64(s)) }
            if !partnerOpen, let c = partner, y[q] < 0 { (y[q], from[q]) = (c, shard | UInt64(s)) }
        }
        return nil
    }

    /// Why the row of `r` does not follow, for source images of classes `yp` and `yq` (−1:
    /// unknown) learned from the rows `from` names.
    func problem(_ r: LabelReading, yp: Int32, yq: Int32, smoothing: Double, from: (UInt64, UInt64)) -> String {
        let names = classNames
        let head = "label row does not follow from its provenance: "
        let how = "lambda \(Wording.float(r.lambda)) and smoothing \(Wording.float(Float(smoothing)))"
        func image(_ i: UInt32, _ y: Int32) -> String { y < 0 ? "\(i)" : "\(i) (\(names[Int(y)]))" }
        let one = r.primary == r.partner
        let images = one ? "source image \(image(r.primary, yp))" : "source images \(image(r.primary, yp)) and \(image(r.partner, yq))"
        var learned: [String] = []
        for (i, y, f) in one ? [(r.primary, yp, from.0)] : [(r.primary, yp, from.0), (r.partner, yq, from.1)] where y >= 0 && f != 0 {
            let shard = shards[Int(f >> 32) - 1], s = Int(f & 0xFFFF_FFFF)
            learned.append("the row of \(shard.file) chunk \(s / shard.perChunk) sample \(s) made source image \(i) \(names[Int(y)])")
        }
        let origin = learned.isEmpty ? "" : " (" + learned.joined(separator: "; ") + ")"
        guard yp >= 0, yq >= 0 else {
            return head + "no class\(one ? "" : "es") of \(images) give\(one ? "s" : "") it with \(how)" + origin
        }
        let w = Mixer.labelWeights(lambda: r.lambda, sameClass: yp == yq, classCount: names.count, smoothing: smoothing)
        let row = yp == yq ? "\(names[Int(yp)]) \(Wording.float(w.primary))"
            : "\(names[Int(yp)]) \(Wording.float(w.primary)), \(names[Int(yq)]) \(Wording.float(w.partner))"
        return head + "\(images) with \(how) give\(one ? "s" : "") \(row) and \(Wording.float(w.rest)) elsewhere" + origin
    }
}
