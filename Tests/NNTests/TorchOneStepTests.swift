import Foundation
import Kernels
import NN
import XCTest

/// One training step against PyTorch's (llm.c's `test_gpt2` pattern): the seed CNN with widths
/// [32, 32, 32, 32] and hidden 32 (conv0 on the im2col path, convs 1–3 on the Winograd path),
/// PyTorch's initial parameters loaded into it, a batch of 40 (micro-batches of 32 and 8) of
/// CIFAR-10 images, half of them mixed, with soft targets. The logits, the loss, the gradients
/// and the parameters after one Adam step must equal PyTorch's to float tolerance, at 1 and at 2
/// threads. The fixtures are `Fixtures/torch-one-step/` (32×32, CIFAR-10's normalisation) and
/// `Fixtures/torch-one-step-48x32/` (non-square: 48 wide, 32 high, so fc1 flattens a 2×3 map;
/// the embedded data's own normalisation figures), made by `scripts/torch/make_one_step_fixture.py`
/// (PyTorch 2.15, once; the test needs no PyTorch).
///
/// Tolerances (float32 throughout; the fixture script prints float32-vs-float64 differences of
/// the same step of at most 2.5e-6 of a tensor's largest gradient):
/// - logits: |Δ| ≤ 1e-5 + 1e-4·|z|;  loss: |Δ| ≤ 1e-5·loss.
/// - gradients, per tensor: |Δ| ≤ 1e-4·max|g_torch| + 1e-3·|g_torch|. A scale error of 0.1 %
///   or more, a missing bias gradient or a wrong micro-batch weight fails it.
/// - one Adam update Δp = p1 − p0, per element: |Δp − Δp_torch| ≤ 1e-8 + 1e-3·|Δp_torch| +
///   min(2·lr, lr·ε·δg/(|g| + ε)²), δg being the gradient tolerance above: step 1 of Adam is
///   lr·g/(|g| + ε), so an element whose |g| is near ε (or below) moves with float noise in g;
///   every element with |g| ≳ 1e-6 is held to 0.1 % of its update.
final class TorchOneStepTests: XCTestCase {
    struct Tensor: Decodable {
        let name: String
        let shape: [Int]
        let offset: Int
        let fan_in: Int
    }

    struct Optimizer: Decodable {
        let lr: Double
        let beta1: Double
        let beta2: Double
        let eps: Double
    }

    struct Fixture: Decodable {
        let widths: [Int]
        let hidden: Int
        let classes: Int
        let channels: Int
        let height: Int
        let width: Int
        let batch: Int
        let mean: [Float]
        let std: [Float]
        let optimizer: Optimizer
        let loss_value: Float
        let parameter_count: Int
        let parameters: [Tensor]

        var config: CNNConfig {
            CNNConfig(widths: widths, hidden: hidden, classes: classes, inputChannels: channels, inputHeight: height, inputWidth: width)
        }
    }

    /// The fixtures: square, then non-square.
    static let folders = ["torch-one-step", "torch-one-step-48x32"]

    static func data(_ folder: String, _ name: String) throws -> Data {
        try Data(contentsOf: URL(fileURLWithPath: Bundle.module.resourcePath! + "/Fixtures/" + folder + "/" + name))
    }

    /// A raw little-endian float32 file.
    static func floats(_ folder: String, _ name: String, count: Int) throws -> [Float] {
        let d = try data(folder, name)
        XCTAssertEqual(d.count, 4 * count, name)
        return d.withUnsafeBytes { raw in
            (0..<count).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self))) }
        }
    }

    struct Step {
        var logits: [Float]
        var loss: Float
        var grads: [Float]
        var params: [Float]
    }

    /// The fixture's network and batch, one step at `threads` threads.
    static func step(_ f: Fixture, params0: [Float], input: [Float], targets: [Float], threads: Int,
                     lrScale: Double = 1, perturb: ((SeedCNN) -> Void)? = nil) -> Step {
        setThreads(threads)
        let model = SeedCNN(config: f.config, seed: 0)
        model.parameters = params0
        let logits = model.logits(input: input, batch: f.batch)
        var adam = Adam(parameterCount: model.parameterCount, learningRate: f.optimizer.lr * lrScale, beta1: f.optimizer.beta1,
                        beta2: f.optimizer.beta2, epsilon: f.optimizer.eps)
        let loss = model.trainStep(input: input, targets: targets, batch: f.batch)
        perturb?(model)
        let grads = model.gradients
        adam.step(model)
        return Step(logits: logits, loss: loss, grads: grads, params: model.parameters)
    }

    /// Largest `|a − b| / bound(i)` over `range` (≤ 1 passes) and the largest `|a − b|`.
    static func worst(_ a: [Float], _ b: [Float], _ range: Range<Int>, bound: (Int) -> Double) -> (ratio: Double, abs: Double, at: Int) {
        var ratio = 0.0, absMax = 0.0, at = range.lowerBound
        for i in range {
            let d = abs(Double(a[i]) - Double(b[i]))
            absMax = max(absMax, d)
            let r = d / bound(i)
            if r > ratio { ratio = r; at = i }
        }
        return (ratio, absMax, at)
    }

    struct Expected {
        let fixture: Fixture
        let params0: [Float]
        let input: [Float]
        let targets: [Float]
        let logits: [Float]
        let grads: [Float]
        let params1: [Float]
    }

    static func load(_ folder: String) throws -> Expected {
        let f = try JSONDecoder().decode(Fixture.self, from: data(folder, "fixture.json"))
        let n = f.parameter_count, per = f.channels * f.height * f.width
        // Network input: bytes/255 normalised per channel in float32, as mixtrain's PixelNormalizer
        // and the fixture script compute it (bit for bit).
        let bytes = [UInt8](try data(folder, "images.u8"))
        XCTAssertEqual(bytes.count, f.batch * per)
        let plane = f.height * f.width
        let input = bytes.enumerated().map { i, b in
            let c = (i / plane) % f.channels
            return (Float(b) / 255 - f.mean[c]) / f.std[c]
        }
        return Expected(fixture: f, params0: try floats(folder, "params0.f32", count: n), input: input,
                        targets: try floats(folder, "targets.f32", count: f.batch * f.classes),
                        logits: try floats(folder, "logits.f32", count: f.batch * f.classes),
                        grads: try floats(folder, "grads.f32", count: n), params1: try floats(folder, "params1.f32", count: n))
    }

    /// The problems of `got` against PyTorch's step (empty when it matches), and a summary of the
    /// largest differences.
    static func compare(_ got: Step, _ e: Expected, tensors: [ParameterTensor]) -> (problems: [String], summary: [String]) {
        var problems: [String] = [], summary: [String] = []
        let lr = e.fixture.optimizer.lr, eps = e.fixture.optimizer.eps
        let z = worst(got.logits, e.logits, 0..<e.logits.count) { 1e-5 + 1e-4 * abs(Double(e.logits[$0])) }
        summary.append("logits: max |Δ| \(z.abs), worst ratio to tolerance \(z.ratio)")
        if z.ratio > 1 { problems.append("logits[\(z.at)]: \(got.logits[z.at]) vs PyTorch \(e.logits[z.at])") }
        let dl = abs(Double(got.loss) - Double(e.fixture.loss_value))
        summary.append("loss: \(got.loss) vs \(e.fixture.loss_value), |Δ| \(dl)")
        if dl > 1e-5 * Double(e.fixture.loss_value) { problems.append("loss \(got.loss) vs PyTorch \(e.fixture.loss_value)") }
        for t in tensors {
            let r = t.offset..<(t.offset + t.count)
            let scale = e.grads[r].map { abs(Double($0)) }.max() ?? 0
            let g = worst(got.grads, e.grads, r) { 1e-4 * scale + 1e-3 * abs(Double(e.grads[$0])) }
            if g.ratio > 1 || !(scale > 0) {
                problems.append("\(t.name) gradient [\(g.at - t.offset)]: \(got.grads[g.at]) vs PyTorch \(e.grads[g.at]) (largest |g| \(scale))")
            }
            // The update, with the slack that a gradient difference within the gradient
            // tolerance explains (at most 2·lr, the largest possible difference).
            let p = worst(got.params.indices.map { got.params[$0] - e.params0[$0] },
                          e.params1.indices.map { e.params1[$0] - e.params0[$0] }, r) { i in
                let gi = abs(Double(e.grads[i])), dg = 1e-4 * scale + 1e-3 * gi
                let slack = min(2 * lr, lr * eps * dg / ((gi + eps) * (gi + eps)))
                return 1e-8 + 1e-3 * abs(Double(e.params1[i]) - Double(e.params0[i])) + slack
            }
            if p.ratio > 1 {
                problems.append("\(t.name) after Adam [\(p.at - t.offset)]: \(got.params[p.at]) vs PyTorch \(e.params1[p.at])")
            }
            summary.append("\(t.name): gradient max |Δ| \(g.abs) (largest |g| \(scale)), ratio \(g.ratio); "
                           + "update max |Δ| \(p.abs), ratio \(p.ratio)")
        }
        return (problems, summary)
    }

    func testOneStepMatchesPyTorch() throws {
        for folder in Self.folders { try checkOneStep(folder) }
    }

    func checkOneStep(_ folder: String) throws {
        let e = try Self.load(folder)
        let f = e.fixture
        let model = SeedCNN(config: f.config, seed: 0)
        XCTAssertEqual(model.config.flatFeatures, 32 * (f.height / 16) * (f.width / 16), folder)
        // The fixture's buffer is PyTorch's model.parameters() order; so is mixtrain's, with the
        // same fan-in (the initialisation's bound 1/√fan_in).
        XCTAssertEqual(model.parameterCount, f.parameter_count)
        XCTAssertEqual(model.parameterTensors.map(\.name), f.parameters.map(\.name))
        XCTAssertEqual(model.parameterTensors.map(\.shape), f.parameters.map(\.shape))
        XCTAssertEqual(model.parameterTensors.map(\.offset), f.parameters.map(\.offset))
        XCTAssertEqual(model.parameterTensors.map(\.fanIn), f.parameters.map(\.fan_in))
        // Both conv paths and two micro-batches (32 + 8) are exercised.
        XCTAssertEqual(model.usesWinograd, [false, true, true, true])
        XCTAssertEqual(model.microBatch, 32)
        XCTAssertEqual(f.batch, 40)

        let one = Self.step(f, params0: e.params0, input: e.input, targets: e.targets, threads: 1)
        let (problems, summary) = Self.compare(one, e, tensors: model.parameterTensors)
        for p in problems { XCTFail("\(folder): \(p)") }
        if ProcessInfo.processInfo.environment["MIXSHARDS_VERBOSE_TESTS"] != nil { print(summary.joined(separator: "\n")) }

        // The thread count changes no number.
        let two = Self.step(f, params0: e.params0, input: e.input, targets: e.targets, threads: 2)
        XCTAssertEqual(two.logits, one.logits)
        XCTAssertEqual(two.loss, one.loss)
        XCTAssertEqual(two.grads, one.grads)
        XCTAssertEqual(two.params, one.params)
    }

    /// The comparison catches real bugs: a gradient 0.5 % too large, a missing bias gradient, a
    /// gradient divided by the micro-batch instead of the batch, an update 0.5 % too large.
    func testComparisonCatchesPerturbations() throws {
        let e = try Self.load(Self.folders[0])
        let f = e.fixture
        let tensors = SeedCNN(config: f.config, seed: 0).parameterTensors
        let perturbations: [(String, (SeedCNN) -> Void)] = [
            ("conv2 weight gradient × 1.005", { m in
                let t = m.parameterTensors[4]
                m.withGradients { g in for i in t.offset..<(t.offset + t.count) { g[i] *= 1.005 } }
            }),
            ("conv1 bias gradient zeroed", { m in
                let t = m.parameterTensors[3]
                m.withGradients { g in for i in t.offset..<(t.offset + t.count) { g[i] = 0 } }
            }),
            ("fc2 weight gradient × 40/32", { m in
                let t = m.parameterTensors[10]
                m.withGradients { g in for i in t.offset..<(t.offset + t.count) { g[i] *= 40 / 32 } }
            }),
        ]
        for (what, perturb) in perturbations {
            let got = Self.step(f, params0: e.params0, input: e.input, targets: e.targets, threads: 2, perturb: perturb)
            XCTAssertFalse(Self.compare(got, e, tensors: tensors).problems.isEmpty, "not caught: \(what)")
        }
        // An update 0.5 % too large.
        let got = Self.step(f, params0: e.params0, input: e.input, targets: e.targets, threads: 2, lrScale: 1.005)
        XCTAssertFalse(Self.compare(got, e, tensors: tensors).problems.isEmpty, "not caught: learning rate × 1.005")
    }
}
