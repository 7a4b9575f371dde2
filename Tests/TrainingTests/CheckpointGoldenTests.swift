import Foundation
import MixCore
import NN
import XCTest
@testable import Training

/// The golden checkpoint (`Golden/golden-tiny.ckpt`): a tiny network's
/// checkpoint with hand-chosen, exactly representable values, written by
/// `Checkpoint.encoded`. It pins the file format and is the fuzzer's seed
/// (`mixfuzz --target checkpoint`). Regenerate (after a deliberate format
/// change) with MIXSHARDS_WRITE_GOLDEN=1 and review the diff.
final class CheckpointGoldenTests: XCTestCase {
    static let fileName = "golden-tiny.ckpt"

    static func goldenCheckpoint() -> Checkpoint {
        let config = CNNConfig(widths: [2, 2, 2, 2], hidden: 4, classes: 3, inputChannels: 3, inputSize: 16)
        let n = config.checkedParameterCount!
        let header = Checkpoint.Header(
            widths: config.widths, hidden: config.hidden, classes: config.classes, inputChannels: config.inputChannels,
            inputSize: config.inputHeight, epoch: 1, adamStep: 10, learningRate: 0.001, beta1: 0.9, beta2: 0.999, epsilon: 1e-8,
            batch: 8, seed: 5, nextEpoch: 1,
            metrics: [EpochMetrics(epoch: 1, trainLoss: 1.0625, testLoss: 1.125, testAccuracy: 0.5, imagesPerSecond: 256, seconds: 0.5)],
            pipelineName: "golden", manifestSHA256: String(repeating: "ab", count: 32),
            sourceFingerprint: String(repeating: "cd", count: 32), parameterCount: n)
        return Checkpoint(header: header,
                          parameters: (0..<n).map { Float(($0 * 7) % 17 - 8) / 16 },
                          adamM: (0..<n).map { Float($0 % 5) / 32 - 0.0625 },
                          adamV: (0..<n).map { Float($0 % 3) / 1024 })
    }

    static var goldenPath: String {
        Bundle.module.path(forResource: "Golden", ofType: nil)! + "/" + fileName
    }

    func testGoldenCheckpointBytes() throws {
        let bytes = try Self.goldenCheckpoint().encoded()
        if ProcessInfo.processInfo.environment["MIXSHARDS_WRITE_GOLDEN"] == "1" {
            let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().path + "/Golden/" + Self.fileName
            try FileIO.writeAtomically(source, bytes)
            return
        }
        XCTAssertEqual(bytes, try FileIO.read(Self.goldenPath))
    }

    func testGoldenCheckpointReadsBack() throws {
        let checkpoint = try Checkpoint.read(Self.goldenPath)
        XCTAssertEqual(checkpoint, Self.goldenCheckpoint())
        XCTAssertEqual(checkpoint.header.parameterCount, 197)
        XCTAssertEqual(checkpoint.parameters[1], -0.0625)  // (7 − 8) / 16
        let model = try checkpoint.makeModel()
        XCTAssertEqual(model.parameterCount, 197)
        XCTAssertEqual(model.parameters, checkpoint.parameters)
        XCTAssertEqual(checkpoint.makeOptimizer().step, 10)
    }
}
