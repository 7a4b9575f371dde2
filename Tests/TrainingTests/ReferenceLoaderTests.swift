import MixCore
import Mixup
import Pipeline
import ShardStore
import Prep
import ShardFormat
import TestSupport
import XCTest
@testable import Training

/// Reference samples are storage only: the loader yields the same bytes whether
/// unmixed samples are stored as references to the source copy or as pixels.
final class ReferenceLoaderTests: XCTestCase {
    /// Every batch of every epoch (train and test) as (normalised floats, labels).
    func batches(_ dir: String, seed: UInt64 = 11) throws -> [[Float]] {
        try batches(ShardDirectory(path: dir), seed: seed)
    }

    func batches(_ directory: ShardDirectory, seed: UInt64 = 11) throws -> [[Float]] {
        let loader = try ShardLoader(directory: directory, options: LoaderOptions(batch: 40, seed: seed))
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

    /// A compressed source copy (v3) is storage only too: references resolve from it to the batches
    /// of the uncompressed copy and of pixels, in chunks of one image (the default) or several; only
    /// the source copy's file differs, and `verify` passes.
    func testCompressedSourceCopyGivesTheSameBatches() throws {
        for mode in [MixMode.none, .sample, .cutmix] {
            var p = Fixtures.tinyPipeline(train: 200, test: 40, epochs: 2)
            p.mix = MixConfig(mode: mode, p: mode == .none ? 0 : 0.4, alpha: 0.5, block: 16)
            p.augment = AugmentConfig(cropPad: 4, flip: true)
            p.shards.references = false
            let pixels = Fixtures.tempDirectory("pixels")
            _ = try PrepRunner.run(p, options: PrepOptions(outDirectory: pixels, threads: 2, quiet: true))
            p.shards.references = true
            p.shards.sourceCodec = Codec.none
            let raw = Fixtures.tempDirectory("source-raw")
            _ = try PrepRunner.run(p, options: PrepOptions(outDirectory: raw, threads: 2, quiet: true))
            let expected = try batches(pixels)
            XCTAssertEqual(try batches(raw), expected, "\(mode): uncompressed copy")
            let rawFiles = try Manifest.load(directory: raw).listedFiles
            for perChunk in [nil, 7] {
                p.shards.sourceCodec = .zlib
                p.shards.sourceSamplesPerChunk = perChunk
                let dir = Fixtures.tempDirectory("source-zlib")
                _ = try PrepRunner.run(p, options: PrepOptions(outDirectory: dir, threads: 2, quiet: true))
                let tag = "\(mode), \(perChunk.map(String.init) ?? "default") per chunk"
                let h = try ShardReader(path: dir + "/" + MixShardLayout.sourceFile).header
                XCTAssertEqual([Int(h.version), Int(h.codec.rawValue), Int(h.imageFilter.rawValue), Int(h.samplesPerChunk)],
                               [3, 1, 1, perChunk ?? Pipeline.sourceSamplesPerChunkDefault], tag)
                XCTAssertEqual(try batches(dir), expected, "\(tag): batches differ from the pixels'")
                XCTAssertEqual(try Verifier.verify(directory: dir, threads: 2).problems, [], tag)
                XCTAssertEqual(try TestSupport.manifestSchemaProblems(directory: dir), [], tag)
                let files = try Manifest.load(directory: dir).listedFiles
                XCTAssertEqual(files.dropFirst(), rawFiles.dropFirst(), "\(tag): only the source copy differs")
                XCTAssertEqual(files[0].file, MixShardLayout.sourceFile)
                XCTAssertLessThan(files[0].bytes, rawFiles[0].bytes, tag)
                // The loader's directory inflated each source chunk at most once (200 images fit the default cache).
                let loaded = try ShardDirectory(path: dir)
                let loader = try ShardLoader(directory: loaded, options: LoaderOptions(batch: 40, seed: 11))
                for e in 0..<2 { let stream = loader.trainBatches(epoch: e); while let b = try stream.next() { stream.recycle(b) } }
                let stats = try XCTUnwrap(loaded.sourceCopy).cacheStatistics
                XCTAssertEqual(stats.evicted, 0, tag)
                let perSourceChunk = Int(h.samplesPerChunk)
                XCTAssertLessThanOrEqual(stats.inflated, (200 + perSourceChunk - 1) / perSourceChunk, tag)
                XCTAssertGreaterThan(stats.hits, 0, tag)
                // Read through an unpacked copy (MIXSHARDS_UNPACKED_SOURCE): made by the first open under the
                // copy's listed SHA-256, mapped by the next, the same batches from both.
                let unpackDir = Fixtures.tempDirectory("unpacked")
                setenv("MIXSHARDS_UNPACKED_SOURCE", unpackDir, 1)
                defer { unsetenv("MIXSHARDS_UNPACKED_SOURCE") }
                let file = unpackDir + "/" + UnpackedSource.fileName(key: files[0].sha256)
                for made in [true, false] {
                    let through = try ShardDirectory(path: dir)
                    XCTAssertEqual(through.sourceCopy?.unpacked?.path, file, tag)
                    XCTAssertEqual(through.sourceCopy?.unpacked?.made, made, tag)
                    XCTAssertEqual(try batches(through), expected, "\(tag): batches through the unpacked copy")
                    XCTAssertEqual(through.sourceCopy?.cacheStatistics.inflated, 0, tag)
                }
            }
        }
    }

    /// A damaged chunk of a compressed source copy: the directory's SHA-256 check at open names it; behind
    /// a forged listing, the loader names the source copy and the chunk when a reference first needs it,
    /// and `--skip-corrupt` skips just the training chunks that reference it.
    func testDamagedCompressedSourceChunkIsNamed() throws {
        var p = Fixtures.tinyPipeline(train: 200, test: 40, epochs: 1)
        p.mix = MixConfig(mode: .sample, p: 0.2, alpha: 0.5)
        p.shards.references = true
        p.shards.sourceCodec = .zlib
        let dir = Fixtures.tempDirectory("refs-zlib-damaged")
        _ = try PrepRunner.run(p, options: PrepOptions(outDirectory: dir, threads: 2, quiet: true))
        let file = dir + "/" + MixShardLayout.sourceFile
        let reader = try ShardReader(path: file)
        XCTAssertEqual(reader.header.samplesPerChunk, 1)
        // The source image of the first reference of epoch 0's first chunk: no other training chunk references it.
        let shard0 = dir + "/train/epoch-000/shard-00000.mxs"
        var chunk = DecodedChunk()
        try ShardReader(path: shard0, source: try SourceImages(path: file)).readChunk(0, into: &chunk)
        let victim = Int(try XCTUnwrap(chunk.provenance.first(where: \.isReference)).primary)
        var bytes = try FileIO.read(file)
        bytes[Int(reader.index[victim].offset) + 3] ^= 0x5A
        try FileIO.writeAtomically(file, bytes)
        XCTAssertThrowsError(try ShardLoader(path: dir, options: LoaderOptions(batch: 40))) { error in
            XCTAssertTrue("\(error)".hasPrefix("\(file): SHA-256 "), "\(error)")
            XCTAssertTrue("\(error)".hasSuffix("that manifest.json lists (chunk \(victim): " + "\(error)".components(separatedBy: "(chunk \(victim): ").last!),
                          "\(error)")
        }
        var m = try Manifest.load(directory: dir)
        m.sourceCopy!.sha256 = SHA256.hex(SHA256.hash(bytes))
        try FileIO.writeAtomically(dir + "/" + Manifest.fileName, try m.encoded())
        let loader = try ShardLoader(path: dir, options: LoaderOptions(batch: 40))
        XCTAssertThrowsError(try { let s = loader.trainBatches(epoch: 0); while let b = try s.next() { s.recycle(b) } }()) { error in
            XCTAssertTrue("\(error)".hasPrefix("\(file): chunk \(victim): "), "\(error)")
        }
        let skipping = try ShardLoader(path: dir, options: LoaderOptions(batch: 40, skipCorrupt: true))
        let warnings = Locked([String]())
        skipping.warn = { w in warnings.withLock { $0.append(w) } }
        var read = 0
        let stream = skipping.trainBatches(epoch: 0)
        while let b = try stream.next() { read += b.count; stream.recycle(b) }
        // Only the training chunk holding that reference is skipped, its message naming the source copy's chunk.
        XCTAssertEqual(skipping.skipped.count, 1)
        XCTAssertEqual(read, 200 - 32)
        XCTAssertEqual(skipping.skipped.first?.file, shard0)
        XCTAssertEqual(skipping.skipped.first?.chunk, 0)
        XCTAssertTrue(skipping.skipped[0].message.hasPrefix("\(file): chunk \(victim): "), skipping.skipped[0].message)
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
