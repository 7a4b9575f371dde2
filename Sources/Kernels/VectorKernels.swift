// The only Swift file that imports CKernels: the vectorised kernels in C (Winograd input
// transform and tails, conv0's small-K GEMMs), each with a Swift reference in
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

/// Whether `smallKConvPool`, `smallKConvPoolBackward` and `longKGemmNT` have a vector path
/// here (AVX2 and FMA, or AVX-512); without one they return false and the caller uses `sgemm`.
public var hasSmallKGemm: Bool { mxs_kernels_isa() >= 2 }

/// conv0's forward, fused: for `col [k, B·H·W]` (im2col of the block input) and `weight
/// [m, k]`, the conv values C = weight·col are each the fused multiply-add chain of
/// `smallKGemmReference` (the same bits on every vector path and for any split), and only
/// `BiasReLUMaxPool.forward`'s result is written: `output`, `argmax` `[m, B, H/2, W/2]`
/// (H and W even). Parallel over row pairs. Returns false, computing nothing, without a
/// vector path (then use `sgemm` and `BiasReLUMaxPool`).
@discardableResult
public func smallKConvPool(weight: UnsafePointer<Float>, col: UnsafePointer<Float>, bias: UnsafePointer<Float>,
                           outChannels m: Int, k: Int, batch: Int, height H: Int, width W: Int,
                           output: UnsafeMutablePointer<Float>, argmax: UnsafeMutablePointer<UInt8>) -> Bool {
    guard hasSmallKGemm else { return false }
    precondition(m >= 0 && k >= 0 && batch >= 0 && H % 2 == 0 && W % 2 == 0, "smallKConvPool: bad shape")
    let pairs = batch * H / 2, tasks = min(pairs, 16)
    parallelFor(tasks) { task in
        _ = mxs_conv_pool_smallk(weight, col, bias, m, k, batch, H, W, pairs * task / tasks, pairs * (task + 1) / tasks,
                                 output, argmax)
    }
    return true
}

/// The backward of `smallKConvPool` without the input gradient (conv0 needs none): dBias
/// as `BiasReLUMaxPool.backward` sums it, and dWeight `[m, k]` = dConv·colᵀ summed as
/// `longKGemmNTReference` does, for the dConv `BiasReLUMaxPool.backward` would write (built
/// a few row pairs at a time, never whole). Both overwritten; parallel over channels.
/// Returns false, computing nothing, without a vector path.
@discardableResult
public func smallKConvPoolBackward(dOutput: UnsafePointer<Float>, output: UnsafePointer<Float>,
                                   argmax: UnsafePointer<UInt8>, col: UnsafePointer<Float>,
                                   outChannels m: Int, k: Int, batch: Int, height H: Int, width W: Int,
                                   dWeight: UnsafeMutablePointer<Float>, dBias: UnsafeMutablePointer<Float>) -> Bool {
    guard hasSmallKGemm else { return false }
    precondition(m >= 0 && k >= 0 && batch >= 0 && H % 2 == 0 && W % 2 == 0, "smallKConvPoolBackward: bad shape")
    // One task per thread (each packs the chunks of `col` it reads), none inside a worker.
    let tasks = ParallelSettings.isNested ? 1 : max(1, min(m, kernelThreads))
    parallelFor(tasks) { task in
        let lo = m * task / tasks, hi = m * (task + 1) / tasks
        withUnsafeTemporaryAllocation(of: Float.self, capacity: mxs_conv_pool_weight_grad_scratch(hi - lo, k, W)) { buf in
            _ = mxs_conv_pool_weight_grad(dOutput, output, argmax, col, k, batch, H, W, lo, hi, dWeight, dBias, buf.baseAddress!)
        }
    }
    return true
}

/// C[m×n] = A[m×k]·B[n×k]ᵀ (row-major, tight) for long k and small m·n (conv0's weight
/// gradient: k = B·H·W), each entry summed in 16 lanes reduced pairwise (see
/// `longKGemmNTReference`): the same bits on every vector path and for any split of the
/// rows, which run in parallel. Returns false, computing nothing, without a vector path.
@discardableResult
public func longKGemmNT(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                        c: UnsafeMutablePointer<Float>) -> Bool {
    guard hasSmallKGemm else { return false }
    precondition(m >= 0 && n >= 0 && k >= 0, "longKGemmNT: negative size")
    let tasks = min(m, 8)
    parallelFor(tasks) { task in
        let lo = m * task / tasks, hi = m * (task + 1) / tasks
        withUnsafeTemporaryAllocation(of: Float.self, capacity: max(1, mxs_gemm_nt_longk_scratch(hi - lo, n))) { lanes in
            _ = mxs_gemm_nt_longk(a, b, c, m, n, k, lo, hi, lanes.baseAddress!)
        }
    }
    return true
}
