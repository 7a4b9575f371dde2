@testable import NN
import XCTest

/// `Workspace.byteCount` (what `MemoryBudget` checks before training) equals what a workspace allocates.
final class WorkspaceSizeTests: XCTestCase {
    func testByteCountIsWhatInitAllocates() {
        let configs = [
            CNNConfig(),                                                                       // the seed CNN, 3×32×32
            CNNConfig(widths: [4, 8, 8, 8], hidden: 16, classes: 10, inputChannels: 3, inputSize: 16),
            CNNConfig(widths: [40, 48, 16, 64], hidden: 7, classes: 3, inputChannels: 1, inputSize: 48),
            CNNConfig(widths: [8, 8], hidden: 5, classes: 2, inputChannels: 2, inputSize: 4),
            CNNConfig(widths: [4, 8, 8, 8], hidden: 16, classes: 10, inputChannels: 3, inputHeight: 48, inputWidth: 32),
            CNNConfig(widths: [40, 48, 16, 64], hidden: 7, classes: 3, inputChannels: 3, inputHeight: 32, inputWidth: 64),
        ]
        for config in configs {
            for minChannels in [32, 1, Int.max] {
                let winograd = SeedCNN.winogradBlocks(config, minInputChannels: minChannels)
                XCTAssertEqual(winograd, SeedCNN(config: config, seed: 0, winogradMinInputChannels: minChannels).usesWinograd)
                for capacity in [1, 7, 32] {
                    for training in [true, false] {
                        let ws = Workspace(config: config, capacity: capacity, training: training, winograd: winograd)
                        XCTAssertEqual(Workspace.byteCount(config: config, capacity: capacity, training: training, winograd: winograd),
                                       Double(ws.allocatedBytes), "\(config) winograd \(winograd) capacity \(capacity) training \(training)")
                    }
                }
            }
        }
    }

    /// Parameters, gradients, slots and Adam, plus a training and an inference workspace per worker.
    func testMemoryNeededAddsAWorkspacePairPerWorker() {
        let config = CNNConfig()
        let winograd = SeedCNN.winogradBlocks(config, minInputChannels: 32)
        let pair = Workspace.byteCount(config: config, capacity: 32, training: true, winograd: winograd)
            + Workspace.byteCount(config: config, capacity: 32, training: false, winograd: winograd)
        let one = SeedCNN.memoryNeeded(config: config, microBatch: 32, workers: 1, training: true)
        let two = SeedCNN.memoryNeeded(config: config, microBatch: 32, workers: 2, training: true)
        XCTAssertEqual(two - one, pair)
        let parameters = Double(SeedCNN(config: config, seed: 0).parameterCount)
        XCTAssertEqual(one - pair, 4 * parameters * Double(2 + SeedCNN.microBatchesPerRound - 1 + 2))
        // The seed CNN on CIFAR: tens of MiB per thread. On 1024×1024 images: tens of GiB.
        XCTAssertLessThan(one, 100 * 1_048_576)
        let big = CNNConfig(widths: [32, 64, 128, 1], hidden: 16, classes: 10, inputChannels: 3, inputSize: 1024)
        XCTAssertGreaterThan(SeedCNN.memoryNeeded(config: big, microBatch: 32, workers: 1, training: true), 10 * 1_073_741_824)
        // Non-square: 64×48 needs what 48×64 needs (the same areas at every block), 3/4 of 64×64's activations.
        let wide = CNNConfig(inputHeight: 48, inputWidth: 64), tall = CNNConfig(inputHeight: 64, inputWidth: 48)
        XCTAssertEqual(SeedCNN.memoryNeeded(config: wide, microBatch: 32, workers: 2, training: true),
                       SeedCNN.memoryNeeded(config: tall, microBatch: 32, workers: 2, training: true))
        let square = CNNConfig(inputSize: 64), wideLayout = Workspace.Layout(config: wide, capacity: 32, winograd: [false, true, true, true])
        let squareLayout = Workspace.Layout(config: square, capacity: 32, winograd: [false, true, true, true])
        XCTAssertEqual(wideLayout.cols[0], squareLayout.cols[0] * 3 / 4)
        XCTAssertEqual(wideLayout.fcIn, 32 * 256 * 3 * 4)
        // Sizes a file may declare do not overflow: 65,536-pixel sides at the widest widths.
        let huge = CNNConfig(widths: [1024, 1024, 1024, 1024], hidden: 1, classes: 2, inputChannels: 1024, inputSize: 65536)
        XCTAssertGreaterThan(SeedCNN.memoryNeeded(config: huge, microBatch: 4096, workers: 64, training: true), 1e18)
    }
}
