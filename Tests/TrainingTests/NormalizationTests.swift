import Foundation
import MixCore
import ShardStore
import TestSupport
@testable import Training
import XCTest

/// mixtrain normalises with the directory's own figures (`source.channelStats`), falls back to
/// the CIFAR-10 constants for a directory without them (saying so once), records the figures in
/// its report and checkpoints, and evaluates a checkpoint with the figures it was trained with.
final class NormalizationTests: XCTestCase {
    func mixtrain(_ args: [String]) throws -> (status: Int32, out: String, err: String) {
        try TestSupport.run(TestSupport.executable("mixtrain"), args)
    }

    /// A copy of the tiny shard directory whose manifest has no `source.channelStats` (as made before mixprep recorded them).
    func withoutFigures(_ name: String) throws -> String {
        let dir = try Fixtures.copy(try Fixtures.shardDirectory(), name: name)
        var m = try Manifest.load(directory: dir)
        m.source.channelStats = nil
        try FileIO.writeAtomically(dir + "/" + Manifest.fileName, try m.encoded())
        return dir
    }

    func testTheLoaderUsesTheManifestsFigures() throws {
        let dir = try Fixtures.shardDirectory()
        let stats = try XCTUnwrap(try Manifest.load(directory: dir).source.channelStats)
        let loader = try ShardLoader(path: dir, options: LoaderOptions(batch: 50, seed: 7))
        XCTAssertEqual(loader.normalizer.stats, stats)
        XCTAssertNotEqual(loader.normalizer, PixelNormalizer.legacy(channels: 3))
        // The first value of a batch is its byte normalised with them, in float32.
        let stream = loader.trainBatches(epoch: 0)
        let batch = try XCTUnwrap(try stream.next())
        let b = loader.normalizer.byte(for: batch.images[0], channel: 0)
        XCTAssertEqual(batch.images[0], (Float(b) / 255 - Float(stats.mean[0])) / Float(stats.std[0]))
        stream.recycle(batch)

        let old = try withoutFigures("nofigures")
        let fallback = PixelNormalizer.forSource(try Manifest.load(directory: old).source)
        XCTAssertFalse(fallback.recorded)
        XCTAssertEqual(fallback.normalizer, PixelNormalizer.legacy(channels: 3))
        XCTAssertEqual(try ShardLoader(path: old, options: LoaderOptions()).normalizer, PixelNormalizer.legacy(channels: 3))
        // An explicit normaliser wins; one for other channels is refused.
        let mine = PixelNormalizer(mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25])
        XCTAssertEqual(try ShardLoader(path: dir, options: LoaderOptions(normalizer: mine)).normalizer, mine)
        XCTAssertThrowsError(try ShardLoader(path: dir, options: LoaderOptions(normalizer: .legacy(channels: 1)))) {
            XCTAssertEqual("\($0)", "\(dir): holds 3-channel images; the normalisation figures are for 1 channels")
        }
    }

    /// A channel recorded as constant (standard deviation 0) is divided by 1: only centred.
    func testAConstantChannelIsOnlyCentred() {
        var source = SourceInfo(name: "x", path: "x", fingerprint: "", classNames: ["a", "b"], trainCount: 1, testCount: 1,
                                channels: 3, height: 16, width: 16)
        source.channelStats = ChannelStats(mean: [0.5, 0.2, 0.25], std: [0.25, 0, 0.5])
        let (n, recorded) = PixelNormalizer.forSource(source)
        XCTAssertTrue(recorded)
        XCTAssertEqual(n.stats, ChannelStats(mean: [0.5, 0.2, 0.25], std: [0.25, 1, 0.5]))
        XCTAssertEqual(n.value(51, channel: 1), Float(51) / 255 - Float(0.2))
        XCTAssertEqual(n.value(51, channel: 1), 0)
    }

    func testTrainRecordsTheFiguresAndEvalUsesTheCheckpoints() throws {
        let dir = try Fixtures.shardDirectory()
        let stats = try XCTUnwrap(try Manifest.load(directory: dir).source.channelStats)
        let run = Fixtures.tempDirectory("normrun")
        let r = try mixtrain(["train", dir, "--out", run, "--epochs", "1", "--threads", "1"])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertFalse(r.err.contains("warning"), r.err)
        XCTAssertTrue(r.out.contains("inputs normalised with \(stats.description) (the training images' own, manifest.json source.channelStats)"), r.out)
        let report = String(decoding: try FileIO.read(run + "/report.md"), as: UTF8.self)
        XCTAssertTrue(report.contains("| input normalisation | (x/255 − mean) / std per channel, \(stats.description): the training images' own "
                                      + "(manifest.json `source.channelStats`) |"), report)
        XCTAssertTrue(report.contains("| image size | 32×32 (width×height, 3 channels) |"), report)
        let ckpt = try Checkpoint.read(run + "/checkpoint-001.ckpt")
        XCTAssertEqual(ckpt.header.normalization, stats)

        // Evaluated on its own directory: its figures, no warning.
        let e = try mixtrain(["eval", run + "/checkpoint-001.ckpt", dir, "--threads", "1"])
        XCTAssertEqual(e.status, 0, e.err)
        XCTAssertFalse(e.err.contains("warning"), e.err)
        XCTAssertTrue(e.out.contains("inputs normalised with \(stats.description) (the checkpoint's, as in training)\n"), e.out)
        // On a directory of the same images with other figures (here: none recorded), still the
        // checkpoint's, with a warning, and the same accuracy.
        let old = try withoutFigures("evalold")
        let o = try mixtrain(["eval", run + "/checkpoint-001.ckpt", old, "--threads", "1"])
        XCTAssertEqual(o.status, 0, o.err)
        XCTAssertTrue(o.err.contains("warning: \(old)'s images have other figures (mean (0.4914, 0.4822, 0.4465), std (0.2470, 0.2435, 0.2616), "
                                     + "the CIFAR-10 constants) than \(run)/checkpoint-001.ckpt was trained with; normalising with the checkpoint's, as in training\n"), o.err)
        func accuracy(_ out: String) -> Substring? { out.split(separator: "\n").first { $0.hasPrefix("accuracy: ") } }
        XCTAssertEqual(accuracy(o.out), accuracy(e.out))
        XCTAssertNotNil(accuracy(e.out))
    }

    /// A directory made before mixprep recorded figures trains with the CIFAR-10 constants, saying so
    /// once; its checkpoints record them, and resuming it needs nothing more.
    func testADirectoryWithoutFiguresFallsBackSayingSoOnce() throws {
        let old = try withoutFigures("trainold")
        let run = Fixtures.tempDirectory("oldrun")
        let r = try mixtrain(["train", old, "--out", run, "--epochs", "1", "--threads", "1"])
        XCTAssertEqual(r.status, 0, r.err)
        let note = "warning: \(old)/manifest.json records no channel statistics (source.channelStats: it was made before mixprep recorded them); "
            + "normalising with the CIFAR-10 constants, mean (0.4914, 0.4822, 0.4465), std (0.2470, 0.2435, 0.2616)\n"
        XCTAssertEqual(r.err.components(separatedBy: "warning").count, 2, r.err)
        XCTAssertTrue(r.err.contains(note), r.err)
        XCTAssertTrue(r.out.contains("inputs normalised with mean (0.4914, 0.4822, 0.4465), std (0.2470, 0.2435, 0.2616) (the CIFAR-10 constants)"), r.out)
        let report = String(decoding: try FileIO.read(run + "/report.md"), as: UTF8.self)
        XCTAssertTrue(report.contains("the CIFAR-10 constants (manifest.json records no `source.channelStats`: made before mixprep recorded them) |"), report)
        XCTAssertEqual(try Checkpoint.read(run + "/checkpoint-001.ckpt").header.normalization, PixelNormalizer.cifar10)
        let more = try mixtrain(["train", old, "--out", run, "--epochs", "2", "--threads", "1", "--resume"])
        XCTAssertEqual(more.status, 0, more.err)
        XCTAssertEqual(more.err.components(separatedBy: "warning").count, 2, more.err)

        let bl = try mixtrain(["bench-loader", old])
        XCTAssertEqual(bl.status, 0, bl.err)
        XCTAssertEqual(bl.err.components(separatedBy: "warning").count, 2, bl.err)
        XCTAssertTrue(bl.out.contains("inputs normalised with mean (0.4914, 0.4822, 0.4465), std (0.2470, 0.2435, 0.2616) (the CIFAR-10 constants)\n"), bl.out)
    }
}
