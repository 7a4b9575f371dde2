import Dispatch
import Kernels
import MixCore

/// The seed CNN with explicit forward/backward passes on flat buffers.
///
/// Memory layout:
/// - The caller's input is NCHW `[B, C, H, W]` (H and W multiples of 2^blocks, square or not); targets are `[B, classes]`.
/// - Inside, activations are channel-major **CNHW** `[C, B, H, W]`: each conv layer is
///   one GEMM `W[Cout, Cin·9] × col[Cin·9, B·H·W]` whose output is already CNHW, so no
///   transposes are needed between blocks. The last pooled map is transposed once to
///   `[B, C·h·w]` (PyTorch's flatten order) for the fully connected layers.
/// - Every parameter lives in ONE contiguous buffer, in PyTorch's `model.parameters()`
///   order (`convs.i.weight`, `convs.i.bias`, …, `fc1.weight`, `fc1.bias`, `fc2.weight`,
///   `fc2.bias`); gradients live in a second buffer with the same layout.
/// - Activation buffers are allocated once per batch capacity and reused.
public final class SeedCNN {
    public let config: CNNConfig
    public let convs: [Conv2D]
    /// Whether conv block `i` runs through `WinogradConvBlock` (else im2col + GEMM).
    public let usesWinograd: [Bool]
    public let fc1: Linear
    public let fc2: Linear
    /// Name, shape and offset of every parameter tensor, in buffer order.
    public let parameterTensors: [ParameterTensor]
    /// Total number of parameters.
    public let parameterCount: Int

    /// Samples per micro-batch. `trainStep` splits every batch into micro-batches of this
    /// size (the last may be shorter), runs them on up to `kernelThreads` threads with
    /// single-threaded BLAS, and sums their gradients in micro-batch order; `logits` and
    /// `evaluate` work in chunks of this size too. It never depends on the thread count,
    /// so neither does any number the network computes.
    public let microBatch: Int
    /// The default `microBatch`: 32 samples (4 per batch of 128, so 1, 2 or 4 threads
    /// share a batch evenly; measured no slower on one thread than whole batches).
    public static let defaultMicroBatch = 32
    /// Micro-batches computed before their gradients are added up (`trainStep`): bounds
    /// the gradient buffers to this many, whatever the batch size. A batch of 128 in
    /// micro-batches of 32 is one round.
    public static let microBatchesPerRound = 8
    /// A first block with at most this many im2col rows (Cin·9 ≤ 36: an RGB or grey input)
    /// runs through `conv3x3Pool` and `conv3x3PoolBackward` when the CPU has them (AVX2 and
    /// FMA): read straight from the input, the GEMM fused with bias, ReLU and pool, and the
    /// weight gradient with the pool's backward. Elsewhere im2col and OpenBLAS, which packs
    /// K = 27 poorly (a quarter of its speed).
    public static let smallKMaxRows = 36

    /// Whether block `i` uses the small-K kernels (see `smallKMaxRows`; a later block would
    /// need dConv for its input gradient, which they do not make).
    func usesSmallK(_ i: Int) -> Bool {
        i == 0 && !usesWinograd[i] && convs[i].inChannels * convs[i].kernel * convs[i].kernel <= SeedCNN.smallKMaxRows
            && hasSmallKConvKernels
    }

    let params: UnsafeMutablePointer<Float>
    let grads: UnsafeMutablePointer<Float>
    /// One training / inference workspace per worker thread (capacity `microBatch`).
    var trainWorkspaces: [Workspace] = []
    var inferenceWorkspaces: [Workspace] = []
    /// Gradient buffers of the micro-batches of one round (micro-batch 0 writes `grads` directly).
    var gradientSlots: [UnsafeMutablePointer<Float>] = []
    /// How many gradient buffers besides the gradient itself are allocated (at most
    /// `microBatchesPerRound`).
    public var gradientSlotCount: Int { gradientSlots.count }
    /// When non-nil, `trainStep` adds the seconds spent in each phase here (summed over
    /// worker threads, so CPU seconds).
    public var profile: [String: Double]?

    /// A network with PyTorch's default initialisation: every weight and bias drawn from
    /// U(−1/√fan_in, 1/√fan_in), tensor `i` (in buffer order) from
    /// `CounterRNG(seed: seed, stream: .initialise, epoch: 0, position: i)`.
    ///
    /// Blocks after the first with at least `winogradMinInputChannels` input channels use Winograd
    /// F(2×2, 3×3) (`WinogradConvBlock`); the others use im2col + one GEMM. With few input
    /// channels the 16 Winograd GEMMs get too thin (K = Cin) to pay off; with the default
    /// 32, blocks 2–4 of the seed model use Winograd (measured ~18% faster training than
    /// im2col everywhere; the first block, Cin = 3, stays im2col). Pass `.max` to disable.
    public init(config: CNNConfig = CNNConfig(), seed: UInt64, winogradMinInputChannels: Int = 32,
                microBatch: Int = SeedCNN.defaultMicroBatch) {
        if let problem = config.validationError() { preconditionFailure("CNNConfig: \(problem)") }
        precondition(microBatch >= 1, "SeedCNN: microBatch must be ≥ 1")
        self.config = config
        self.microBatch = microBatch
        var convs: [Conv2D] = []
        var cin = config.inputChannels
        for w in config.widths {
            convs.append(Conv2D(inChannels: cin, outChannels: w))
            cin = w
        }
        self.convs = convs
        // Block 0 reads the caller's NCHW input, which only the im2col path handles.
        self.usesWinograd = SeedCNN.winogradBlocks(config, minInputChannels: winogradMinInputChannels)
        fc1 = Linear(inFeatures: config.flatFeatures, outFeatures: config.hidden)
        fc2 = Linear(inFeatures: config.hidden, outFeatures: config.classes)

        var tensors: [ParameterTensor] = []
        var offset = 0
        func add(_ name: String, _ shape: [Int], fanIn: Int) {
            let t = ParameterTensor(name: name, shape: shape, offset: offset, fanIn: fanIn)
            tensors.append(t)
            offset += t.count
        }
        for (i, c) in convs.enumerated() {
            add("convs.\(i).weight", [c.outChannels, c.inChannels, c.kernel, c.kernel], fanIn: c.fanIn)
            add("convs.\(i).bias", [c.outChannels], fanIn: c.fanIn)
        }
        add("fc1.weight", [fc1.outFeatures, fc1.inFeatures], fanIn: fc1.inFeatures)
        add("fc1.bias", [fc1.outFeatures], fanIn: fc1.inFeatures)
        add("fc2.weight", [fc2.outFeatures, fc2.inFeatures], fanIn: fc2.inFeatures)
        add("fc2.bias", [fc2.outFeatures], fanIn: fc2.inFeatures)
        parameterTensors = tensors
        parameterCount = offset

        params = .allocate(capacity: offset)
        grads = .allocate(capacity: offset)
        grads.initialize(repeating: 0, count: offset)
        for (i, t) in tensors.enumerated() {
            var rng = CounterRNG(seed: seed, stream: .initialise, epoch: 0, position: UInt32(i))
            let bound = 1 / Double(t.fanIn).squareRoot()
            for j in 0..<t.count {
                params[t.offset + j] = Float((2 * rng.uniform() - 1) * bound)
            }
        }
    }

    deinit {
        params.deallocate()
        grads.deallocate()
        for g in gradientSlots { g.deallocate() }
    }

    /// Which conv blocks use Winograd: blocks after the first with at least
    /// `minInputChannels` input channels (see `init`).
    static func winogradBlocks(_ config: CNNConfig, minInputChannels: Int) -> [Bool] {
        config.widths.indices.map { $0 > 0 && config.widths[$0 - 1] >= minInputChannels }
    }

    /// Bytes a network of `config` allocates when `workers` threads train it (or, with
    /// `training` false, only evaluate it) in micro-batches of `microBatch`: parameters
    /// and gradients, at most `microBatchesPerRound − 1` gradient slots and Adam's two
    /// moments when training, and one training and one inference workspace per worker.
    /// In floating point, so that sizes read from a file cannot overflow; the config
    /// must be valid (`validationError() == nil`).
    public static func memoryNeeded(config: CNNConfig, microBatch: Int, workers: Int, training: Bool,
                                    winogradMinInputChannels: Int = 32) -> Double {
        let winograd = winogradBlocks(config, minInputChannels: winogradMinInputChannels)
        let parameters = Double(config.checkedParameterCount ?? Int.max)
        let copies = training ? 2 + Double(microBatchesPerRound - 1) + 2 : 2
        let inference = Workspace.byteCount(config: config, capacity: microBatch, training: false, winograd: winograd)
        let train = training ? Workspace.byteCount(config: config, capacity: microBatch, training: true, winograd: winograd) : 0
        return 4 * parameters * copies + Double(workers) * (train + inference)
    }

    // MARK: Parameter access

    /// A copy of all parameters (get) or replaces them (set; count must match).
    public var parameters: [Float] {
        get { Array(UnsafeBufferPointer(start: params, count: parameterCount)) }
        set {
            precondition(newValue.count == parameterCount, "parameters: count mismatch")
            newValue.withUnsafeBufferPointer { params.update(from: $0.baseAddress!, count: parameterCount) }
        }
    }

    /// A copy of the gradients from the last `trainStep`.
    public var gradients: [Float] {
        Array(UnsafeBufferPointer(start: grads, count: parameterCount))
    }

    /// Direct access to the flat parameter buffer (for optimisers and checkpoints).
    public func withParameters<R>(_ body: (UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        try body(UnsafeMutableBufferPointer(start: params, count: parameterCount))
    }

    /// Direct access to the flat gradient buffer.
    public func withGradients<R>(_ body: (UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        try body(UnsafeMutableBufferPointer(start: grads, count: parameterCount))
    }

    var parameterPointer: UnsafeMutablePointer<Float> { params }
    var gradientPointer: UnsafeMutablePointer<Float> { grads }

    /// Offsets of the weight and bias of conv block `i`, and of the fc layers.
    func convWeight(_ i: Int) -> Int { parameterTensors[2 * i].offset }
    func convBias(_ i: Int) -> Int { parameterTensors[2 * i + 1].offset }
    var fc1Weight: Int { parameterTensors[2 * convs.count].offset }
    var fc1Bias: Int { parameterTensors[2 * convs.count + 1].offset }
    var fc2Weight: Int { parameterTensors[2 * convs.count + 2].offset }
    var fc2Bias: Int { parameterTensors[2 * convs.count + 3].offset }

    /// Height and width of the input of conv block `i`.
    func blockSize(_ i: Int) -> (height: Int, width: Int) { (config.height(block: i), config.width(block: i)) }

    // MARK: Phase timing

    /// Runs `body`, adding its seconds to `ws.profile[name]` when profiling.
    @inline(__always)
    func timed<R>(_ ws: Workspace, _ name: String, _ body: () -> R) -> R {
        guard ws.profile != nil else { return body() }
        let t0 = DispatchTime.now().uptimeNanoseconds
        let r = body()
        let dt = Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
        ws.profile![name, default: 0] += dt
        return r
    }

    /// Runs `body` on the calling thread (outside the workers), adding its seconds to
    /// `profile[name]` when profiling.
    @inline(__always)
    func timed<R>(_ name: String, _ body: () -> R) -> R {
        guard profile != nil else { return body() }
        let t0 = DispatchTime.now().uptimeNanoseconds
        let r = body()
        profile![name, default: 0] += Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
        return r
    }

    /// Moves the workspaces' phase times into `profile` (when profiling).
    func collectProfile(_ workspaces: [Workspace]) {
        guard profile != nil else { return }
        for ws in workspaces {
            for (k, v) in ws.profile ?? [:] { profile![k, default: 0] += v }
            ws.profile = [:]
        }
    }
}
