import Kernels
import MixCore
import NN
import TestSupport
import XCTest

final class SeedCNNTests: XCTestCase {
    static let tiny = CNNConfig(widths: [2, 3, 4, 5], hidden: 6, classes: 3, inputChannels: 3, inputSize: 16)

    override func setUp() { setThreads(2) }

    func testParameterLayoutMatchesPyTorch() {
        let model = SeedCNN(config: CNNConfig(), seed: 0)
        XCTAssertEqual(model.parameterCount, 653_386)   // sum(p.numel() for p in SeedCNN().parameters())
        XCTAssertEqual(model.parameterTensors.map(\.name), [
            "convs.0.weight", "convs.0.bias", "convs.1.weight", "convs.1.bias",
            "convs.2.weight", "convs.2.bias", "convs.3.weight", "convs.3.bias",
            "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"])
        XCTAssertEqual(model.parameterTensors[6].shape, [256, 128, 3, 3])
        XCTAssertEqual(model.parameterTensors[8].shape, [256, 1024])
        XCTAssertEqual(model.parameterTensors.last!.offset + 10, model.parameterCount)
        XCTAssertEqual(model.parameters.count, model.parameterCount)
        XCTAssertEqual(model.gradients.count, model.parameterCount)
    }

    /// U(−1/√fan_in, 1/√fan_in) per tensor: bounds respected, mean ≈ 0, variance ≈ bound²/3.
    func testInitialisationStatistics() {
        let model = SeedCNN(config: CNNConfig(), seed: 7)
        let p = model.parameters
        for t in model.parameterTensors {
            let bound = Float(1 / Double(t.fanIn).squareRoot())
            let vals = p[t.offset..<(t.offset + t.count)]
            XCTAssertLessThanOrEqual(vals.map { abs($0) }.max()!, bound, t.name)
            if t.count >= 1000 {
                let mean = vals.reduce(0.0) { $0 + Double($1) } / Double(t.count)
                let varc = vals.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(t.count)
                let b2 = Double(bound) * Double(bound)
                XCTAssertEqual(mean, 0, accuracy: 4 * Double(bound) / (3 * Double(t.count)).squareRoot(), t.name)
                XCTAssertEqual(varc / (b2 / 3), 1, accuracy: 0.1, t.name)
                // Uses the whole range.
                XCTAssertGreaterThan(vals.max()!, 0.95 * bound, t.name)
            }
        }
        // Deterministic in the seed.
        XCTAssertEqual(SeedCNN(config: Self.tiny, seed: 3).parameters, SeedCNN(config: Self.tiny, seed: 3).parameters)
        XCTAssertNotEqual(SeedCNN(config: Self.tiny, seed: 3).parameters, SeedCNN(config: Self.tiny, seed: 4).parameters)
    }

    /// The initial parameters, bit for bit: the same digests are pinned in python/tests/test_rng.py
    /// against `mixshards.rng.initial_parameters`, which PyTorch users call (through
    /// `mixshards.torch.init_like_mixtrain`) to start from mixtrain's exact weights.
    func testInitialParametersArePinned() {
        let digests = [UInt64(0): "2bc2c1235473445fc74e3a37d26bb77e5a1afed7cbd9a14a1a12dc9714a862e7",
                       1: "25e4b499623b1023600e8fe8fd7669293f5f11b3f759acb0129757ac1c38a0e2"]
        for (seed, digest) in digests {
            let p = SeedCNN(config: CNNConfig(), seed: seed).parameters.map { $0.bitPattern.littleEndian }
            XCTAssertEqual(p.withUnsafeBytes { SHA256.hexDigest(of: $0) }, digest, "seed \(seed)")
        }
    }

    /// Finite differences of the whole network's loss against `trainStep`'s gradients.
    func testWholeNetworkGradient() {
        let config = Self.tiny
        let B = 2
        var rng = TestRNG(20)
        let x = rng.floats(B * config.inputCount, scale: 2)
        let y = rng.softTargets(rows: B, k: config.classes)
        // Threshold 3 mixes both conv paths: input channels are 3, 2, 3, 4.
        let model = SeedCNN(config: config, seed: 11, winogradMinInputChannels: 3)
        XCTAssertEqual(model.usesWinograd, [false, false, true, true])
        // Larger weights so the signal survives four blocks.
        var p0 = model.parameters.map { $0 * 3 }
        model.parameters = p0
        let loss = model.trainStep(input: x, targets: y, batch: B)
        let analytic = model.gradients
        XCTAssertEqual(loss, model.loss(input: x, targets: y, batch: B), accuracy: 1e-6)
        XCTAssertGreaterThan(analytic.reduce(0) { $0 + abs($1) }, 0)
        checkGradient("network", &p0, analytic: analytic, eps: 1e-3, atol: 1e-3, rtol: 5e-2) { p in
            model.parameters = p
            return Double(model.loss(input: x, targets: y, batch: B))
        }
        // Input-gradient path of every block is exercised above through the conv weights of
        // earlier blocks; grads are overwritten, not accumulated:
        model.parameters = p0
        model.trainStep(input: x, targets: y, batch: B)
        XCTAssertEqual(model.gradients, analytic)
    }

    /// Non-square images (H×W 48×32 and 32×64): fc1 takes `widths.last · (H/16) · (W/16)` inputs,
    /// the loss is DESIGN's (a naive Double network, `referenceLoss`), and its central differences
    /// (steps of 1e-6, in Double; every 4th parameter, to keep the debug build's time to seconds)
    /// match `trainStep`'s gradients on both conv paths. (Float32 differences need steps near 1e-3,
    /// which on images this large cross ReLU and pooling kinks at many parameters.)
    func testNonSquareWholeNetworkGradient() {
        for (H, W) in [(48, 32), (32, 64)] {
            let config = CNNConfig(widths: [2, 3, 4, 5], hidden: 6, classes: 3, inputChannels: 3, inputHeight: H, inputWidth: W)
            XCTAssertNil(config.validationError())
            XCTAssertEqual(config.flatFeatures, 5 * (H / 16) * (W / 16))
            XCTAssertEqual(config.inputCount, 3 * H * W)
            let B = 2
            var rng = TestRNG(25)
            let x = rng.floats(B * config.inputCount, scale: 2)
            let y = rng.softTargets(rows: B, k: config.classes)
            let model = SeedCNN(config: config, seed: 11, winogradMinInputChannels: 3)
            XCTAssertEqual(model.usesWinograd, [false, false, true, true])
            XCTAssertEqual(model.parameterTensors[8].shape, [6, 5 * (H / 16) * (W / 16)], "fc1.weight \(H)×\(W)")
            let p0 = model.parameters.map { $0 * 3 }
            model.parameters = p0
            let loss = model.trainStep(input: x, targets: y, batch: B)
            let analytic = model.gradients
            var reference = p0.map(Double.init)
            XCTAssertEqual(Double(loss), referenceLoss(config, params: reference, input: x, targets: y, batch: B),
                           accuracy: 1e-5, "loss \(H)×\(W)")
            let scale = analytic.map { abs($0) }.max()!
            XCTAssertGreaterThan(scale, 0)
            var failures = 0
            for i in stride(from: 0, to: reference.count, by: 4) {
                let orig = reference[i], eps = 1e-6
                reference[i] = orig + eps
                let lp = referenceLoss(config, params: reference, input: x, targets: y, batch: B)
                reference[i] = orig - eps
                let lm = referenceLoss(config, params: reference, input: x, targets: y, batch: B)
                reference[i] = orig
                let fd = (lp - lm) / (2 * eps)
                if abs(fd - Double(analytic[i])) > 1e-4 * Double(scale) + 1e-3 * abs(fd) {
                    failures += 1
                    if failures <= 5 { XCTFail("\(H)×\(W) gradient [\(i)]: finite difference \(fd) vs analytic \(analytic[i])") }
                }
            }
        }
        // A height or width that is not a multiple of 16 is refused by name.
        XCTAssertEqual(CNNConfig(inputHeight: 48, inputWidth: 40).validationError(),
                       "the input's height and width must be positive multiples of 2^4 (got 40×48, width×height)")
    }

    /// `logits` (chunked inference) agrees with the training forward pass and is
    /// independent of batch composition.
    func testLogitsAreChunkInvariant() {
        let config = Self.tiny
        let B = 5
        var rng = TestRNG(21)
        let x = rng.floats(B * config.inputCount)
        let model = SeedCNN(config: config, seed: 2, microBatch: 2)
        let all = model.logits(input: x, batch: B)
        XCTAssertEqual(all.count, B * config.classes)
        for b in 0..<B {
            let one = x.withUnsafeBufferPointer { model.logits(input: $0.baseAddress! + b * config.inputCount, batch: 1) }
            for k in 0..<config.classes {
                XCTAssertEqual(all[b * config.classes + k], one[k], accuracy: 1e-5)
            }
        }
        // Evaluate: argmax targets of the model's own predictions are all correct.
        var y = [Float](repeating: 0, count: B * config.classes)
        for b in 0..<B {
            let row = all[(b * config.classes)..<((b + 1) * config.classes)]
            y[b * config.classes + row.indices.max { row[$0] < row[$1] }! - b * config.classes] = 1
        }
        let ev = model.evaluate(input: x, targets: y, batch: B)
        XCTAssertEqual(ev.correct, B)
        let whole = SeedCNN(config: config, seed: 2, microBatch: 128)
        let ev2 = whole.evaluate(input: x, targets: y, batch: B)
        XCTAssertEqual(ev.lossSum, ev2.lossSum, accuracy: 1e-4)
        XCTAssertEqual(Float(ev.lossSum / Double(B)), model.trainStep(input: x, targets: y, batch: B), accuracy: 1e-5)
    }

    /// A tiny network memorises a small fixed batch: loss falls substantially in 50 steps.
    func testLearnsSmallBatch() {
        let config = CNNConfig(widths: [4, 8, 8, 8], hidden: 16, classes: 4, inputChannels: 3, inputSize: 16)
        let B = 8
        var rng = TestRNG(22)
        let x = rng.floats(B * config.inputCount)
        let y = rng.softTargets(rows: B, k: config.classes, blend: false)
        let model = SeedCNN(config: config, seed: 5)
        var adam = Adam(parameterCount: model.parameterCount, learningRate: 1e-2)
        var first: Float = 0, last: Float = 0
        for step in 0..<50 {
            let l = model.trainStep(input: x, targets: y, batch: B, optimizer: &adam)
            XCTAssertTrue(l.isFinite)
            if step == 0 { first = l }
            last = l
        }
        XCTAssertEqual(adam.step, 50)
        XCTAssertGreaterThan(first, 1.0)
        XCTAssertLessThan(last, 0.3 * first, "loss \(first) → \(last)")
        XCTAssertEqual(model.evaluate(input: x, targets: y, batch: B).correct, B)
    }

    /// Batch sizes can change between steps (buffers grow; smaller batches reuse them).
    func testVaryingBatchSizes() {
        let config = Self.tiny
        var rng = TestRNG(23)
        let x = rng.floats(4 * config.inputCount)
        let y = rng.softTargets(rows: 4, k: config.classes)
        let model = SeedCNN(config: config, seed: 9)
        let l2a = model.trainStep(input: x, targets: y, batch: 2)
        let g2a = model.gradients
        _ = model.trainStep(input: x, targets: y, batch: 4)
        let l2b = model.trainStep(input: x, targets: y, batch: 2)
        XCTAssertEqual(l2a, l2b)
        XCTAssertEqual(g2a, model.gradients)
    }

    /// Micro-batches: the thread count never changes a number (loss, gradients, logits,
    /// evaluation), and the micro-batches' gradients add up to the whole batch's.
    func testThreadCountNeverChangesANumber() {
        for config in [Self.tiny, CNNConfig(widths: [2, 3, 4, 5], hidden: 6, classes: 3, inputChannels: 3, inputHeight: 32, inputWidth: 64)] {
            checkThreadCountNeverChangesANumber(config)
        }
    }

    func checkThreadCountNeverChangesANumber(_ config: CNNConfig) {
        let B = 11   // micro-batches of 3: 3, 3, 3, 2
        var rng = TestRNG(24)
        let x = rng.floats(B * config.inputCount)
        let y = rng.softTargets(rows: B, k: config.classes)
        // Micro-batches of 3 (4 of them: one round) and of 1 (11: two rounds of at most 8).
        func run(threads: Int, microBatch: Int) -> (loss: Float, grads: [Float], params: [Float], logits: [Float], eval: Double) {
            setThreads(threads)
            let model = SeedCNN(config: config, seed: 4, winogradMinInputChannels: 2, microBatch: microBatch)
            var adam = Adam(parameterCount: model.parameterCount)
            var loss: Float = 0
            for _ in 0..<3 { loss = model.trainStep(input: x, targets: y, batch: B, optimizer: &adam) }
            let grads = model.gradients
            return (loss, grads, model.parameters, model.logits(input: x, batch: B),
                    model.evaluate(input: x, targets: y, batch: B).lossSum)
        }
        for microBatch in [3, 1] {
            let one = run(threads: 1, microBatch: microBatch)
            for threads in [2, 3, 8] {
                let many = run(threads: threads, microBatch: microBatch)
                let what = "threads \(threads), micro-batch \(microBatch)"
                XCTAssertEqual(one.loss, many.loss, what)
                XCTAssertEqual(one.grads, many.grads, what)
                XCTAssertEqual(one.params, many.params, what)
                XCTAssertEqual(one.logits, many.logits, what)
                XCTAssertEqual(one.eval, many.eval, what)
            }
        }
        // Micro-batches of 3 against one micro-batch of 11: the same gradient up to rounding.
        setThreads(2)
        let whole = SeedCNN(config: config, seed: 4, winogradMinInputChannels: 2, microBatch: 64)
        let lw = whole.trainStep(input: x, targets: y, batch: B), gw = whole.gradients
        let scale = gw.map { abs($0) }.max()!
        XCTAssertGreaterThan(scale, 0)
        for microBatch in [3, 1] {
            let split = SeedCNN(config: config, seed: 4, winogradMinInputChannels: 2, microBatch: microBatch)
            XCTAssertEqual(split.trainStep(input: x, targets: y, batch: B), lw, accuracy: 1e-5)
            let gs = split.gradients
            for i in gs.indices { XCTAssertEqual(gs[i], gw[i], accuracy: 1e-5 * scale, "gradient \(i), micro-batch \(microBatch)") }
            // Bounded memory: one round's slots, not one per micro-batch.
            XCTAssertLessThanOrEqual(split.gradientSlotCount, SeedCNN.microBatchesPerRound)
        }
    }
}
