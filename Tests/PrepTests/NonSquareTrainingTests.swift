import Foundation
import ImageCodecs
import Imaging
import MixCore
import ShardStore
import TestSupport
import XCTest

/// End to end on a tiny non-square dataset: real images (CIFAR-10 records of the embedded data,
/// written as PNG class folders) read by mixprep at 32×16 (width×height) with `stretch`, then one
/// epoch of `mixtrain train` and an `eval`: the run completes, and the report and the checkpoint
/// name the dataset's own normalisation figures and its shape.
final class NonSquareTrainingTests: XCTestCase {
    /// Class folders of 48 PNGs: 12 training and 4 test images of each of classes 0–2, in record order.
    func writeFolders(_ root: String) throws {
        let names = ["airplane", "automobile", "bird"]
        for (split, file, perClass) in [("train", "data_batch_1.bin", 12), ("test", "test_batch.bin", 4)] {
            let bytes = try FileIO.read(PrepFixtures.mini + "/" + file)
            var written = [0, 0, 0]
            for r in 0..<(bytes.count / 3073) {
                let label = Int(bytes[r * 3073])
                guard label < 3, written[label] < perClass else { continue }
                let planes = bytes[(r * 3073 + 1)..<(r * 3073 + 3073)].map { $0 }
                var pixels = [UInt8](repeating: 0, count: 3072)
                for i in 0..<1024 { for c in 0..<3 { pixels[3 * i + c] = planes[c * 1024 + i] } }
                try FileIO.makeDirectories("\(root)/\(split)/\(names[label])")
                try PNG.write(RGBImage(width: 32, height: 32, pixels: pixels), to: "\(root)/\(split)/\(names[label])/\(r).png")
                written[label] += 1
            }
            XCTAssertEqual(written, [perClass, perClass, perClass])
        }
    }

    func testTrainOnANonSquareDatasetNamesItsOwnFigures() throws {
        let base = try PrepFixtures.temporaryDirectory(name)
        let data = base + "/images", shards = base + "/shards", run = base + "/run"
        try writeFolders(data)
        try FileIO.writeAtomically(base + "/wide.toml", """
            name = "wide"
            seed = 3
            [dataset]
            path = "\(data)"
            size = [16, 32]
            resize = "stretch"
            [mix]
            mode = "sample"
            p = 0.5
            [shards]
            epochs = 1
            samples_per_shard = 20
            samples_per_chunk = 8
            [train]
            epochs = 1
            batch = 12
            widths = [4, 8, 8, 8]
            hidden = 16
            """)
        let prep = try PrepFixtures.run(["run", base + "/wide.toml", "--out", shards, "--quiet"])
        XCTAssertEqual(prep.status, 0, prep.err)
        XCTAssertEqual(prep.err, "")  // no shape warning: 32×16 is one the CNN takes
        let manifest = try Manifest.load(directory: shards)
        XCTAssertEqual([manifest.source.width, manifest.source.height, manifest.source.trainCount], [32, 16, 36])
        let stats = try XCTUnwrap(manifest.source.channelStats)
        XCTAssertNotEqual(stats.mean, [0.4914, 0.4822, 0.4465])

        let mixtrain = TestSupport.executable("mixtrain")
        let r = try TestSupport.run(mixtrain, ["train", shards, "--out", run, "--threads", "1"])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertFalse(r.err.contains("warning"), r.err)
        XCTAssertTrue(r.out.contains("inputs normalised with \(stats.description) (the training images' own, manifest.json source.channelStats)"), r.out)
        XCTAssertTrue(r.out.contains("epoch 1/1: train loss"), r.out)
        XCTAssertTrue(r.out.contains("final test accuracy "), r.out)
        let report = String(decoding: try FileIO.read(run + "/report.md"), as: UTF8.self)
        XCTAssertTrue(report.contains("| image size | 32×16 (width×height, 3 channels) |"), report)
        XCTAssertTrue(report.contains("| input normalisation | (x/255 − mean) / std per channel, \(stats.description): the training images' own"), report)
        XCTAssertTrue(report.contains("Final test accuracy: **"), report)

        let e = try TestSupport.run(mixtrain, ["eval", run + "/checkpoint-001.ckpt", shards, "--threads", "1"])
        XCTAssertEqual(e.status, 0, e.err)
        XCTAssertTrue(e.out.contains("12 test images\ninputs normalised with \(stats.description) (the checkpoint's, as in training)\n"), e.out)
        XCTAssertTrue(e.out.contains("airplane") && e.out.contains("bird"), e.out)
    }
}
