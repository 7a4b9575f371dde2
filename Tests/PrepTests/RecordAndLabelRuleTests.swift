import Datasets
import Foundation
import MixCore
import Mixup
import Pipeline
import Prep
import ShardFormat
import ShardStore
import TestSupport
import XCTest

/// Issue 22, items 5 and 6: records and label rows the format's bytes allow but the
/// pipeline cannot have written. Each directory is forged as a careful forger would:
/// one sample's record or label row edited, the shard re-encoded (fresh CRCs), and the
/// manifest's SHA-256, size and statistics made to match, so only the new rules can
/// tell. Before them, `mixprep verify` said OK to each, and `mixtrain train` trained on
/// them (a row `[3e38, −3e38, 1, 0, …]` gave a train loss of 5.8e34).
final class RecordAndLabelRuleTests: XCTestCase {
    var base = ""

    override func setUpWithError() throws {
        base = try PrepFixtures.temporaryDirectory(name)
    }

    /// 300 training images of the embedded data, one epoch (shards of 100 in chunks of 64, so shard 0
    /// has chunks 0 and 1), mixed with p 0.5; a small network so that `mixtrain train` takes a moment.
    func pipeline(mode: String = "sample", cropPad: Int = 0, flip: Bool = false, smoothing: Double = 0, references: Bool = false,
                  epochs: Int = 1) throws -> Pipeline {
        var p = try PrepFixtures.pipeline(epochs: epochs, mode: mode, p: 0.5, samplesPerShard: 100, trainLimit: 300)
        p.augment = AugmentConfig(cropPad: cropPad, flip: flip)
        p.mix.smoothing = smoothing
        p.shards.references = references
        p.train.widths = [8, 8, 8, 8]
        p.train.hidden = 16
        p.train.batch = 32
        p.train.epochs = 1
        return p
    }

    /// A directory of `pipeline` in MixShard `version` (made once per name) with sample `sample` of
    /// `file` edited by `edit`: its provenance record and its dense label row (v2 directories
    /// only: a v3 shard stores a sparse label record, which `record` edits, and whose weight the
    /// forger keeps equal to the edited record's λ, as every reader requires).
    func forged(_ name: String, _ pipeline: Pipeline, file: String = "train/epoch-000/shard-00000.mxs", sample: Int, version: Int = 3,
                labelSmoothing: Float? = nil, edit: (inout Provenance, inout [Float]) -> Void,
                record: (inout LabelRecord) -> Void = { _ in }) throws -> String {
        let dir = base + "/" + name
        _ = try PrepRunner.run(pipeline, options: PrepOptions(outDirectory: dir, threads: 2, quiet: true, formatVersion: version))
        var m = try Manifest.load(directory: dir)
        XCTAssertEqual(m.formatVersion, version)
        let source = try m.openSourceCopy(directory: dir)
        let reader = try ShardReader(path: dir + "/" + file, source: source)
        var block = try reader.readAll()
        let k = block.shape.classCount
        var row = Array(block.rows[(sample * k)..<((sample + 1) * k)])
        let before = row
        edit(&block.provenance[sample], &row)
        switch block.labels {
        case .dense(var rows):
            rows.replaceSubrange((sample * k)..<((sample + 1) * k), with: row)
            block.labels = .dense(rows)
        case .sparse(var records, let smoothing):
            XCTAssertEqual(row, before, "a v3 shard's label is a record: edit rows in a v2 directory")
            records[sample].weight = block.provenance[sample].lambda
            record(&records[sample])
            block.labels = .sparse(records, smoothing: labelSmoothing ?? smoothing)
        }
        let h = reader.header
        let encoding = m.pipeline.encoding(for: h.split, shape: block.shape, version: h.version)
        let bytes = ShardWriter.encode(block, encoding: encoding, split: h.split, epoch: h.epoch, shardIndex: h.shardIndex)
        try FileIO.writeAtomically(dir + "/" + file, bytes)
        // The manifest made to agree: the file's size and hash, and every statistic.
        func relisted(_ entries: [ShardEntry]) throws -> ([ShardEntry], ShardStats) {
            var stats = ShardStats(classCount: k)
            let listed = try entries.map { e -> ShardEntry in
                guard e.file == file else {
                    stats.merge(ShardStats(of: try ShardReader(path: dir + "/" + e.file, source: source).readAll()))
                    return e
                }
                stats.merge(ShardStats(of: block))
                return ShardEntry(file: e.file, samples: e.samples, bytes: bytes.count, sha256: bytes.withUnsafeBytes { SHA256.hexDigest(of: $0) })
            }
            return (listed, stats)
        }
        // (Statistics JSON cannot hold, a NaN weight's, stay as they were: the shard fails first anyway.)
        func restated(_ old: ShardStats, _ new: ShardStats) -> ShardStats { new.labelMass.allSatisfy(\.isFinite) ? new : old }
        var summary = ShardStats(classCount: k)
        for e in m.train.indices {
            let (shards, stats) = try relisted(m.train[e].shards)
            (m.train[e].shards, m.train[e].stats) = (shards, restated(m.train[e].stats, stats))
            summary.merge(stats)
        }
        m.summary = restated(m.summary, summary)
        let (shards, stats) = try relisted(m.test.shards)
        (m.test.shards, m.test.stats) = (shards, restated(m.test.stats, stats))
        try FileIO.writeAtomically(dir + "/" + Manifest.fileName, try m.encoded())
        return dir
    }

    /// The first sample of `file` in `dir` whose record is of `kind`.
    func first(_ kind: MixKind, in dir: String, file: String = "train/epoch-000/shard-00000.mxs") throws -> (Int, Provenance) {
        let source = try Manifest.load(directory: dir).openSourceCopy(directory: dir)
        let block = try ShardReader(path: dir + "/" + file, source: source).readAll()
        let s = try XCTUnwrap(block.provenance.firstIndex { $0.kind == kind })
        return (s, block.provenance[s])
    }

    /// `verify` (the library and `mixprep verify`) finds exactly `expected`, each one line.
    func assertVerify(_ dir: String, _ expected: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(try Verifier.verify(directory: dir, threads: 2).problems, expected, file: file, line: line)
        let r = try PrepFixtures.run(["verify", dir])
        XCTAssertEqual(r.status, 1, file: file, line: line)
        let lines = r.err.split(separator: "\n").map(String.init).filter { $0.hasPrefix("error: ") }
        XCTAssertEqual(lines, expected.map { "error: " + $0 }, file: file, line: line)
    }

    /// The sample `s` of a directory made once per name, and the directory, for edits of `pipeline`'s shard 0.
    func forge(_ name: String, _ pipeline: Pipeline, kind: MixKind, version: Int = 3, labelSmoothing: Float? = nil,
               edit: (inout Provenance, inout [Float]) -> Void, record: (inout LabelRecord) -> Void = { _ in }) throws -> (dir: String, sample: Int) {
        let probe = base + "/probe-" + name
        _ = try PrepRunner.run(pipeline, options: PrepOptions(outDirectory: probe, threads: 2, quiet: true, formatVersion: version))
        let (s, _) = try first(kind, in: probe)
        return (try forged(name, pipeline, sample: s, version: version, labelSmoothing: labelSmoothing, edit: edit, record: record), s)
    }

    func testVerifyHoldsTransformsToThePipelinesAugment() throws {
        let shard = "train/epoch-000/shard-00000.mxs"
        // A copy shifted by (31, 31) under crop_pad = 4 (the reader allows any shift within the 32×32 image).
        var (dir, s) = try forge("shift", try pipeline(cropPad: 4, flip: true), kind: .copy) { p, _ in
            p.primaryTransform = ImageTransform(dx: 31, dy: 31, flip: false)
            p.partnerTransform = p.primaryTransform
        }
        try assertVerify(dir, ["\(dir)/\(shard): chunk \(s / 64): sample \(s): provenance: transforms (31, 31) and (31, 31) are not "
                               + "drawn by the pipeline's augment (crop_pad 4, flip true)"])
        // Flip bits when flip = false.
        (dir, s) = try forge("flip", try pipeline(cropPad: 4, flip: false), kind: .copy) { p, _ in
            p.primaryTransform.flip = true
            p.partnerTransform = p.primaryTransform
        }
        let t = try first(.copy, in: dir).1.primaryTransform
        try assertVerify(dir, ["\(dir)/\(shard): chunk \(s / 64): sample \(s): provenance: transforms (\(t.dx), \(t.dy), flipped) and "
                               + "(\(t.dx), \(t.dy), flipped) are not drawn by the pipeline's augment (crop_pad 4, flip false)"])
        // A mixed sample's partner shifted beyond the pad.
        (dir, s) = try forge("partner", try pipeline(cropPad: 2), kind: .blend) { p, _ in p.partnerTransform.dx = -3 }
        let q = try first(.blend, in: dir).1
        XCTAssertEqual(q.partnerTransform.dx, -3)
        try assertVerify(dir, ["\(dir)/\(shard): chunk \(s / 64): sample \(s): provenance: transforms (\(q.primaryTransform.dx), "
                               + "\(q.primaryTransform.dy)) and (-3, \(q.partnerTransform.dy)) are not drawn by the pipeline's augment (crop_pad 2, flip false)"])
    }

    func testVerifyKeepsPrimaryAndPartnerInsideTheSource() throws {
        let shard = "train/epoch-000/shard-00000.mxs"
        var (dir, s) = try forge("beyond", try pipeline(), kind: .blend) { p, _ in (p.primary, p.partner) = (5000, 6000) }
        try assertVerify(dir, ["\(dir)/\(shard): chunk \(s / 64): sample \(s): provenance: primary 5000 is not a training image (the source has 300)"])
        (dir, s) = try forge("partner", try pipeline(), kind: .blend) { p, _ in p.partner = 300 }
        try assertVerify(dir, ["\(dir)/\(shard): chunk \(s / 64): sample \(s): provenance: partner 300 is not a training image (the source has 300)"])
        // Test position k holds test image k, unmixed and untransformed: sample 70 of test shard 1 is position 170.
        dir = try forged("test", try pipeline(), file: "test/shard-00001.mxs", sample: 70) { p, _ in
            p.primary = 3
            p.partner = 3
        }
        try assertVerify(dir, ["\(dir)/test/shard-00001.mxs: chunk 1: sample 70: provenance: test position 170 must hold test image 170, "
                               + "unmixed and untransformed"])
    }

    func testVerifyHoldsKindsToTheMixModeAndCutMixLambdaToItsBox() throws {
        let shard = "train/epoch-000/shard-00000.mxs"
        // CutMix λ = 1 with a box over the whole image: pixels all from the partner, label all from the primary.
        var (dir, s) = try forge("full", try pipeline(mode: "cutmix"), kind: .cutmix) { p, _ in
            p.lambda = 1
            p.box = CutBox(x0: 0, y0: 0, x1: 32, y1: 32)
        }
        try assertVerify(dir, ["\(dir)/\(shard): chunk \(s / 64): sample \(s): provenance: cutmix box [0, 32) × [0, 32) leaves lambda 0 "
                               + "of the primary, the record says 1"])
        // A λ one ulp from the box's: the rule is bit for bit (the writer's division).
        var box = CutBox.empty
        var lambda: Float = 0
        (dir, s) = try forge("ulp", try pipeline(mode: "cutmix"), kind: .cutmix) { p, _ in
            (box, lambda) = (p.box, p.lambda.nextUp)
            p.lambda = lambda
        }
        let kept = Float(1024 - box.area) / 1024
        XCTAssertEqual(lambda, kept.nextUp)
        try assertVerify(dir, ["\(dir)/\(shard): chunk \(s / 64): sample \(s): provenance: cutmix box [\(box.x0), \(box.x1)) × [\(box.y0), "
                               + "\(box.y1)) leaves lambda \(Wording.float(kept)) of the primary, the record says \(Wording.float(lambda))"])
        (dir, s) = try forge("empty", try pipeline(mode: "cutmix"), kind: .cutmix) { p, _ in
            p.box = CutBox(x0: 5, y0: 0, x1: 5, y1: 9)
            p.lambda = 1
        }
        try assertVerify(dir, ["\(dir)/\(shard): chunk \(s / 64): sample \(s): provenance: cutmix box [5, 5) × [0, 9) is empty"])
        // Kinds the mode does not make: a cutmix in sample mode, a blend in cutmix mode with λ ≠ 1.
        (dir, s) = try forge("kind", try pipeline(mode: "sample"), kind: .blend) { p, _ in
            p.kind = .cutmix
            p.box = CutBox(x0: 0, y0: 0, x1: 16, y1: 32)
            p.lambda = 0.5
        }
        try assertVerify(dir, ["\(dir)/\(shard): chunk \(s / 64): sample \(s): provenance: a cutmix, but mix.mode \"sample\" blends"])
        (dir, s) = try forge("blend", try pipeline(mode: "cutmix"), kind: .cutmix) { p, _ in
            p.kind = .blend
            p.box = .empty
            p.lambda = 0.75
        }
        try assertVerify(dir, ["\(dir)/\(shard): chunk \(s / 64): sample \(s): provenance: a blend of lambda 0.75, but mix.mode \"cutmix\" "
                               + "blends only with lambda 1 (a box without pixels)"])
    }

    /// Rows that sum to 1 in float32 but are no distribution: every reader refuses them, so they
    /// cannot reach training (`mixtrain train` trained on the first with a loss of 5.8e34).
    func testEveryReaderRefusesLabelWeightsOutsideZeroToOne() throws {
        let shard = "train/epoch-000/shard-00000.mxs"
        let cases: [(String, [Float], String)] = [("huge", [3e38, -3e38, 1], "label weight 3e+38 of class 0 is not in [0, 1]"),
                                                  ("negative", [2, -1], "label weight 2 of class 0 is not in [0, 1]"),
                                                  ("nan", [0.5, .nan, 0.5], "label weight nan of class 1 is not in [0, 1]")]
        for (name, weights, expected) in cases {
            let (dir, s) = try forge(name, try pipeline(), kind: .copy, version: 2) { _, row in
                row = Array(repeating: 0, count: row.count)
                row.replaceSubrange(0..<weights.count, with: weights)
            }
            let message = "\(dir)/\(shard): chunk \(s / 64): sample \(s): \(expected)"
            try assertVerify(dir, [message])
            let r = try TestSupport.run(TestSupport.executable("mixtrain"), ["train", dir, "--out", base + "/run-" + name])
            XCTAssertEqual(r.status, 1, r.err)
            XCTAssertEqual(r.err.split(separator: "\n").filter { $0.hasPrefix("error") }, ["error: \(message)"], r.err)
        }
    }

    /// A row in range that sums to 1 but is not what its provenance gives: the labels of the
    /// source images come from the source copy, the file lists, or the rows before it.
    func testLabelRowsFollowFromTheirProvenance() throws {
        let names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
        let labels = try Dataset.load(PrepFixtures.mini).train.labels
        let shard = "train/epoch-000/shard-00000.mxs"
        // With a source copy (references): a copy whose one-hot names the next class.
        var primary: UInt32 = 0
        var (dir, s) = try forge("copy", try pipeline(references: true), kind: .copy, version: 2) { p, row in
            primary = p.primary
            row = Array(repeating: 0, count: row.count)
            row[(Int(labels[Int(p.primary)]) + 1) % 10] = 1
        }
        var y = names[Int(labels[Int(primary)])]
        try assertVerify(dir, ["\(dir)/\(shard): chunk \(s / 64): sample \(s): label row does not follow from its provenance: "
                               + "source image \(primary) (\(y)) with lambda 1 and smoothing 0 gives \(y) 1 and 0 elsewhere "
                               + "(the row of source/train.mxs chunk 0 sample \(primary) made source image \(primary) \(y))"])
        // Smoothing 0.1: one weight one ulp off. The rule is bit for bit.
        (dir, s) = try forge("ulp", try pipeline(smoothing: 0.1, references: true), kind: .copy, version: 2) { p, row in
            primary = p.primary
            row[0] = row[0].nextUp
        }
        y = names[Int(labels[Int(primary)])]
        try assertVerify(dir, ["\(dir)/\(shard): chunk \(s / 64): sample \(s): label row does not follow from its provenance: "
                               + "source image \(primary) (\(y)) with lambda 1 and smoothing 0.1 gives \(y) 0.90999997 and 0.01 elsewhere "
                               + "(the row of source/train.mxs chunk 0 sample \(primary) made source image \(primary) \(y))"])
        // A blend whose weights are swapped between primary and partner.
        var record = Provenance(primary: 0, partner: 0, lambda: 1)
        (dir, s) = try forge("swapped", try pipeline(references: true), kind: .blend, version: 2) { p, row in
            record = p
            let (a, b) = (Int(labels[Int(p.primary)]), Int(labels[Int(p.partner)]))
            if a != b { (row[a], row[b]) = (row[b], row[a]) }
        }
        let (a, b) = (names[Int(labels[Int(record.primary)])], names[Int(labels[Int(record.partner)])])
        XCTAssertNotEqual(a, b, "the first blend of the fixture mixes two classes")
        let w = (Float(0) + record.lambda, Float(0) + (1 - record.lambda))
        try assertVerify(dir, ["\(dir)/\(shard): chunk \(s / 64): sample \(s): label row does not follow from its provenance: "
                               + "source images \(record.primary) (\(a)) and \(record.partner) (\(b)) with lambda \(Wording.float(record.lambda)) "
                               + "and smoothing 0 give \(a) \(Wording.float(w.0)), \(b) \(Wording.float(w.1)) and 0 elsewhere "
                               + "(the row of source/train.mxs chunk 0 sample \(record.primary) made source image \(record.primary) \(a); "
                               + "the row of source/train.mxs chunk 0 sample \(record.partner) made source image \(record.partner) \(b))"])
        // Without a source copy the first row that determines an image's class gives it: a copy of
        // epoch 1 relabelled contradicts what epoch 0 made of its image.
        let second = "train/epoch-001/shard-00000.mxs"
        let p2 = try pipeline(epochs: 2)
        let probe = base + "/probe-derived"
        _ = try PrepRunner.run(p2, options: PrepOptions(outDirectory: probe, threads: 2, quiet: true, formatVersion: 2))
        let (s2, copy) = try first(.copy, in: probe, file: second)
        dir = try forged("derived", p2, file: second, sample: s2, version: 2) { p, row in
            row = Array(repeating: 0, count: row.count)
            row[(Int(labels[Int(p.primary)]) + 1) % 10] = 1
        }
        y = names[Int(labels[Int(copy.primary)])]
        let problems = try Verifier.verify(directory: dir, threads: 2).problems
        XCTAssertEqual(problems.count, 1, "\(problems)")
        let problem = try XCTUnwrap(problems.first)
        let head = "\(dir)/\(second): chunk \(s2 / 64): sample \(s2): label row does not follow from its provenance: source image "
            + "\(copy.primary) (\(y)) with lambda 1 and smoothing 0 gives \(y) 1 and 0 elsewhere (the row of train/epoch-000/"
        XCTAssertTrue(problem.hasPrefix(head) && problem.hasSuffix(" made source image \(copy.primary) \(y))"), problem)
    }

    /// MixShard v3: a sparse label record stands for the row `Mixer.labelWeights` gives, so rule 12
    /// holds it to its provenance as it holds a dense row — with the same messages.
    func testSparseLabelRecordsFollowFromTheirProvenance() throws {
        let names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
        let labels = try Dataset.load(PrepFixtures.mini).train.labels
        let shard = "train/epoch-000/shard-00000.mxs"
        // A copy whose record names the next class (both classes: a copy names one).
        var primary: UInt32 = 0
        var (dir, s) = try forge("copy3", try pipeline(references: true), kind: .copy, edit: { p, _ in primary = p.primary }) { r in
            r.classA = (r.classA + 1) % 10
            r.classB = r.classA
        }
        let y = names[Int(labels[Int(primary)])]
        try assertVerify(dir, ["\(dir)/\(shard): chunk \(s / 64): sample \(s): label row does not follow from its provenance: "
                               + "source image \(primary) (\(y)) with lambda 1 and smoothing 0 gives \(y) 1 and 0 elsewhere "
                               + "(the row of source/train.mxs chunk 0 sample \(primary) made source image \(primary) \(y))"])
        // A blend whose classes are swapped between primary and partner.
        var record = Provenance(primary: 0, partner: 0, lambda: 1)
        (dir, s) = try forge("swapped3", try pipeline(references: true), kind: .blend, edit: { p, _ in record = p }) { r in
            (r.classA, r.classB) = (r.classB, r.classA)
        }
        let (a, b) = (names[Int(labels[Int(record.primary)])], names[Int(labels[Int(record.partner)])])
        XCTAssertNotEqual(a, b, "the first blend of the fixture mixes two classes")
        let w = (Float(0) + record.lambda, Float(0) + (1 - record.lambda))
        try assertVerify(dir, ["\(dir)/\(shard): chunk \(s / 64): sample \(s): label row does not follow from its provenance: "
                               + "source images \(record.primary) (\(a)) and \(record.partner) (\(b)) with lambda \(Wording.float(record.lambda)) "
                               + "and smoothing 0 give \(a) \(Wording.float(w.0)), \(b) \(Wording.float(w.1)) and 0 elsewhere "
                               + "(the row of source/train.mxs chunk 0 sample \(record.primary) made source image \(record.primary) \(a); "
                               + "the row of source/train.mxs chunk 0 sample \(record.partner) made source image \(record.partner) \(b))"])
        // A shard whose ε is one ulp off the pipeline's: its header does not match.
        (dir, s) = try forge("epsilon3", try pipeline(smoothing: 0.1), kind: .copy, labelSmoothing: Float(0.1).nextUp) { _, _ in }
        XCTAssertEqual(try Verifier.verify(directory: dir, threads: 2).problems,
                       ["\(dir)/\(shard): header: does not match the pipeline: labels sparse (smoothing 0.10000001) (expected sparse, smoothing 0.1)"])
        // And a kept shard of another ε is rewritten by a rerun (here: finalize refuses it by name).
        XCTAssertThrowsError(try PrepRunner.finalize(directory: dir, threads: 2, quiet: true)) {
            XCTAssertEqual("\($0)", "\(dir)/\(shard): header: does not match the pipeline: labels sparse (smoothing 0.10000001) (expected sparse, smoothing 0.1)")
        }
    }

    /// An image-file directory's labels are its file lists': known from the first shard on.
    func testLabelsOfImageFilesComeFromTheFileLists() throws {
        let p = try Pipeline.parse("""
            name = "images"
            [dataset]
            path = "\(PrepFixtures.repo)/Tests/DatasetsTests/Fixtures/layouts/folders"
            size = 16
            resize = "shorter"
            [mix]
            p = 0.5
            [shards]
            epochs = 1
            samples_per_shard = 3
            samples_per_chunk = 2
            """)
        let dir = try forged("images", p, file: "test/shard-00001.mxs", sample: 0, version: 2) { _, row in row = [row[1], row[0]] }
        let m = try Manifest.load(directory: dir)
        let test = try SourceFileList.rows(dir + "/" + XCTUnwrap(m.source.files).test.file, classNames: m.source.classNames)
        let y = m.source.classNames[Int(test[3].label)]
        try assertVerify(dir, ["\(dir)/test/shard-00001.mxs: chunk 0: sample 0: label row does not follow from its provenance: "
                               + "source image 3 (\(y)) with lambda 1 and smoothing 0 gives \(y) 1 and 0 elsewhere"])
        // In v3, the test copy's record names the other class.
        let dir3 = try forged("images3", p, file: "test/shard-00001.mxs", sample: 0, edit: { _, _ in }) { r in
            r.classA = (r.classA + 1) % UInt32(m.source.classNames.count)
            r.classB = r.classA
        }
        try assertVerify(dir3, ["\(dir3)/test/shard-00001.mxs: chunk 0: sample 0: label row does not follow from its provenance: "
                                + "source image 3 (\(y)) with lambda 1 and smoothing 0 gives \(y) 1 and 0 elsewhere"])
    }

    /// What the writer makes keeps every rule, in every mode, with augmentation, smoothing and references.
    func testDirectoriesAsWrittenVerify() throws {
        for mode in ["sample", "batch", "cutmix", "none"] {
            for references in [false, true] {
                let dir = base + "/\(mode)-\(references)"
                _ = try PrepRunner.run(try pipeline(mode: mode, cropPad: 3, flip: true, smoothing: 0.1, references: references, epochs: 2),
                                       options: PrepOptions(outDirectory: dir, threads: 2, quiet: true))
                XCTAssertEqual(try Verifier.verify(directory: dir, threads: 2).problems, [], "\(mode) references \(references)")
            }
        }
    }
}
