import Datasets
import Foundation
import MixCore
import Pipeline
import Prep
import ShardStore
import TestSupport
import XCTest

/// `source.channelStats`: what mixprep records of the training split, against figures computed
/// independently with numpy, and how readers treat a manifest without them or with bad ones.
final class ChannelStatsTests: XCTestCase {
    /// The embedded data's 2,000 training images. Expected values from numpy, independently:
    ///
    ///     x = np.concatenate([np.fromfile(f"data/cifar10-mini/data_batch_{i}.bin", np.uint8).reshape(-1, 3073)[:, 1:]
    ///                         for i in (1, 2)]).reshape(-1, 3, 32, 32) / 255.0
    ///     [x[:, c].mean() for c in range(3)]  # 0.49302183, 0.48497424, 0.44951425
    ///     [x[:, c].std() for c in range(3)]   # 0.24612848, 0.24325601, 0.26253355
    func testTheEmbeddedDatasetsFiguresAreNumpys() throws {
        let dir = try PrepFixtures.temporaryDirectory(name)
        let report = try PrepRunner.run(try PrepFixtures.pipeline(epochs: 1), options: PrepOptions(outDirectory: dir, threads: 2, quiet: true))
        XCTAssertEqual(report.warnings, [])
        let stats = try XCTUnwrap(try Manifest.load(directory: dir).source.channelStats)
        XCTAssertEqual(stats, ChannelStats(mean: [0.4930, 0.4850, 0.4495], std: [0.2461, 0.2433, 0.2625]))
        XCTAssertEqual(try RunState.load(directory: dir)?.source.channelStats, stats)
        XCTAssertEqual(stats.description, "mean (0.4930, 0.4850, 0.4495), std (0.2461, 0.2433, 0.2625)")
        // Written as the decimals themselves.
        let text = String(decoding: try FileIO.read(dir + "/manifest.json"), as: UTF8.self)
        XCTAssertTrue(text.contains("\"mean\" : [\n        0.493,\n        0.485,\n        0.4495\n      ]"), text)
        // train_limit counts: the figures are those of the images used.
        let limited = try PrepFixtures.temporaryDirectory(name + "limited")
        _ = try PrepRunner.run(try PrepFixtures.pipeline(epochs: 1, trainLimit: 100), options: PrepOptions(outDirectory: limited, threads: 1, quiet: true))
        XCTAssertNotEqual(try Manifest.load(directory: limited).source.channelStats, stats)
    }

    /// The full CIFAR-10 training split (when present): the exact sums numpy gives, which
    /// round to exactly the published figures, so mixtrain's numbers on CIFAR-10 are those it
    /// computed with its former constants.
    func testFullCIFAR10GivesThePublishedFigures() throws {
        let path = ProcessInfo.processInfo.environment["MIXSHARDS_CIFAR10"] ?? "/work/shared/cifar10"
        guard FileIO.exists(path + "/data_batch_5.bin") else { throw XCTSkip("\(path) not present") }
        let dataset = try CIFAR10.loadFolder(path)
        let statistics = ChannelStatistics(ImageStore(dataset.train), threads: 2)
        XCTAssertEqual(statistics.pixelsPerChannel, 51_200_000)
        // np.fromfile(...)[:, 1:].reshape(-1, 3, 1024)[:, c].astype(np.int64): .sum() and (v * v).sum()
        XCTAssertEqual([0, 1, 2].map { statistics.sums($0).x }, [6_415_714_204, 6_295_060_180, 5_829_907_619])
        XCTAssertEqual([0, 1, 2].map { statistics.sums($0).xx }, [1_007_102_432_534, 971_356_520_230, 891_641_299_129])
        XCTAssertEqual([0, 1, 2].map { statistics.roundedMean($0, places: 8)! }, [0.49139968, 0.48215841, 0.44653091])
        XCTAssertEqual([0, 1, 2].map { statistics.roundedStd($0, places: 8)! }, [0.24703223, 0.24348513, 0.26158784])
        let stats = try XCTUnwrap(ChannelStats(statistics))
        XCTAssertEqual(stats, ChannelStats(mean: [0.4914, 0.4822, 0.4465], std: [0.2470, 0.2435, 0.2616]))
        XCTAssertEqual(stats.mean.map(Float.init), [0.4914, 0.4822, 0.4465])
        XCTAssertEqual(stats.std.map(Float.init), [0.2470, 0.2435, 0.2616])
    }

    /// A manifest without figures (written before mixprep recorded them) reads; figures that
    /// are not one number per channel in range are refused in one line naming the key.
    func testOldManifestsReadAndBadFiguresAreRefused() throws {
        let dir = try PrepFixtures.temporaryDirectory(name)
        _ = try PrepRunner.run(try PrepFixtures.pipeline(epochs: 1, trainLimit: 64), options: PrepOptions(outDirectory: dir, threads: 1, quiet: true))
        let path = dir + "/manifest.json"
        let good = String(decoding: try FileIO.read(path), as: UTF8.self)
        var json = try JSONSerialization.jsonObject(with: Data(good.utf8)) as! [String: Any]
        var source = json["source"] as! [String: Any]
        source["channelStats"] = nil
        json["source"] = source
        try FileIO.writeAtomically(path, [UInt8](try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys])))
        XCTAssertNil(try Manifest.load(directory: dir).source.channelStats)
        XCTAssertEqual(try TestSupport.manifestSchemaProblems(directory: dir), [])
        // (The schema cannot say "one per channel"; the readers do.)
        for (stats, problem, schemaToo) in [
            (["mean": [0.5, 0.5], "std": [0.2, 0.2, 0.2]], "source.channelStats.mean must hold 3 numbers from 0 to 1, one per channel (got 2)", false),
            (["mean": [0.5, 0.5, 1.5], "std": [0.2, 0.2, 0.2]], "source.channelStats.mean must hold 3 numbers from 0 to 1, one per channel (got [0.5, 0.5, 1.5])", true),
            (["mean": [0.5, 0.5, 0.5], "std": [0.2, -0.1, 0.2]], "source.channelStats.std must hold 3 numbers from 0 to 0.5, one per channel (got [0.2, -0.1, 0.2])", true),
        ] {
            source["channelStats"] = stats
            json["source"] = source
            try FileIO.writeAtomically(path, [UInt8](try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys])))
            XCTAssertThrowsError(try Manifest.load(directory: dir)) { XCTAssertEqual("\($0)", "\(path): \(problem)") }
            XCTAssertEqual(try TestSupport.manifestSchemaProblems(directory: dir).isEmpty, !schemaToo)
        }
    }
}
