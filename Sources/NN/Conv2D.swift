import Kernels

/// A 2-D convolution with a square kernel, computed as `im2col` followed by ONE
/// GEMM over the whole batch.
///
/// Layouts (flat `Float` buffers):
/// - input: whatever `ConvGeometry` describes (NCHW for the network input, CNHW inside);
/// - weight `[Cout, Cin, K, K]` (PyTorch order, i.e. `[Cout, Cin·K·K]` row-major);
/// - bias `[Cout]`;
/// - col `[Cin·K·K, B·OH·OW]` (kept from forward for the weight gradient);
/// - output `[Cout, B, OH, OW]` — channel-major (CNHW), which is what the GEMM yields.
public struct Conv2D: Sendable, Equatable {
    public let inChannels: Int
    public let outChannels: Int
    public let kernel: Int
    public let pad: Int
    public let stride: Int

    public init(inChannels: Int, outChannels: Int, kernel: Int = 3, pad: Int = 1, stride: Int = 1) {
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.kernel = kernel
        self.pad = pad
        self.stride = stride
    }

    /// `Cout·Cin·K·K`.
    public var weightCount: Int { outChannels * inChannels * kernel * kernel }
    /// `Cin·K·K`, the fan-in used by PyTorch's default initialisation.
    public var fanIn: Int { inChannels * kernel * kernel }

    /// The im2col geometry for a batch of `batch` images of `height×width` in `layout`.
    public func geometry(batch: Int, height: Int, width: Int, layout: ConvGeometry.Layout) -> ConvGeometry {
        ConvGeometry(channels: inChannels, height: height, width: width, batch: batch,
                     kernel: kernel, pad: pad, stride: stride, layout: layout)
    }

    /// output[Cout, B·OH·OW] = weight[Cout, Cin·K·K] × im2col(input) (+ bias[c] per row if given).
    ///
    /// `col` receives the unfolded input `[Cin·K·K, B·OH·OW]`.
    public func forward(_ g: ConvGeometry, input: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                        bias: UnsafePointer<Float>?, col: UnsafeMutablePointer<Float>,
                        output: UnsafeMutablePointer<Float>) {
        precondition(g.channels == inChannels && g.kernel == kernel && g.pad == pad && g.stride == stride)
        im2col(g, input: input, col: col)
        let n = g.colColumns
        sgemm(m: outChannels, n: n, k: g.colRows, a: weight, b: UnsafePointer(col), c: output)
        if let bias {
            parallelFor(outChannels) { c in
                let row = output + c * n
                let bc = bias[c]
                for i in 0..<n { row[i] += bc }
            }
        }
    }
}
