// The only Swift file that imports CKernels: the vectorised Winograd tails, each with a
// Swift reference in Reference.swift that tests compare bit for bit.
import CKernels

/// The instruction set the C kernels run with on this CPU: `AVX2` or `baseline`.
public var vectorKernelISA: String { mxs_kernels_isa() == 2 ? "AVX2" : "baseline" }

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
