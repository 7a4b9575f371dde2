@testable import Prep
import Datasets
import Foundation
import MixCore
import Mixup
import Pipeline
import ShardStore
import ShardFormat
import TestSupport
import XCTest

/// `augment.random_erasing` end to end (issue 20): MixShard v4 op records, every pixel recomputed
/// from source + provenance by DESIGN.md's definitions, byte-identical shards at any thread count
/// and worker split, and `verify`'s rule 13.
final class RandomErasingTests: XCTestCase {
    static func pipeline(mode: String, value: String, references: Bool = true) throws -> Pipeline {
        var pl = try PrepFixtures.pipeline(epochs: 2, mode: mode, p: 0.5, samplesPerShard: 250, trainLimit: 500)
        pl = try Pipeline.parse("""
            name = "test"
            seed = 3
            [dataset]
            path = "\(PrepFixtures.mini)"
            train_limit = 500
            [augment]
            crop_pad = 4
            flip = true
            random_erasing = {p = 0.5, scale = [0.02, 0.33], ratio = [0.3, 3.3], value = \(value)}
            [mix]
            mode = "\(mode)"
            p = 0.5
            alpha = 0.4
            [shards]
            epochs = 2
            samples_per_shard = 250
            samples_per_chunk = 64
            references = \(references)
            """)
        return pl
    }

    /// Pixel (c, y, x) of training position k of `epoch` from its record, by DESIGN.md: the mix of
    /// the transformed images (`AugmentProvenanceTests.recompute`, itself written from DESIGN), then,
    /// inside the erased box, 0 or byte number (c·h + (y − top))·w + (x − left) of the box's fill:
    /// the top 8 bits of `next()` of the stream (seed, 12, epoch, k) — `uniformInt(256)`.
    static func recompute(_ p: Provenance, source: LabeledImages, fill: [UInt8], c: Int, y: Int, x: Int) -> UInt8 {
        let e = p.erasing.box
        let (top, left, h, w) = (Int(e.top), Int(e.left), Int(e.height), Int(e.width))
        if p.erasing.fill != nil && (top..<(top + h)).contains(y) && (left..<(left + w)).contains(x) {
            return p.erasing.fill == .zero ? 0 : fill[(c * h + (y - top)) * w + (x - left)]
        }
        return AugmentProvenanceTests.recompute(p, source: source, c: c, y: y, x: x)
    }

    func testEveryPixelOfAnErasedEpochRecomputesFromSourceAndProvenance() throws {
        let source = try Dataset.load(PrepFixtures.mini).train.prefix(500)
        for (mode, value) in [("cutmix", "\"random\""), ("sample", "0")] {
            let dir = try PrepFixtures.temporaryDirectory(name + mode)
            let pl = try Self.pipeline(mode: mode, value: value)
            _ = try PrepRunner.run(pl, options: PrepOptions(outDirectory: dir, threads: 2, quiet: true))
            let manifest = try Manifest.load(directory: dir)
            XCTAssertEqual(manifest.formatVersion, 4)
            XCTAssertEqual(try TestSupport.manifestSchemaProblems(directory: dir), [])
            XCTAssertEqual(try Verifier.verify(directory: dir, threads: 2).problems, [], mode)
            let copy = try XCTUnwrap(manifest.openSourceCopy(directory: dir))
            var erased = 0, references = 0, total = 0, erasedReferences = 0
            for epoch in manifest.train {
                var position = 0
                for shard in epoch.shards {
                    let reader = try ShardReader(path: dir + "/" + shard.file, source: copy)
                    XCTAssertEqual(reader.header.version, 4)
                    let block = try reader.readAll()
                    for s in 0..<block.count {
                        let p = block.provenance[s]
                        total += 1
                        if p.isReference { references += 1 }
                        var fill: [UInt8] = []
                        if let f = p.erasing.fill {
                            erased += 1
                            if p.isReference { erasedReferences += 1 }
                            XCTAssertEqual(f, value == "0" ? .zero : .random)
                            var rng = CounterRNG(seed: 3, stream: .erasingValues, epoch: UInt32(epoch.epoch), position: UInt32(position + s))
                            fill = (0..<(3 * Int(p.erasing.box.height) * Int(p.erasing.box.width))).map { _ in UInt8(rng.next() >> 56) }
                        }
                        XCTAssertEqual(p.primaryOps, .none)
                        for j in 0..<3072 {
                            let want = Self.recompute(p, source: source, fill: fill, c: j / 1024, y: (j % 1024) / 32, x: j % 32)
                            if block.images[s * 3072 + j] != want {
                                XCTFail("\(mode) epoch \(epoch.epoch) position \(position + s): pixel \(j) is \(block.images[s * 3072 + j]), DESIGN gives \(want)")
                                return
                            }
                        }
                    }
                    position += block.count
                }
            }
            // p = 0.5 of 1,000 samples (nearly every draw finds a box on 32×32): 4σ ≈ 63.
            XCTAssertLessThan(abs(erased - 500), 64, mode)
            XCTAssertGreaterThan(references, 100, mode)
            XCTAssertEqual(erasedReferences, 0, "an erased sample stores its pixels")
        }
    }

    /// Byte-identical shards at 1 and 2 threads and across a worker split, random erasing on.
    func testThreadCountsAndWorkerSplitsGiveIdenticalBytesWithErasing() throws {
        let base = try PrepFixtures.temporaryDirectory(name)
        let p = try Self.pipeline(mode: "cutmix", value: "\"random\"")
        let (t1, t2, split) = try PrepFixtures.threadAndWorkerSnapshots(p, in: base)
        XCTAssertEqual(t1.count, 2 * 2 + 2 + 1 + 2) // 2 epochs × 2 shards, 2 test shards, the source copy, manifest and prep.json
        XCTAssertEqual(t1, t2)
        XCTAssertEqual(t1, split)
    }

    /// `export` names each sample's ops in index.md (a column only v4 exports have) and its caption.
    func testExportShowsTheOps() throws {
        let dir = try PrepFixtures.temporaryDirectory(name)
        _ = try PrepRunner.run(try Self.pipeline(mode: "cutmix", value: "0"), options: PrepOptions(outDirectory: dir, quiet: true))
        let out = dir + "/export"
        _ = try Exporter.export(ExportRequest(directory: dir, outDirectory: out, epoch: 0, count: 8, positions: Array(0..<8),
                                              mixedOnly: false, scale: 2, columns: 4))
        let md = String(decoding: try FileIO.read(out + "/index.md"), as: UTF8.self)
        XCTAssertTrue(md.contains("| shard | ops |\n|---:|---|---:|---:|---:|---|---|---|---|---|---|\n"), md)
        let manifest = try Manifest.load(directory: dir)
        let block = try ShardReader(path: dir + "/" + manifest.train[0].shards[0].file, source: try manifest.openSourceCopy(directory: dir)).readAll()
        let rows = md.split(separator: "\n").filter { $0.hasPrefix("| ") && $0.contains("[png]") }
        XCTAssertEqual(rows.count, 8)
        for (k, row) in rows.enumerated() {
            let p = block.provenance[k]
            let want = p.hasOps ? p.opsSummary.replacingOccurrences(of: "|", with: "\\|") : "–"
            XCTAssertTrue(row.hasSuffix(" \(want) |"), "position \(k): \(row)")
            if let fill = p.erasing.fill {
                XCTAssertEqual(fill, .zero)
                XCTAssertEqual(Exporter.opsCaption(p), " E")
                XCTAssertTrue(row.contains("erase zero (\(p.erasing.box.top),\(p.erasing.box.left),\(p.erasing.box.height)×\(p.erasing.box.width))"))
            }
        }
        XCTAssertTrue(block.provenance[0..<8].contains { $0.hasOps }, "some of the first 8 samples are erased")
    }

    /// Without the new keys, a pipeline's shards stay v3, byte for byte what they were.
    func testPipelinesWithoutNewOpsStayV3() throws {
        var pl = try PrepFixtures.pipeline(epochs: 1, samplesPerShard: 250, trainLimit: 250)
        pl.augment = AugmentConfig(cropPad: 4, flip: true)
        XCTAssertFalse(pl.augment.recordsOps)
        let dir = try PrepFixtures.temporaryDirectory(name)
        _ = try PrepRunner.run(pl, options: PrepOptions(outDirectory: dir, quiet: true))
        XCTAssertEqual(try Manifest.load(directory: dir).formatVersion, 3)
        XCTAssertEqual(try ShardReader(path: dir + "/train/epoch-000/shard-00000.mxs").header.version, 3)
    }

    /// `--format-version 2` cannot record ops.
    func testFormatVersionTwoRefusesOps() throws {
        let dir = try PrepFixtures.temporaryDirectory(name)
        XCTAssertThrowsError(try PrepRunner.run(try Self.pipeline(mode: "sample", value: "0"),
                                                options: PrepOptions(outDirectory: dir, quiet: true, formatVersion: 2))) {
            XCTAssertEqual("\($0)", "--format-version 2 cannot record the [augment] ops of this pipeline (random_resized_crop, "
                           + "color_jitter, trivial_augment, rand_augment, random_erasing need v4)")
        }
    }
}
