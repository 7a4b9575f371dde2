/// Shape of one 2-D convolution over a batch, plus the memory layout of its input.
///
/// The input element `(c, b, y, x)` lives at
/// `c * channelStride + b * batchStride + y * width + x`, so both NCHW
/// (`channelStride = H·W`, `batchStride = C·H·W`) and the channel-major CNHW layout
/// used inside the networks (`channelStride = B·H·W`, `batchStride = H·W`) are covered.
///
/// The column matrix produced by `im2col` has shape `[C·K·K, B·OH·OW]`:
/// row `(c·K + ky)·K + kx`, column `(b·OH + oy)·OW + ox`. A convolution is then one
/// GEMM `W[Cout, C·K·K] × col` whose output `[Cout, B·OH·OW]` is CNHW.
public struct ConvGeometry: Sendable, Equatable {
    public var channels: Int
    public var height: Int
    public var width: Int
    public var batch: Int
    public var kernel: Int
    public var pad: Int
    public var stride: Int
    public var channelStride: Int
    public var batchStride: Int

    public enum Layout: Sendable { case nchw, cnhw }

    /// A geometry with the input in the given layout (tightly packed).
    public init(channels: Int, height: Int, width: Int, batch: Int,
                kernel: Int = 3, pad: Int = 1, stride: Int = 1, layout: Layout = .cnhw) {
        precondition(channels > 0 && height > 0 && width > 0 && batch > 0 && kernel > 0 && stride > 0 && pad >= 0)
        self.channels = channels
        self.height = height
        self.width = width
        self.batch = batch
        self.kernel = kernel
        self.pad = pad
        self.stride = stride
        switch layout {
        case .nchw:
            channelStride = height * width
            batchStride = channels * height * width
        case .cnhw:
            channelStride = batch * height * width
            batchStride = height * width
        }
    }

    public var outHeight: Int { (height + 2 * pad - kernel) / stride + 1 }
    public var outWidth: Int { (width + 2 * pad - kernel) / stride + 1 }
    /// Rows of the column matrix: `C·K·K`.
    public var colRows: Int { channels * kernel * kernel }
    /// Columns of the column matrix: `B·OH·OW`.
    public var colColumns: Int { batch * outHeight * outWidth }
    /// Elements of the input tensor.
    public var inputCount: Int { channels * batch * height * width }
}

/// Unfolds `input` (layout given by `g`) into `col[C·K·K, B·OH·OW]`. Parallel over rows.
public func im2col(_ g: ConvGeometry, input: UnsafePointer<Float>, col: UnsafeMutablePointer<Float>) {
    let K = g.kernel, H = g.height, W = g.width, OH = g.outHeight, OW = g.outWidth
    let B = g.batch, pad = g.pad, s = g.stride
    let cols = B * OH * OW
    parallelFor(g.colRows) { row in
        let c = row / (K * K)
        let ky = (row / K) % K
        let kx = row % K
        let dstRow = col + row * cols
        let srcC = input + c * g.channelStride
        // Output columns ox whose ix = ox*s - pad + kx lies in [0, W).
        let oxLo = max(0, (pad - kx + s - 1) / s)
        let oxHi = min(OW, (W - 1 + pad - kx) / s + 1)   // exclusive
        for b in 0..<B {
            let srcB = srcC + b * g.batchStride
            for oy in 0..<OH {
                let dst = dstRow + (b * OH + oy) * OW
                let iy = oy * s - pad + ky
                if iy < 0 || iy >= H || oxHi <= oxLo {
                    dst.update(repeating: 0, count: OW)
                    continue
                }
                let src = srcB + iy * W
                if oxLo > 0 { dst.update(repeating: 0, count: oxLo) }
                if s == 1 {
                    (dst + oxLo).update(from: src + (oxLo - pad + kx), count: oxHi - oxLo)
                } else {
                    for ox in oxLo..<oxHi { dst[ox] = src[ox * s - pad + kx] }
                }
                if oxHi < OW { (dst + oxHi).update(repeating: 0, count: OW - oxHi) }
            }
        }
    }
}

/// Folds `col[C·K·K, B·OH·OW]` back into an input-shaped gradient (the adjoint of
/// `im2col`): overlapping entries are summed. `output` is overwritten (layout given
/// by `g`). Parallel over channels.
public func col2im(_ g: ConvGeometry, col: UnsafePointer<Float>, output: UnsafeMutablePointer<Float>) {
    let K = g.kernel, H = g.height, W = g.width, OH = g.outHeight, OW = g.outWidth
    let B = g.batch, pad = g.pad, s = g.stride
    let cols = B * OH * OW
    parallelFor(g.channels) { c in
        let dstC = output + c * g.channelStride
        for b in 0..<B { (dstC + b * g.batchStride).update(repeating: 0, count: H * W) }
        for ky in 0..<K {
            for kx in 0..<K {
                let srcRow = col + ((c * K + ky) * K + kx) * cols
                let oxLo = max(0, (pad - kx + s - 1) / s)
                let oxHi = min(OW, (W - 1 + pad - kx) / s + 1)
                if oxHi <= oxLo { continue }
                for b in 0..<B {
                    let dstB = dstC + b * g.batchStride
                    for oy in 0..<OH {
                        let iy = oy * s - pad + ky
                        if iy < 0 || iy >= H { continue }
                        let src = srcRow + (b * OH + oy) * OW
                        let dst = dstB + iy * W
                        if s == 1 {
                            let off = kx - pad
                            for ox in oxLo..<oxHi { dst[ox + off] += src[ox] }
                        } else {
                            for ox in oxLo..<oxHi { dst[ox * s - pad + kx] += src[ox] }
                        }
                    }
                }
            }
        }
    }
}
