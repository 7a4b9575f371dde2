import Datasets
import Foundation
import MixCore
import Mixup
import Pipeline
import ShardStore
import Prep
import ShardFormat
import TestSupport
import XCTest

/// MixShard v2: every stored pixel recomputes from the source and the sample's provenance alone.
final class AugmentProvenanceTests: XCTestCase {
    func pipeline(mode: String, p: Double = 0.5, references: Bool) throws -> Pipeline {
        var pl = try PrepFixtures.pipeline(epochs: 2, mode: mode, p: p, samplesPerShard: 250, trainLimit: 500)
        pl.augment = AugmentConfig(cropPad: 4, flip: true)
        pl.shards.references = references
        return pl
    }

    /// Pixel (c, y, x) of a sample, from its record by the definitions in DESIGN.md — not by `Mixer`.
    static func recompute(_ p: Provenance, source: LabeledImages, c: Int, y: Int, x: Int) -> UInt8 {
        let (h, w) = (source.height, source.width)
        func at(_ i: UInt32, _ t: ImageTransform) -> UInt8 {
            t.pixel({ source.images[Int(i) * 3072 + $0 * h * w + $1 * w + $2] }, c: c, y: y, x: x, height: h, width: w)
        }
        let a = at(p.primary, p.primaryTransform)
        switch p.kind {
        case .copy: return a
        case .cutmix:
            let inBox = (Int(p.box.x0)..<Int(p.box.x1)).contains(x) && (Int(p.box.y0)..<Int(p.box.y1)).contains(y)
            return inBox ? at(p.partner, p.partnerTransform) : a
        case .blend:
            let b = at(p.partner, p.partnerTransform)
            let v = p.lambda * Float(a) + (1 - p.lambda) * Float(b)
            return UInt8(v.rounded(.toNearestOrAwayFromZero))
        }
    }

    func testEveryPixelOfAnAugmentedEpochRecomputesFromSourceAndProvenance() throws {
        let source = try Dataset.load(PrepFixtures.mini).train.prefix(500)
        for mode in ["sample", "batch", "cutmix", "none"] {
            let dir = try PrepFixtures.temporaryDirectory(name + mode)
            _ = try PrepRunner.run(try pipeline(mode: mode, references: true), options: PrepOptions(outDirectory: dir, threads: 2, quiet: true))
            let manifest = try Manifest.load(directory: dir)
            XCTAssertEqual(manifest.formatVersion, 3)
            XCTAssertEqual(try TestSupport.manifestSchemaProblems(directory: dir), [])
            let copy = try XCTUnwrap(manifest.openSourceCopy(directory: dir))
            var kinds = [MixKind: Int](), flipped = 0, references = 0
            for epoch in manifest.train {
                for shard in epoch.shards {
                    let block = try ShardReader(path: dir + "/" + shard.file, source: copy).readAll()
                    for s in 0..<block.count {
                        let p = block.provenance[s]
                        kinds[p.kind, default: 0] += 1
                        if p.primaryTransform.flip { flipped += 1 }
                        if p.isReference { references += 1 }
                        XCTAssertTrue(abs(Int(p.primaryTransform.dx)) <= 4 && abs(Int(p.primaryTransform.dy)) <= 4)
                        for j in 0..<3072 {
                            let want = Self.recompute(p, source: source, c: j / 1024, y: (j % 1024) / 32, x: j % 32)
                            if block.images[s * 3072 + j] != want {
                                return XCTFail("\(mode) epoch \(epoch.epoch) \(shard.file) sample \(s) (\(p)): pixel \(j) is \(block.images[s * 3072 + j]), recomputed \(want)")
                            }
                        }
                    }
                }
            }
            XCTAssertLessThan(abs(flipped - 500), 100, mode)   // 1,000 samples, flip with probability 1/2
            XCTAssertEqual(references, kinds[.copy] ?? 0, "\(mode): every unmixed sample is stored as a reference")
            XCTAssertEqual(manifest.summary.references, references)
            XCTAssertEqual(manifest.summary.flipped, flipped)
            if mode == "none" { XCTAssertEqual(kinds[.copy], 1000) }
            if mode == "cutmix" { XCTAssertGreaterThan(kinds[.cutmix] ?? 0, 350) } else if mode != "none" { XCTAssertGreaterThan(kinds[.blend] ?? 0, 350) }
        }
    }

    /// With augmentation and references: the same bytes for any thread count or worker split, the
    /// source copy uncompressed or compressed (v3).
    func testAugmentedReferenceShardsAreDeterministicAcrossThreadsAndWorkers() throws {
        for codec in [Codec.none, .zlib] {
            var p = try pipeline(mode: "sample", p: 0.3, references: true)
            p.shards.sourceCodec = codec
            try checkDeterminism(p, base: try PrepFixtures.temporaryDirectory(name + "-\(codec)"))
        }
    }

    func checkDeterminism(_ p: Pipeline, base: String) throws {
        _ = try PrepRunner.run(p, options: PrepOptions(outDirectory: base + "/t1", threads: 1, quiet: true))
        _ = try PrepRunner.run(p, options: PrepOptions(outDirectory: base + "/t2", threads: 2, quiet: true))
        _ = try PrepRunner.run(p, options: PrepOptions(outDirectory: base + "/w", threads: 2, worker: WorkerSlot(index: 1, count: 3), quiet: true))
        _ = try PrepRunner.run(p, options: PrepOptions(outDirectory: base + "/w", threads: 1, worker: WorkerSlot(index: 2, count: 3), quiet: true))
        _ = try PrepRunner.run(p, options: PrepOptions(outDirectory: base + "/w", threads: 1, worker: WorkerSlot(index: 0, count: 3), quiet: true))
        try PrepRunner.finalize(directory: base + "/w", threads: 2, quiet: true)
        let t1 = try PrepFixtures.snapshot(base + "/t1")
        XCTAssertNotNil(t1[MixShardLayout.sourceFile])
        XCTAssertEqual(try ShardReader(path: base + "/t1/" + MixShardLayout.sourceFile).header.codec, p.shards.sourceCodec)
        XCTAssertEqual(t1.count, 1 + 2 * 2 + 2 + 2) // source copy, 2 epochs × 2 shards, 2 test shards, manifest, prep.json
        XCTAssertEqual(t1, try PrepFixtures.snapshot(base + "/t2"))
        XCTAssertEqual(t1, try PrepFixtures.snapshot(base + "/w"))
        // A rerun keeps every shard (checked against the images in memory) and writes nothing.
        let again = try PrepRunner.run(p, options: PrepOptions(outDirectory: base + "/t1", threads: 2, quiet: true))
        XCTAssertTrue(again.alreadyComplete)
    }

    /// Augmentation off gives the pixels and labels of mixshards 0.2 (MixShard v1): only the storage
    /// changed. The digest was taken from the 0.2 binary's `inspect --dump` of this pipeline's two shards
    /// (images then float32 labels of each shard, in order).
    func testWithoutAugmentationThePixelsAndLabelsAreThoseOfV1() throws {
        let base = try PrepFixtures.temporaryDirectory(name)
        var p = try PrepFixtures.pipeline(epochs: 1, mode: "cutmix", p: 0.5, samplesPerShard: 250, trainLimit: 500)
        p.shards.references = true
        _ = try PrepRunner.run(p, options: PrepOptions(outDirectory: base, threads: 2, quiet: true))
        let copy = try Manifest.load(directory: base).openSourceCopy(directory: base)
        XCTAssertNotNil(copy)
        var bytes: [UInt8] = []
        for s in 0..<2 {
            let block = try ShardReader(path: base + "/train/epoch-000/shard-0000\(s).mxs", source: copy).readAll()
            bytes += block.images
            for v in block.rows { withUnsafeBytes(of: v.bitPattern.littleEndian) { bytes += $0 } }
        }
        XCTAssertEqual(SHA256.hex(SHA256.hash(bytes)), "a289d4624ebbab812851edc786ed6c4f4aa8f5c5f204df5964e8e2ee5de90853")
    }
}
