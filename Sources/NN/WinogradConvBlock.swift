import Kernels

/// A fused conv block — conv3×3 (pad 1) + bias + ReLU + maxpool2×2 — computed with
/// Winograd F(2×2, 3×3): 16 GEMMs of `[Cout, Cin] × [Cin, T]` (T = B·(S/2)² tiles)
/// instead of one of `[Cout, 9·Cin] × [9·Cin, 4T]`, i.e. 2.25× fewer multiply-adds.
/// Each 2×2 Winograd output tile is exactly one pooling window, so the conv output is
/// never stored: the output transform directly yields the pooled value and its argmax.
///
/// Layouts: input `[Cin, B, H, W]` (CNHW, H and W even), weight `[Cout, Cin, 3, 3]`, bias `[Cout]`,
/// output/argmax `[Cout, B, H/2, W/2]`. Scratch (see `Kernels/Winograd.swift`):
/// u `[16, Cout, Cin]`, v `[16, Cin, T]` (both kept for backward), m `[16, Cout, T]`.
public struct WinogradConvBlock: Sendable, Equatable {
    public let inChannels: Int
    public let outChannels: Int

    public init(inChannels: Int, outChannels: Int) {
        self.inChannels = inChannels
        self.outChannels = outChannels
    }

    /// Number of 2×2 tiles (= pooled outputs per channel).
    public func tiles(batch: Int, height: Int, width: Int) -> Int { batch * (height / 2) * (width / 2) }
    /// Scratch sizes (each slab padded, see `winogradSlabStride`).
    public var uCount: Int { 16 * winogradSlabStride(outChannels * inChannels) }
    public func vCount(batch: Int, height: Int, width: Int) -> Int {
        16 * winogradSlabStride(inChannels * tiles(batch: batch, height: height, width: width))
    }
    public func mCount(batch: Int, height: Int, width: Int) -> Int {
        16 * winogradSlabStride(outChannels * tiles(batch: batch, height: height, width: width))
    }

    public func forward(input: UnsafePointer<Float>, batch B: Int, height H: Int, width W: Int,
                        weight: UnsafePointer<Float>, bias: UnsafePointer<Float>,
                        u: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>,
                        m: UnsafeMutablePointer<Float>,
                        output: UnsafeMutablePointer<Float>, argmax: UnsafeMutablePointer<UInt8>) {
        let Cout = outChannels, Cin = inChannels, T = tiles(batch: B, height: H, width: W)
        winogradWeightTransform(weight, outChannels: Cout, inChannels: Cin, u: u)
        winogradInputTransform(input, channels: Cin, batch: B, height: H, width: W, v: v)
        // M[ξ][Cout, T] = U[ξ][Cout, Cin] · V[ξ][Cin, T]
        let uS = winogradSlabStride(Cout * Cin), vS = winogradSlabStride(Cin * T), mS = winogradSlabStride(Cout * T)
        for xi in 0..<16 {
            sgemm(m: Cout, n: T, k: Cin, a: u + xi * uS, b: v + xi * vS, c: m + xi * mS)
        }
        // Output transform Aᵀ·M·A per tile, fused with max-pool, bias and ReLU.
        winogradOutputPool(m, outChannels: Cout, tiles: T, bias: bias, output: output, argmax: argmax)
    }
}
