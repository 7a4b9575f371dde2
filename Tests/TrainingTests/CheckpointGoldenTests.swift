import Foundation
import MixCore
import NN
import ShardStore
import XCTest
@testable import Training

/// The golden checkpoints: a tiny network's checkpoint with hand-chosen, exactly
/// representable values, written by `Checkpoint.encoded`. `Golden/golden-tiny-v2.ckpt`
/// pins the file format written today (version 2: a non-square 32×16 input and the
/// normalisation figures); `Golden/golden-tiny.ckpt`, written by mixshards 0.4 (version 1),
/// pins that old checkpoints still read. Both seed the fuzzer (`mixfuzz --target checkpoint`).
/// Regenerate the version 2 file (after a deliberate format change) with
/// MIXSHARDS_WRITE_GOLDEN=1 and review the diff.
final class CheckpointGoldenTests: XCTestCase {
    static let fileName = "golden-tiny-v2.ckpt"
    static let version1FileName = "golden-tiny.ckpt"

    /// The network, parameters and moments both golden files hold; `height`×`width` input.
    static func goldenCheckpoint(height: Int = 16, width: Int = 32,
                                 normalization: ChannelStats = ChannelStats(mean: [0.4930, 0.4850, 0.4495], std: [0.2461, 0.2433, 1])) -> Checkpoint {
        let config = CNNConfig(widths: [2, 2, 2, 2], hidden: 4, classes: 3, inputChannels: 3, inputHeight: height, inputWidth: width)
        let n = config.checkedParameterCount!
        let header = Checkpoint.Header(
            widths: config.widths, hidden: config.hidden, classes: config.classes, inputChannels: config.inputChannels,
            inputHeight: config.inputHeight, inputWidth: config.inputWidth, normalization: normalization,
            epoch: 1, adamStep: 10, learningRate: 0.001, beta1: 0.9, beta2: 0.999, epsilon: 1e-8,
            batch: 8, seed: 5, nextEpoch: 1,
            metrics: [EpochMetrics(epoch: 1, trainLoss: 1.0625, testLoss: 1.125, testAccuracy: 0.5, imagesPerSecond: 256, seconds: 0.5)],
            pipelineName: "golden", manifestSHA256: String(repeating: "ab", count: 32),
            sourceFingerprint: String(repeating: "cd", count: 32), parameterCount: n)
        return Checkpoint(header: header,
                          parameters: (0..<n).map { Float(($0 * 7) % 17 - 8) / 16 },
                          adamM: (0..<n).map { Float($0 % 5) / 32 - 0.0625 },
                          adamV: (0..<n).map { Float($0 % 3) / 1024 })
    }

    static func goldenPath(_ name: String) -> String {
        Bundle.module.path(forResource: "Golden", ofType: nil)! + "/" + name
    }

    func testGoldenCheckpointBytes() throws {
        let bytes = try Self.goldenCheckpoint().encoded()
        XCTAssertEqual(Array(bytes[8..<12]), [2, 0, 0, 0])  // version 2
        if ProcessInfo.processInfo.environment["MIXSHARDS_WRITE_GOLDEN"] == "1" {
            let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path + "/Golden/" + Self.fileName
            try FileIO.writeAtomically(source, bytes)
            return
        }
        XCTAssertEqual(bytes, try FileIO.read(Self.goldenPath(Self.fileName)))
    }

    func testGoldenCheckpointReadsBack() throws {
        let checkpoint = try Checkpoint.read(Self.goldenPath(Self.fileName))
        XCTAssertEqual(checkpoint, Self.goldenCheckpoint())
        XCTAssertEqual(checkpoint.header.parameterCount, 2 * 3 * 9 + 2 + 3 * (2 * 2 * 9 + 2) + 4 * (2 * 1 * 2) + 4 + 3 * 4 + 3)
        XCTAssertEqual(checkpoint.parameters[1], -0.0625)  // (7 − 8) / 16
        let model = try checkpoint.makeModel()
        XCTAssertEqual(model.config.flatFeatures, 2 * 1 * 2)  // widths.last · (16/16) · (32/16)
        XCTAssertEqual(model.parameters, checkpoint.parameters)
        XCTAssertEqual(checkpoint.makeOptimizer().step, 10)
        XCTAssertEqual(checkpoint.normalizer.description, "mean (0.4930, 0.4850, 0.4495), std (0.2461, 0.2433, 1.0000)")
    }

    /// A version 1 checkpoint (mixshards 0.4: `inputSize`, no figures) reads as a square network
    /// trained with the CIFAR-10 constants, which is what every version 1 checkpoint was trained with.
    func testVersion1CheckpointsStillRead() throws {
        let bytes = try FileIO.read(Self.goldenPath(Self.version1FileName))
        XCTAssertEqual(Array(bytes[8..<12]), [1, 0, 0, 0])
        let checkpoint = try Checkpoint.read(Self.goldenPath(Self.version1FileName))
        XCTAssertEqual(checkpoint, Self.goldenCheckpoint(height: 16, width: 16, normalization: PixelNormalizer.cifar10))
        XCTAssertEqual(checkpoint.header.parameterCount, 197)
        XCTAssertEqual(checkpoint.normalizer, PixelNormalizer.legacy(channels: 3))
        XCTAssertEqual(try checkpoint.makeModel().parameters, checkpoint.parameters)
        // Rewritten, it is a version 2 file of the same checkpoint.
        XCTAssertEqual(try Checkpoint.decode(try checkpoint.encoded(), path: "x.ckpt"), checkpoint)
    }
}
