import Dispatch
import Kernels
import MixCore

/// Training throughput in images per second: `steps` timed train steps (forward, loss,
/// backward, Adam) after 3 warm-up steps, on a fixed random batch (standard-normal input,
/// random one-hot targets, drawn from `CounterRNG(seed:, stream: .test)`).
/// `winograd: false` forces im2col + GEMM in every block (for comparison); otherwise the
/// model's default policy applies.
/// Sets the thread count for BLAS and the package's parallel loops to `threads`.
public func benchmarkTrainSteps(config: CNNConfig = CNNConfig(), batch: Int = 128, steps: Int = 20,
                                threads: Int = 2, seed: UInt64 = 0, winograd: Bool = true,
                                microBatch: Int = SeedCNN.defaultMicroBatch) -> Double {
    benchmarkRun(config: config, batch: batch, steps: steps, threads: threads, seed: seed, profile: false,
                 winograd: winograd, microBatch: microBatch).imagesPerSecond
}

/// Like `benchmarkTrainSteps`, but also returns the seconds per step spent in each phase
/// (`conv0.convPool` (`.im2col`, `.gemm`, `.pool` without the small-K kernels), `conv1.gemmW`, `conv1.gemmX`,
/// `conv1.col2im`, `fc`, `loss`, `adam`, …), sorted by cost. Timing adds a little overhead.
public func benchmarkProfile(config: CNNConfig = CNNConfig(), batch: Int = 128, steps: Int = 20,
                             threads: Int = 2, seed: UInt64 = 0, winograd: Bool = true,
                             microBatch: Int = SeedCNN.defaultMicroBatch)
    -> (imagesPerSecond: Double, phases: [(name: String, secondsPerStep: Double)])
{
    let r = benchmarkRun(config: config, batch: batch, steps: steps, threads: threads, seed: seed, profile: true,
                         winograd: winograd, microBatch: microBatch)
    let phases = r.profile.map { (name: $0.key, secondsPerStep: $0.value / Double(steps)) }
        .sorted { $0.secondsPerStep > $1.secondsPerStep }
    return (r.imagesPerSecond, phases)
}

func benchmarkRun(config: CNNConfig, batch: Int, steps: Int, threads: Int, seed: UInt64, profile: Bool,
                  winograd: Bool, microBatch: Int)
    -> (imagesPerSecond: Double, profile: [String: Double])
{
    setThreads(threads)
    let model = SeedCNN(config: config, seed: seed, winogradMinInputChannels: winograd ? 32 : .max,
                        microBatch: microBatch)
    var adam = Adam(parameterCount: model.parameterCount)
    var rng = CounterRNG(seed: seed, stream: .test)
    let input = (0..<(batch * config.inputCount)).map { _ in Float(rng.normal()) }
    var targets = [Float](repeating: 0, count: batch * config.classes)
    for b in 0..<batch { targets[b * config.classes + rng.uniformInt(below: config.classes)] = 1 }
    return input.withUnsafeBufferPointer { xb in
        targets.withUnsafeBufferPointer { yb in
            for _ in 0..<3 {
                model.trainStep(input: xb.baseAddress!, targets: yb.baseAddress!, batch: batch, optimizer: &adam)
            }
            if profile { model.profile = [:] }
            let t0 = DispatchTime.now().uptimeNanoseconds
            for _ in 0..<steps {
                model.trainStep(input: xb.baseAddress!, targets: yb.baseAddress!, batch: batch, optimizer: &adam)
            }
            let dt = Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
            return (Double(steps * batch) / dt, model.profile ?? [:])
        }
    }
}
