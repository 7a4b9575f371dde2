import MixCore
import Mixup
import Pipeline
import ShardStore
import Prep
import ShardFormat
import XCTest
@testable import Training

/// Reference samples are storage only: the loader yields the same bytes whether
/// unmixed samples are stored as references to the source copy or as pixels.
final class ReferenceLoaderTests: XCTestCase {
    /// Every batch of every epoch (train and test) as (normalised floats, labels).
    func batches(_ dir: String, seed: UInt64 = 11) throws -> [[Float]] {
        let loader = try ShardLoader(path: dir, options: LoaderOptions(batch: 40, seed: seed))
        var out: [[Float]] = []
        for stream in (0..<loader.directory.materialisedEpochs).map({ loader.trainBatches(epoch: $0) }) + [loader.testBatches()] {
            while let b = try stream.next() {
                out.append(Array(b.images[0..<(b.count * loader.imageFloats)]) + Array(b.labels[0..<(b.count * 10)]))
                stream.recycle(b)
            }
        }
        return out
    }

    func testBatchesAreByteIdenticalWithReferencesOnAndOff() throws {
        for mode in [MixMode.none, .sample, .batch, .cutmix] {
            for augment in [AugmentConfig(), AugmentConfig(cropPad: 4, flip: true)] {
                var p = Fixtures.tinyPipeline(train: 200, test: 40, epochs: 2)
                p.mix = MixConfig(mode: mode, p: mode == .none ? 0 : 0.4, alpha: 0.5, block: 16)
                p.augment = augment
                p.shards.references = true
                let on = Fixtures.tempDirectory("refs-on")
                _ = try PrepRunner.run(p, options: PrepOptions(outDirectory: on, threads: 2, quiet: true))
                p.shards.references = false
                let off = Fixtures.tempDirectory("refs-off")
                _ = try PrepRunner.run(p, options: PrepOptions(outDirectory: off, threads: 1, quiet: true))
                let tag = "\(mode) \(augment.summary)"
                XCTAssertTrue(FileIO.exists(on + "/" + MixShardLayout.sourceFile), tag)
                XCTAssertFalse(FileIO.exists(off + "/" + MixShardLayout.sourceFile), tag)
                let onManifest = try Manifest.load(directory: on)
                XCTAssertEqual(onManifest.summary.references, onManifest.summary.samples - onManifest.summary.mixed, tag)
                XCTAssertGreaterThan(onManifest.summary.references, 100, tag)
                if augment.isActive { XCTAssertGreaterThan(onManifest.summary.flipped, 100, tag) }
                let a = try batches(on), b = try batches(off)
                XCTAssertEqual(a.count, b.count, tag)
                XCTAssertTrue(a == b, "\(tag): batches differ with references on and off")
                // verify passes on both, and the reference shards are the smaller.
                XCTAssertEqual(try Verifier.verify(directory: on, threads: 2).problems, [], tag)
                let size = { (d: String) in try Manifest.load(directory: d).listedFiles.filter { $0.file.hasPrefix("train/") }.reduce(0) { $0 + $1.bytes } }
                XCTAssertLessThan(try size(on), try size(off), tag)
            }
        }
    }

    /// A reference directory whose source copy is damaged is refused by name before training.
    func testDamagedSourceCopyIsNamed() throws {
        var p = Fixtures.tinyPipeline(train: 200, test: 40, epochs: 1)
        p.shards.references = true
        let dir = Fixtures.tempDirectory("refs-damaged")
        _ = try PrepRunner.run(p, options: PrepOptions(outDirectory: dir, threads: 2, quiet: true))
        let file = dir + "/" + MixShardLayout.sourceFile
        var bytes = try FileIO.read(file)
        bytes[200] ^= 0xFF
        try FileIO.writeAtomically(file, bytes)
        XCTAssertThrowsError(try ShardLoader(path: dir, options: LoaderOptions(batch: 40))) { error in
            XCTAssertTrue("\(error)".hasPrefix("\(file): chunk 0: rawCRC mismatch"), "\(error)")
        }
        FileIO.remove(file)
        XCTAssertThrowsError(try ShardLoader(path: dir, options: LoaderOptions(batch: 40))) { error in
            XCTAssertTrue("\(error)".hasPrefix(file + ": "), "\(error)")
        }
    }
}
