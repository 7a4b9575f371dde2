/// Shape of a `SeedCNN`: `widths.count` blocks of conv3×3(pad 1) + ReLU + maxpool2×2,
/// then fc(widths.last · (inputSize / 2^blocks)² → hidden), ReLU, fc(hidden → classes).
public struct CNNConfig: Codable, Sendable, Equatable {
    public var widths: [Int]
    public var hidden: Int
    public var classes: Int
    public var inputChannels: Int
    public var inputSize: Int

    public init(widths: [Int] = [32, 64, 128, 256], hidden: Int = 256, classes: Int = 10,
                inputChannels: Int = 3, inputSize: Int = 32) {
        self.widths = widths
        self.hidden = hidden
        self.classes = classes
        self.inputChannels = inputChannels
        self.inputSize = inputSize
    }

    /// Side length of the last pooled feature map.
    public var finalSide: Int { inputSize >> widths.count }
    /// Input features of the first fully connected layer.
    public var flatFeatures: Int { (widths.last ?? inputChannels) * finalSide * finalSide }
    /// Elements of one input image, `C·H·W`.
    public var inputCount: Int { inputChannels * inputSize * inputSize }

    /// Checks the configuration; returns a description of the first problem, or nil.
    public func validationError() -> String? {
        if widths.isEmpty { return "widths must not be empty" }
        if widths.contains(where: { $0 <= 0 }) { return "widths must be positive" }
        if hidden <= 0 { return "hidden must be positive" }
        if classes < 2 { return "classes must be at least 2" }
        if inputChannels <= 0 { return "inputChannels must be positive" }
        if inputSize <= 0 || inputSize % (1 << widths.count) != 0 {
            return "inputSize must be a positive multiple of 2^\(widths.count)"
        }
        return nil
    }
}

/// One named parameter tensor inside the flat parameter buffer.
public struct ParameterTensor: Sendable, Equatable {
    /// PyTorch-style name, e.g. `convs.0.weight`, `fc1.bias`.
    public let name: String
    /// Shape in PyTorch order.
    public let shape: [Int]
    /// Offset of the first element in the flat buffer.
    public let offset: Int
    /// Number of elements.
    public var count: Int { shape.reduce(1, *) }
    /// Fan-in of the owning layer (bounds of the default initialisation).
    public let fanIn: Int
}
