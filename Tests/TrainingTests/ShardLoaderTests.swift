import Foundation
import MixCore
import Pipeline
import ShardStore
import ShardFormat
import XCTest
@testable import Training

final class ShardLoaderTests: XCTestCase {
    /// All samples of one stream, denormalised: (bytes, label row) in delivery order.
    func drain(_ stream: BatchStream, loader: ShardLoader) throws -> (images: [[UInt8]], labels: [[Float]], batchSizes: [Int]) {
        let shape = loader.directory.shape
        let plane = shape.height * shape.width
        let per = shape.channels * plane
        let k = shape.classCount
        var images: [[UInt8]] = [], labels: [[Float]] = [], sizes: [Int] = []
        while let b = try stream.next() {
            sizes.append(b.count)
            for i in 0..<b.count {
                var img = [UInt8](repeating: 0, count: per)
                for j in 0..<per { img[j] = loader.normalizer.byte(for: b.images[i * per + j], channel: j / plane) }
                images.append(img)
                labels.append(Array(b.labels[(i * k)..<((i + 1) * k)]))
            }
            stream.recycle(b)
        }
        return (images, labels, sizes)
    }

    func testNormalizerTableMatchesContract() throws {
        let n = PixelNormalizer.legacy(channels: 3)
        // CIFAR-10's recorded figures, read from a manifest's JSON, give the very table mixtrain
        // computed from its float32 constants before manifests recorded them: its numbers on
        // CIFAR-10 are unchanged, bit for bit.
        let json = #"{"mean": [0.4914, 0.4822, 0.4465], "std": [0.2470, 0.2435, 0.2616]}"#
        let recorded = PixelNormalizer(stats: try JSONDecoder().decode(ChannelStats.self, from: Data(json.utf8)))
        let literal: [[Float]] = [[0.4914, 0.4822, 0.4465], [0.2470, 0.2435, 0.2616]]
        let before = (0..<768).map { i -> Float in (Float(i % 256) / 255 - literal[0][i / 256]) / literal[1][i / 256] }
        XCTAssertEqual(recorded.table.map(\.bitPattern), before.map(\.bitPattern))
        XCTAssertEqual(n, recorded)
        XCTAssertEqual(n.description, "mean (0.4914, 0.4822, 0.4465), std (0.2470, 0.2435, 0.2616)")
        XCTAssertEqual(n.table.count, 768)
        XCTAssertEqual(n.value(0, channel: 0), -0.4914 / 0.2470, accuracy: 1e-6)
        XCTAssertEqual(n.value(255, channel: 2), (1 - 0.4465) / 0.2616, accuracy: 1e-6)
        XCTAssertEqual(n.value(128, channel: 1), (128.0 / 255 - 0.4822) / 0.2435, accuracy: 1e-6)
        for c in 0..<3 {
            for b in 0...255 { XCTAssertEqual(n.byte(for: n.value(UInt8(b), channel: c), channel: c), UInt8(b)) }
        }
    }

    func testLoaderReturnsExactlyTheBytesMixprepWrote() throws {
        let dir = try Fixtures.shardDirectory()
        let loader = try ShardLoader(path: dir, options: LoaderOptions(batch: 50, seed: 7))
        XCTAssertEqual(loader.directory.materialisedEpochs, 2)
        XCTAssertEqual(loader.directory.trainSampleCount(epoch: 0), 300)
        XCTAssertEqual(loader.directory.testSampleCount, 100)
        let order = loader.chunkOrder(epoch: 0)
        // Expected: each shard read whole by ShardReader, chunks taken in the loader's order.
        let readers = try loader.directory.trainShardPaths(epoch: 0).map { try ShardReader(path: $0) }
        let blocks = try readers.map { try $0.readAll() }
        var expectedImages: [[UInt8]] = [], expectedLabels: [[Float]] = [], expectedProv: [Provenance] = []
        for ref in order {
            let e = readers[ref.shard].index[ref.chunk]
            for s in Int(e.firstSample)..<Int(e.firstSample + e.sampleCount) {
                expectedImages.append(Array(blocks[ref.shard].images[(s * 3072)..<((s + 1) * 3072)]))
                expectedLabels.append(Array(blocks[ref.shard].rows[(s * 10)..<((s + 1) * 10)]))
                expectedProv.append(blocks[ref.shard].provenance[s])
            }
        }
        let got = try drain(loader.trainBatches(epoch: 0), loader: loader)
        XCTAssertEqual(got.batchSizes, [50, 50, 50, 50, 50, 50])
        XCTAssertEqual(got.images.count, 300)
        XCTAssertEqual(got.images, expectedImages)
        XCTAssertEqual(got.labels, expectedLabels)

        // And against the source records: unmixed samples are the source image and a one-hot label.
        let source = try Fixtures.sourceTrain()
        var unmixed = 0
        for (i, p) in expectedProv.enumerated() where p.partner == p.primary && p.lambda == 1 {
            unmixed += 1
            XCTAssertEqual(got.images[i], Array(source[Int(p.primary)].image), "sample \(i)")
            var onehot = [Float](repeating: 0, count: 10)
            onehot[source[Int(p.primary)].label] = 1
            XCTAssertEqual(got.labels[i], onehot)
        }
        XCTAssertGreaterThan(unmixed, 200) // p = 0.2 mixing: most samples are unmixed

        // A batch size that does not divide the epoch: batches span chunks, the last is partial.
        let odd = try ShardLoader(path: dir, options: LoaderOptions(batch: 70, seed: 7))
        let g2 = try drain(odd.trainBatches(epoch: 0), loader: odd)
        XCTAssertEqual(g2.batchSizes, [70, 70, 70, 70, 20])
        XCTAssertEqual(g2.images, expectedImages)
    }

    func testTestSplitInFileOrder() throws {
        let dir = try Fixtures.shardDirectory()
        let loader = try ShardLoader(path: dir, options: LoaderOptions(batch: 64, seed: 7))
        let got = try drain(loader.testBatches(), loader: loader)
        XCTAssertEqual(got.batchSizes, [64, 36])
        let block = try ShardReader(path: loader.directory.testShardPaths[0]).readAll()
        XCTAssertEqual(loader.directory.testShardPaths.count, 1)
        XCTAssertEqual(got.images.flatMap { $0 }, block.images)
        XCTAssertEqual(got.labels.flatMap { $0 }, block.rows)
    }

    func testChunkOrderIsASeededPermutationThatChangesPerEpoch() throws {
        let dir = try Fixtures.shardDirectory()
        let loader = try ShardLoader(path: dir, options: LoaderOptions(batch: 50, seed: 7))
        let all = ShardLoader.allChunks(loader.directory.trainReaders[0])
        XCTAssertEqual(all.count, 10) // shards of 128, 128, 44 samples in chunks of 32: 4 + 4 + 2
        let o0 = loader.chunkOrder(epoch: 0), o1 = loader.chunkOrder(epoch: 1), o2 = loader.chunkOrder(epoch: 2)
        for o in [o0, o1, o2] {
            XCTAssertEqual(Set(o), Set(all))
            XCTAssertEqual(o.count, all.count)
        }
        XCTAssertNotEqual(o0, all)
        XCTAssertNotEqual(o0, o1)
        XCTAssertNotEqual(o0, o2) // epoch 2 cycles to epoch 0's shards but is reshuffled
        // Pure function of (seed, epoch).
        let again = try ShardLoader(path: dir, options: LoaderOptions(batch: 10, seed: 7))
        XCTAssertEqual(again.chunkOrder(epoch: 1), o1)
        let other = try ShardLoader(path: dir, options: LoaderOptions(batch: 50, seed: 8))
        XCTAssertNotEqual(other.chunkOrder(epoch: 0), o0)
        // The delivered samples follow the order: epochs 0 and 1 differ.
        let d0 = try drain(loader.trainBatches(epoch: 0), loader: loader)
        let d1 = try drain(loader.trainBatches(epoch: 1), loader: loader)
        XCTAssertNotEqual(d0.images, d1.images)
    }

    func testEpochsBeyondMaterialisedCycleWithOneWarning() throws {
        let dir = try Fixtures.shardDirectory()
        let loader = try ShardLoader(path: dir, options: LoaderOptions(batch: 50, seed: 7))
        let warnings = Locked([String]())
        loader.warn = { w in warnings.withLock { $0.append(w) } }
        XCTAssertEqual(loader.directory.materialisedEpoch(for: 2), 0)
        XCTAssertEqual(loader.directory.materialisedEpoch(for: 5), 1)
        let e0 = try drain(loader.trainBatches(epoch: 0), loader: loader)
        XCTAssertEqual(warnings.withLock { $0.count }, 0)
        let e2 = try drain(loader.trainBatches(epoch: 2), loader: loader)
        let e3 = try drain(loader.trainBatches(epoch: 3), loader: loader)
        let e1 = try drain(loader.trainBatches(epoch: 1), loader: loader)
        XCTAssertEqual(warnings.withLock { $0.count }, 1)
        XCTAssertTrue(warnings.withLock { $0[0] }.contains("2 materialised"))
        // Same samples as the epoch it cycles to, in another order.
        let key = { (imgs: [[UInt8]]) in imgs.map { $0.map(String.init).joined(separator: ",") }.sorted() }
        XCTAssertEqual(key(e2.images), key(e0.images))
        XCTAssertNotEqual(e2.images, e0.images)
        XCTAssertEqual(key(e3.images), key(e1.images))
        XCTAssertNotEqual(key(e1.images), key(e0.images))
    }

    func testCorruptChunkNamesFileAndChunkAndSkipCorruptCounts() throws {
        let dir = try Fixtures.copy(try Fixtures.shardDirectory(), name: "corrupt")
        let file = dir + "/train/epoch-000/shard-00001.mxs"
        try Fixtures.corruptChunk(file: file, chunk: 2)
        let loader = try ShardLoader(path: dir, options: LoaderOptions(batch: 50, seed: 7))
        let stream = loader.trainBatches(epoch: 0)
        XCTAssertThrowsError(try drain(stream, loader: loader)) { error in
            let message = (error as? MixError)?.message ?? ""
            XCTAssertTrue(message.contains(file), message)
            XCTAssertTrue(message.contains("chunk 2"), message)
            XCTAssertFalse(message.contains("\n"))
        }
        // Skipping: the epoch loses exactly that chunk's 32 samples; the skip is counted and warned once.
        let skipping = try ShardLoader(path: dir, options: LoaderOptions(batch: 50, seed: 7, skipCorrupt: true))
        let warnings = Locked([String]())
        skipping.warn = { w in warnings.withLock { $0.append(w) } }
        let got = try drain(skipping.trainBatches(epoch: 0), loader: skipping)
        XCTAssertEqual(got.images.count, 300 - 32)
        XCTAssertEqual(skipping.skipped.count, 1)
        XCTAssertEqual(skipping.skipped.first?.file, file)
        XCTAssertEqual(skipping.skipped.first?.chunk, 2)
        _ = try drain(skipping.trainBatches(epoch: 2), loader: skipping) // cycles back to epoch 0's shards
        XCTAssertEqual(skipping.skipped.count, 2)
        let skipWarnings = warnings.withLock { $0 }.filter { $0.hasPrefix("skipping corrupt chunk") }
        XCTAssertEqual(skipWarnings.count, 1)
        // Epoch 1 is intact.
        XCTAssertEqual(try drain(skipping.trainBatches(epoch: 1), loader: skipping).images.count, 300)
    }

    func testDirectoryWithoutManifestIsRefused() throws {
        let dir = try Fixtures.copy(try Fixtures.shardDirectory(), name: "nomanifest")
        FileIO.remove(dir + "/manifest.json")
        XCTAssertThrowsError(try ShardLoader(path: dir, options: LoaderOptions())) { error in
            XCTAssertTrue("\(error)".contains("no manifest.json"), "\(error)")
        }
    }

    func testTruncatedShardIsRefusedAtOpen() throws {
        let dir = try Fixtures.copy(try Fixtures.shardDirectory(), name: "truncated")
        let file = dir + "/train/epoch-001/shard-00000.mxs"
        let bytes = try FileIO.read(file)
        try FileIO.writeAtomically(file, Array(bytes.dropLast(10)))
        XCTAssertThrowsError(try ShardDirectory(path: dir)) { error in
            XCTAssertTrue("\(error)".contains(file), "\(error)")
        }
    }

    func testAbandonedStreamStopsItsProducer() throws {
        let dir = try Fixtures.shardDirectory()
        let loader = try ShardLoader(path: dir, options: LoaderOptions(batch: 10, seed: 7, prefetch: 2))
        for _ in 0..<20 {
            let stream = loader.trainBatches(epoch: 0)
            XCTAssertEqual(try stream.next()?.count, 10)
            stream.cancel()
            XCTAssertNil(try stream.next())
        }
    }
}
