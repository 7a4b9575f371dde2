import Kernels

/// The shape of one 2-D convolution of the seed CNN (square kernel): its
/// channels, the fan-in of its initialisation and its `im2col` geometry.
/// `SeedCNN` computes it with `im2col` and one GEMM per micro-batch (or with
/// `WinogradConvBlock`), fused with bias, ReLU and pooling (`BiasReLUMaxPool`).
///
/// Layouts (flat `Float` buffers):
/// - input: whatever `ConvGeometry` describes (NCHW for the network input, CNHW inside);
/// - weight `[Cout, Cin, K, K]` (PyTorch order, i.e. `[Cout, Cin·K·K]` row-major);
/// - col `[Cin·K·K, B·OH·OW]`; output `[Cout, B, OH, OW]` (CNHW, what the GEMM yields).
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
}
