import Kernels

/// The fused tail of a conv block: `maxpool2x2(relu(x + bias[c]))`, computed as
/// `relu(max(window) + bias[c])` (max commutes with adding a constant and with ReLU),
/// so the raw GEMM output never needs a separate bias or ReLU pass.
///
/// Input is `channels` groups of `planesPerChannel` planes of `H×W` — the CNHW conv
/// output `[C, B, H, W]` has `planesPerChannel = B`.
public enum BiasReLUMaxPool {
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

    /// output `[C, P, H/2, W/2]` (post-ReLU), argmax `[C, P, H/2, W/2]` (0…3 within window).
    public static func forward(_ input: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                               channels: Int, planesPerChannel: Int, height H: Int, width W: Int,
                               output: UnsafeMutablePointer<Float>, argmax: UnsafeMutablePointer<UInt8>) {
        let OH = H / 2, OW = W / 2
        let planes = channels * planesPerChannel
        let tasks = min(planes, 64)
        parallelFor(tasks) { t in
            let lo = planes * t / tasks, hi = planes * (t + 1) / tasks
            for p in lo..<hi {
                let b = bias?[p / planesPerChannel] ?? 0
                let src = input + p * H * W
                let dst = output + p * OH * OW
                let am = argmax + p * OH * OW
                for oy in 0..<OH {
                    let r0 = src + 2 * oy * W, r1 = r0 + W
                    for ox in 0..<OW {
                        let (best, idx) = windowMax(r0, r1, 2 * ox)
                        dst[oy * OW + ox] = max(best + b, 0)
                        am[oy * OW + ox] = idx
                    }
                }
            }
        }
    }

    /// dInput `[C, P, H, W]` (overwritten) = dOutput routed to the argmax where the pooled
    /// output was positive; dBias `[C]` (overwritten, optional) = Σ of those gradients.
    public static func backward(dOutput: UnsafePointer<Float>, output: UnsafePointer<Float>,
                                argmax: UnsafePointer<UInt8>,
                                channels: Int, planesPerChannel: Int, height H: Int, width W: Int,
                                dInput: UnsafeMutablePointer<Float>, dBias: UnsafeMutablePointer<Float>?) {
        let OH = H / 2, OW = W / 2
        let P = planesPerChannel
        parallelFor(channels) { c in
            var sum: Float = 0
            for q in 0..<P {
                let p = c * P + q
                let dst = dInput + p * H * W
                dst.update(repeating: 0, count: H * W)
                let g = dOutput + p * OH * OW
                let y = output + p * OH * OW
                let am = argmax + p * OH * OW
                for oy in 0..<OH {
                    for ox in 0..<OW {
                        let o = oy * OW + ox
                        if y[o] > 0 {
                            let a = Int(am[o])
                            dst[(2 * oy + (a >> 1)) * W + 2 * ox + (a & 1)] = g[o]
                            sum += g[o]
                        }
                    }
                }
            }
            dBias?[c] = sum
        }
    }
}
