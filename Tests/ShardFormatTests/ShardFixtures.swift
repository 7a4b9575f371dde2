import MixCore
import ShardFormat
import XCTest

/// Small deterministic blocks and temp files for the format tests.
enum ShardFixtures {
    /// `n` samples of C×H×W with pseudo-random pixels, soft labels summing to 1 and provenance.
    static func block(n: Int, channels: Int = 3, height: Int = 4, width: Int = 5, classes: Int = 3, seed: UInt64 = 1) -> SampleBlock {
        var rng = CounterRNG(seed: seed, stream: .test)
        let shape = SampleShape(channels: channels, height: height, width: width, classCount: classes)
        var b = SampleBlock(shape: shape)
        var rows: [Float] = []
        for i in 0..<n {
            for _ in 0..<shape.imageBytes { b.images.append(UInt8(truncatingIfNeeded: rng.nextUInt32())) }
            let lambda = Float(rng.uniform())
            var row = [Float](repeating: 0, count: classes)
            row[i % classes] += lambda
            row[(i + 1) % classes] += 1 - lambda
            rows += row
            b.provenance.append(Provenance(primary: UInt32(i), partner: UInt32(i + 1), lambda: lambda))
        }
        b.labels = .dense(rows)
        return b
    }

    /// `n` samples with sparse labels (MixShard v3) that keep every reader rule: every third
    /// sample a copy (one class, λ 1), the others blends of classes `i mod K` and `(i+1) mod K`
    /// with a drawn λ, each record's weight its provenance λ; smoothing `smoothing`.
    static func sparseBlock(n: Int, channels: Int = 3, height: Int = 4, width: Int = 5, classes: Int = 3,
                            smoothing: Float = 0.1, seed: UInt64 = 1) -> SampleBlock {
        var rng = CounterRNG(seed: seed, stream: .test)
        let shape = SampleShape(channels: channels, height: height, width: width, classCount: classes)
        var images: [UInt8] = [], records: [LabelRecord] = [], provenance: [Provenance] = []
        for i in 0..<n {
            for _ in 0..<shape.imageBytes { images.append(UInt8(truncatingIfNeeded: rng.nextUInt32())) }
            let lambda = Float(rng.uniform())
            if i % 3 == 0 {
                records.append(LabelRecord(classA: UInt32(i % classes), classB: UInt32(i % classes), weight: 1))
                provenance.append(Provenance(primary: UInt32(i), partner: UInt32(i), lambda: 1))
            } else {
                records.append(LabelRecord(classA: UInt32(i % classes), classB: UInt32((i + 1) % classes), weight: lambda))
                provenance.append(Provenance(primary: UInt32(i), partner: UInt32(i + 1), lambda: lambda))
            }
        }
        return SampleBlock(shape: shape, images: images, labels: .sparse(records, smoothing: smoothing), provenance: provenance)
    }

    /// The v3 golden block: `goldenAugmentedBlock`'s samples (references included) with sparse
    /// labels (classA, classB, weight) (1, 1, 1), (0, 2, ¼), (2, 1, the cutmix's λ), (0, 0, 1)
    /// and smoothing 0.1.
    static func goldenSparseAugmentedBlock() -> SampleBlock {
        var b = goldenAugmentedBlock()
        let p = b.provenance
        b.labels = .sparse([LabelRecord(classA: 1, classB: 1, weight: p[0].lambda), LabelRecord(classA: 0, classB: 2, weight: p[1].lambda),
                            LabelRecord(classA: 2, classB: 1, weight: p[2].lambda), LabelRecord(classA: 0, classB: 0, weight: p[3].lambda)],
                           smoothing: 0.1)
        return b
    }

    /// The v4 golden block: `goldenSparseAugmentedBlock` with op records (MixShard v4): sample 0, a
    /// reference, records one identity op; sample 1 (a blend) a resized crop, Rotate −12.5 and a
    /// brightness of +0.25 then a hue of −0.05 for its primary, Posterize 6 for its partner, and a
    /// zero-filled erasing; sample 2 (a cutmix) a random-filled erasing; sample 3 nothing. The
    /// pixels are the v3 block's: a format fixture, not the ops applied.
    static func goldenV4OpsBlock() -> SampleBlock {
        var b = goldenSparseAugmentedBlock()
        b.provenance[0].primaryOps = ImageOps(ops: [AppliedOp(.identity, 0)])
        b.provenance[0].partnerOps = b.provenance[0].primaryOps
        b.provenance[1].primaryOps = ImageOps(resizedCrop: CropBox(top: 0, left: 1, height: 2, width: 2),
                                              ops: [AppliedOp(.rotate, -12.5), AppliedOp(.brightness, 0.25), AppliedOp(.hue, -0.05)])
        b.provenance[1].partnerOps = ImageOps(ops: [AppliedOp(.posterize, 6)])
        b.provenance[1].erasing = Erasing(fill: .zero, box: CropBox(top: 1, left: 0, height: 1, width: 2))
        b.provenance[2].erasing = Erasing(fill: .random, box: CropBox(top: 0, left: 1, height: 1, width: 1))
        return b
    }

    /// `goldenBlock`'s images and provenance with sparse labels (2, 2, 1), (0, 1, ¼), (1, 1, 1) and no smoothing.
    static func goldenSparseBlock() -> SampleBlock {
        var b = goldenBlock()
        b.labels = .sparse([LabelRecord(classA: 2, classB: 2, weight: 1), LabelRecord(classA: 0, classB: 1, weight: 0.25),
                            LabelRecord(classA: 1, classB: 1, weight: 1)], smoothing: 0)
        return b
    }

    /// The golden block: 3 samples of 2×2×3 bytes, 3 classes, hand-chosen values.
    static func goldenBlock() -> SampleBlock {
        let shape = SampleShape(channels: 2, height: 2, width: 3, classCount: 3)
        return SampleBlock(
            shape: shape,
            images: Array(0..<12).map { UInt8($0 * 20) } + Array(repeating: 7, count: 12) + [255, 0, 255, 0, 1, 2, 3, 4, 250, 251, 9, 9],
            labels: [1, 0, 0, 0, 0.25, 0.75, 0, 0, 1],
            provenance: [Provenance(primary: 4, partner: 4, lambda: 1),
                         Provenance(primary: 0, partner: 9, lambda: 0.25),
                         Provenance(primary: 2, partner: 2, lambda: 1)])
    }

    /// The v2 golden source: 4 images of 2×2×3 bytes (what `goldenAugmentedBlock` references).
    static func goldenSourceImages() -> [UInt8] {
        (0..<48).map { UInt8(($0 * 37 + 11) % 256) }
    }

    /// The v2 golden source copy as a block (split `source`: one-hot labels of classes 0, 1, 2, 0; no provenance).
    static func goldenSourceBlock() -> SampleBlock {
        SampleBlock(shape: SampleShape(channels: 2, height: 2, width: 3, classCount: 3), images: goldenSourceImages(),
                    labels: [1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 0, 0])
    }

    /// The v2 golden block: 4 samples made from `goldenSourceImages` with every kind of record —
    /// a flipped and shifted copy stored as a reference, a blend of two transformed images,
    /// a cutmix with its box, and an identity copy stored as a reference.
    static func goldenAugmentedBlock() -> SampleBlock {
        let shape = SampleShape(channels: 2, height: 2, width: 3, classCount: 3)
        let src = goldenSourceImages()
        func transformed(_ i: Int, _ t: ImageTransform) -> [UInt8] {
            var out = [UInt8](repeating: 0, count: 12)
            src.withUnsafeBufferPointer { s in
                out.withUnsafeMutableBufferPointer { o in
                    t.apply(s.baseAddress! + 12 * i, into: o.baseAddress!, channels: 2, height: 2, width: 3)
                }
            }
            return out
        }
        let t0 = ImageTransform(dx: 1, dy: 0, flip: true)
        let t1a = ImageTransform(dx: -1, dy: 1, flip: false), t1b = ImageTransform(dx: 0, dy: 0, flip: true)
        let a = transformed(0, t1a), b = transformed(3, t1b)
        let blended = zip(a, b).map { UInt8((0.25 * Float($0) + 0.75 * Float($1)).rounded(.toNearestOrAwayFromZero)) }
        var cut = transformed(2, .identity)
        let partner = transformed(1, .identity)
        for c in 0..<2 { for x in 1..<3 { cut[c * 6 + x] = partner[c * 6 + x] } }  // box [1,3)×[0,1)
        let kept = Float(4) / 6
        let images = transformed(1, t0) + blended + cut + transformed(3, .identity)
        return SampleBlock(
            shape: shape, images: images,
            labels: [0, 1, 0, 0.75, 0, 0.25, 0, 1 - kept, kept, 1, 0, 0],
            provenance: [
                Provenance(primary: 1, partner: 1, lambda: 1, kind: .copy, primaryTransform: t0, isReference: true),
                Provenance(primary: 0, partner: 3, lambda: 0.25, kind: .blend, primaryTransform: t1a, partnerTransform: t1b),
                Provenance(primary: 2, partner: 1, lambda: kept, kind: .cutmix, box: CutBox(x0: 1, y0: 0, x1: 3, y1: 1)),
                Provenance(primary: 3, partner: 3, lambda: 1, kind: .copy, isReference: true),
            ])
    }

    /// Writes `bytes` to `path`, opens it and reads every chunk; asserts that this fails with
    /// one line naming the file, and returns that line.
    static func readFailure(_ bytes: [UInt8], at path: String, file: StaticString, line: UInt) throws -> String {
        try FileIO.writeAtomically(path, bytes)
        do {
            _ = try ShardReader(path: path).readAll()
            XCTFail("bad shard accepted", file: file, line: line)
            return ""
        } catch let e as MixError {
            XCTAssertTrue(e.message.hasPrefix(path + ": "), "error does not name the file: \(e.message)", file: file, line: line)
            XCTAssertFalse(e.message.contains("\n"), file: file, line: line)
            return e.message
        }
    }

    static func temporaryDirectory(_ name: String = #function) throws -> String {
        let dir = NSTemporaryDirectory() + "mixshards-tests-\(name.filter { $0.isLetter || $0.isNumber })-\(getpid())"
        try? FileManager.default.removeItem(atPath: dir)
        try FileIO.makeDirectories(dir)
        return dir
    }

    static var goldenDirectory: String {
        Bundle.module.path(forResource: "Golden", ofType: nil)!
    }
}

extension SampleBlock {
    /// The dense rows, editable: setting them stores dense labels.
    var denseRows: [Float] {
        get { rows }
        set { labels = .dense(newValue) }
    }
}
