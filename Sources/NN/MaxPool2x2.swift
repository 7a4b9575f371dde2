import Kernels

/// 2×2 max pooling with stride 2 over `planes` independent `H×W` planes (so it works
/// for NCHW and CNHW alike: planes = B·C). Odd trailing rows/columns are dropped, as in
/// PyTorch. The winning position of each window is remembered as 0…3 (`dy·2 + dx`;
/// the first maximum wins ties).
public enum MaxPool2x2 {
    /// The maximum of the 2×2 window whose top-left is `r0[x]` (second row `r1`) and
    /// its position 0…3 (`dy·2 + dx`, first maximum wins ties).
    @inline(__always)
    static func windowMax(_ r0: UnsafePointer<Float>, _ r1: UnsafePointer<Float>, _ x: Int) -> (Float, UInt8) {
        var best = r0[x], idx: UInt8 = 0
        if r0[x + 1] > best { best = r0[x + 1]; idx = 1 }
        if r1[x] > best { best = r1[x]; idx = 2 }
        if r1[x + 1] > best { best = r1[x + 1]; idx = 3 }
        return (best, idx)
    }

    /// output `[planes, H/2, W/2]`, argmax `[planes, H/2, W/2]`.
    public static func forward(_ input: UnsafePointer<Float>, planes: Int, height H: Int, width W: Int,
                               output: UnsafeMutablePointer<Float>, argmax: UnsafeMutablePointer<UInt8>) {
        let OH = H / 2, OW = W / 2
        parallelFor(planes) { p in
            let src = input + p * H * W
            let dst = output + p * OH * OW
            let am = argmax + p * OH * OW
            for oy in 0..<OH {
                let r0 = src + 2 * oy * W, r1 = r0 + W
                for ox in 0..<OW {
                    let (best, idx) = windowMax(r0, r1, 2 * ox)
                    dst[oy * OW + ox] = best
                    am[oy * OW + ox] = idx
                }
            }
        }
    }

    /// dInput `[planes, H, W]` (overwritten): dOutput routed to each window's argmax, 0 elsewhere.
    public static func backward(dOutput: UnsafePointer<Float>, argmax: UnsafePointer<UInt8>,
                                planes: Int, height H: Int, width W: Int,
                                dInput: UnsafeMutablePointer<Float>) {
        let OH = H / 2, OW = W / 2
        parallelFor(planes) { p in
            let dst = dInput + p * H * W
            dst.update(repeating: 0, count: H * W)
            let g = dOutput + p * OH * OW
            let am = argmax + p * OH * OW
            for oy in 0..<OH {
                for ox in 0..<OW {
                    let a = Int(am[oy * OW + ox])
                    dst[(2 * oy + (a >> 1)) * W + 2 * ox + (a & 1)] = g[oy * OW + ox]
                }
            }
        }
    }
}
