// The only Swift file that imports CKernels: the vectorised kernels in C (Winograd weight and
// input transforms and tails, conv0 fused with its pool), each with a Swift reference in
// Reference.swift that tests compare bit for bit.
import CKernels

/// The instruction set the C kernels run with on this CPU: `AVX-512`, `AVX2` (with FMA) or
/// `baseline`.
public var vectorKernelISA: String {
    switch mxs_kernels_isa() {
    case 3: return "AVX-512"
    case 2: return "AVX2"
    default: return "baseline"
    }
}

/// The C kernels' code paths, best first, that this CPU can run (for tests that compare
/// every path with its reference).
public var availableVectorKernelISAs: [String] {
    switch mxs_kernels_detected_isa() {
    case 3: return ["AVX-512", "AVX2", "baseline"]
    case 2: return ["AVX2", "baseline"]
    default: return ["baseline"]
    }
}

/// Runs `body` with the C kernels forced onto `isa` (one of `availableVectorKernelISAs`),
/// then restores the detected path. For tests; no kernel may run concurrently elsewhere.
public func withVectorKernelISA<R>(_ isa: String, _ body: () throws -> R) rethrows -> R {
    let level: Int32 = isa == "AVX-512" ? 3 : isa == "AVX2" ? 2 : 0
    precondition(mxs_kernels_force_isa(level) == level, "withVectorKernelISA: this CPU cannot run \(isa)")
    defer { _ = mxs_kernels_force_isa(-1) }
    return try body()
}

/// U[16, Cout, Cin] = G·g·Gᵀ for each 3×3 filter of `weight [Cout, Cin, 3, 3]` (slab stride
/// `winogradSlabStride(Cout·Cin)`). Parallel over filters; bit-identical to
/// `winogradWeightTransformReference`.
public func winogradWeightTransform(_ weight: UnsafePointer<Float>, outChannels: Int, inChannels: Int,
                                    u: UnsafeMutablePointer<Float>) {
    let filters = outChannels * inChannels, plane = winogradSlabStride(filters), tasks = min(outChannels, 16)
    parallelFor(tasks) { task in
        mxs_wino_weight_transform(weight, plane, filters * task / tasks, filters * (task + 1) / tasks, u)
    }
}

/// dWeight [Cout, Cin, 3, 3] = Gᵀ·dU·G (overwritten), the adjoint of `winogradWeightTransform`.
/// Parallel over filters; bit-identical to `winogradWeightGradientReference`.
public func winogradWeightGradient(_ du: UnsafePointer<Float>, outChannels: Int, inChannels: Int,
                                   dWeight: UnsafeMutablePointer<Float>) {
    let filters = outChannels * inChannels, plane = winogradSlabStride(filters), tasks = min(outChannels, 16)
    parallelFor(tasks) { task in
        mxs_wino_weight_gradient(du, plane, filters * task / tasks, filters * (task + 1) / tasks, dWeight)
    }
}

/// V[16, C, T] = Bᵀ·d·B for every 4×4 input window of `input [C, B, H, W]` (CNHW, pad 1,
/// H and W even), slab stride `winogradSlabStride(C·T)`. Parallel over (channel, image)
/// planes; bit-identical to `winogradInputTransformReference`.
public func winogradInputTransform(_ input: UnsafePointer<Float>, channels: Int, batch: Int, height H: Int, width W: Int,
                                   v: UnsafeMutablePointer<Float>) {
    precondition(H % 2 == 0 && W % 2 == 0, "Winograd F(2,3) needs even sides")
    let planes = channels * batch, plane = winogradSlabStride(channels * batch * (H / 2) * (W / 2))
    let tasks = min(planes, 64), scratch = mxs_wino_input_scratch(H, W)
    parallelFor(tasks) { task in
        withUnsafeTemporaryAllocation(of: Float.self, capacity: scratch) { buf in
            mxs_wino_input_transform(input, H, W, batch, plane, planes * task / tasks, planes * (task + 1) / tasks,
                                     v, buf.baseAddress!)
        }
    }
}

/// dInput [C, B, H, W] (overwritten) = Σ over windows of B·dV·Bᵀ, the adjoint of
/// `winogradInputTransform` (padding positions dropped). Parallel over planes;
/// bit-identical to `winogradInputGradientReference`.
public func winogradInputGradient(_ dv: UnsafePointer<Float>, channels: Int, batch: Int, height H: Int, width W: Int,
                                  dInput: UnsafeMutablePointer<Float>) {
    precondition(H % 2 == 0 && W % 2 == 0, "Winograd F(2,3) needs even sides")
    let planes = channels * batch, plane = winogradSlabStride(channels * batch * (H / 2) * (W / 2))
    let tasks = min(planes, 64), scratch = mxs_wino_input_scratch(H, W)
    parallelFor(tasks) { task in
        withUnsafeTemporaryAllocation(of: Float.self, capacity: scratch) { buf in
            mxs_wino_input_gradient(dv, H, W, batch, plane, planes * task / tasks, planes * (task + 1) / tasks,
                                    dInput, buf.baseAddress!)
        }
    }
}

/// Output transform of the Winograd block fused with 2×2 max-pool, bias and ReLU:
/// `m [16, Cout, T]` (slab stride `winogradSlabStride(Cout·T)`) → `output`, `argmax`
/// `[Cout, T]`. Parallel over channels. See `winogradOutputPoolReference`.
public func winogradOutputPool(_ m: UnsafePointer<Float>, outChannels: Int, tiles T: Int, bias: UnsafePointer<Float>,
                               output: UnsafeMutablePointer<Float>, argmax: UnsafeMutablePointer<UInt8>) {
    let plane = winogradSlabStride(outChannels * T)
    let tasks = min(outChannels, 16)
    parallelFor(tasks) { task in
        mxs_wino_output_pool(m, plane, T, outChannels * task / tasks, outChannels * (task + 1) / tasks,
                             bias, output, argmax)
    }
}

/// The adjoint of `winogradOutputPool`: `dm [16, Cout, T]` and `dBias [Cout]` (both
/// overwritten) from the pooled gradient. See `winogradOutputPoolBackwardReference`.
public func winogradOutputPoolBackward(dOutput: UnsafePointer<Float>, output: UnsafePointer<Float>,
                                       argmax: UnsafePointer<UInt8>, outChannels: Int, tiles T: Int,
                                       dm: UnsafeMutablePointer<Float>, dBias: UnsafeMutablePointer<Float>) {
    let plane = winogradSlabStride(outChannels * T)
    let tasks = min(outChannels, 16)
    parallelFor(tasks) { task in
        mxs_wino_output_pool_backward(dOutput, output, argmax, plane, T, outChannels * task / tasks,
                                      outChannels * (task + 1) / tasks, dm, dBias)
    }
}

/// Whether `conv3x3Pool` and `conv3x3PoolBackward` have a vector path here (AVX2 and FMA,
/// or AVX-512); without one they return false and the caller uses im2col and `sgemm`.
public var hasSmallKConvKernels: Bool { mxs_kernels_isa() >= 2 }

/// conv0's forward, fused and read straight from its input: the 3×3 (pad 1, stride 1)
/// convolution of the input `g` describes (either layout) with `weight [m, 9C]`, each conv
/// value the fused multiply-add chain over the 9C im2col entries in order (as
/// `smallKGemmReference` computes C = weight·col: the same bits on every vector path and
/// for any split), of which only `BiasReLUMaxPool.forward`'s result is written: `output`,
/// `argmax` `[m, B, H/2, W/2]` (H and W even). Parallel over row pairs. Returns false,
/// computing nothing, without a vector path.
@discardableResult
public func conv3x3Pool(_ g: ConvGeometry, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                        bias: UnsafePointer<Float>, outChannels m: Int,
                        output: UnsafeMutablePointer<Float>, argmax: UnsafeMutablePointer<UInt8>) -> Bool {
    guard hasSmallKConvKernels else { return false }
    precondition(g.kernel == 3 && g.pad == 1 && g.stride == 1 && g.height % 2 == 0 && g.width % 2 == 0 && m >= 0,
                 "conv3x3Pool: needs a 3×3, pad 1, stride 1 convolution of even sides")
    let pairs = g.batch * g.height / 2, tasks = min(pairs, 16)
    parallelFor(tasks) { task in
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 288 * g.channels) { strip in
            _ = mxs_conv3x3_pool(weight, input, g.channelStride, g.batchStride, bias, m, g.channels, g.batch,
                                 g.height, g.width, pairs * task / tasks, pairs * (task + 1) / tasks,
                                 output, argmax, strip.baseAddress!)
        }
    }
    return true
}

/// The backward of `conv3x3Pool` without the input gradient (conv0 needs none): dBias as
/// `BiasReLUMaxPool.backward` sums it, and dWeight `[m, 9C]` = dConv·colᵀ summed as
/// `longKGemmNTReference` does, for the dConv `BiasReLUMaxPool.backward` would write and the
/// im2col matrix of the input, both built a few row pairs at a time, never whole. Both
/// overwritten; parallel over channels. Returns false, computing nothing, without a vector path.
@discardableResult
public func conv3x3PoolBackward(_ g: ConvGeometry, input: UnsafePointer<Float>, dOutput: UnsafePointer<Float>,
                                output: UnsafePointer<Float>, argmax: UnsafePointer<UInt8>, outChannels m: Int,
                                dWeight: UnsafeMutablePointer<Float>, dBias: UnsafeMutablePointer<Float>) -> Bool {
    guard hasSmallKConvKernels else { return false }
    precondition(g.kernel == 3 && g.pad == 1 && g.stride == 1 && g.height % 2 == 0 && g.width % 2 == 0 && m >= 0,
                 "conv3x3PoolBackward: needs a 3×3, pad 1, stride 1 convolution of even sides")
    // One task per thread (each builds the chunks it reads), none inside a worker.
    let tasks = ParallelSettings.isNested ? 1 : max(1, min(m, kernelThreads))
    parallelFor(tasks) { task in
        let lo = m * task / tasks, hi = m * (task + 1) / tasks
        let count = mxs_conv3x3_pool_weight_grad_scratch(hi - lo, g.channels, g.width)
        withUnsafeTemporaryAllocation(of: Float.self, capacity: count) { buf in
            _ = mxs_conv3x3_pool_weight_grad(dOutput, output, argmax, input, g.channelStride, g.batchStride, g.channels,
                                             g.batch, g.height, g.width, lo, hi, dWeight, dBias, buf.baseAddress!)
        }
    }
    return true
}

/// The per-step constants of Adam's update (`NN.Adam` derives them from its hyperparameters
/// and step count), as the float values every element's update uses.
public struct AdamCoefficients: Sendable {
    /// 1 − β1, β2, 1 − β2.
    public var w1: Float, beta2: Float, w2: Float
    /// √(1 − β2ᵗ), ε, lr / (1 − β1ᵗ).
    public var bc2Sqrt: Float, epsilon: Float, stepSize: Float
    /// 1 − lr·wd with decoupled weight decay (AdamW), nil without.
    public var decay: Float?

    public init(w1: Float, beta2: Float, w2: Float, bc2Sqrt: Float, epsilon: Float, stepSize: Float, decay: Float?) {
        (self.w1, self.beta2, self.w2, self.bc2Sqrt, self.epsilon, self.stepSize, self.decay) = (w1, beta2, w2, bc2Sqrt, epsilon, stepSize, decay)
    }
}

/// Adam's update of `count` parameters in place, with their moments `m` and `v`:
/// m = m + (g − m)·w1, v = v·β2 + w2·g², p = (p·decay) − stepSize·m / (√v / bc2Sqrt + ε).
/// Parallel over chunks; bit-identical to `adamUpdateReference`.
public func adamUpdate(parameters p: UnsafeMutablePointer<Float>, gradients g: UnsafePointer<Float>,
                       m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>, count: Int, _ c: AdamCoefficients) {
    parallelChunks(count, minChunk: 1 << 15) { r in
        mxs_adam_step(p, g, m, v, r.lowerBound, r.upperBound, c.w1, c.beta2, c.w2, c.bc2Sqrt, c.epsilon, c.stepSize,
                      c.decay == nil ? 0 : 1, c.decay ?? 1)
    }
}
