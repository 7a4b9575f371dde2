import MixCore

/// Shape of a `SeedCNN`: `widths.count` blocks of conv3×3(pad 1) + ReLU + maxpool2×2,
/// then fc(widths.last · (H / 2^blocks) · (W / 2^blocks) → hidden), ReLU, fc(hidden → classes),
/// for input images of `inputHeight`×`inputWidth` (square or not; each a multiple of 2^blocks).
public struct CNNConfig: Codable, Sendable, Equatable {
    public var widths: [Int]
    public var hidden: Int
    public var classes: Int
    public var inputChannels: Int
    public var inputHeight: Int
    public var inputWidth: Int

    public init(widths: [Int] = [32, 64, 128, 256], hidden: Int = 256, classes: Int = 10,
                inputChannels: Int = 3, inputHeight: Int = 32, inputWidth: Int = 32) {
        self.widths = widths
        self.hidden = hidden
        self.classes = classes
        self.inputChannels = inputChannels
        self.inputHeight = inputHeight
        self.inputWidth = inputWidth
    }

    /// A configuration for square `inputSize`×`inputSize` images.
    public init(widths: [Int] = [32, 64, 128, 256], hidden: Int = 256, classes: Int = 10,
                inputChannels: Int = 3, inputSize: Int) {
        self.init(widths: widths, hidden: hidden, classes: classes, inputChannels: inputChannels,
                  inputHeight: inputSize, inputWidth: inputSize)
    }

    /// Height and width of the input of conv block `i` (the input halved `i` times).
    public func height(block i: Int) -> Int { inputHeight >> i }
    public func width(block i: Int) -> Int { inputWidth >> i }
    /// Height and width of the last pooled feature map.
    public var finalHeight: Int { inputHeight >> widths.count }
    public var finalWidth: Int { inputWidth >> widths.count }
    /// Input features of the first fully connected layer: `widths.last · finalHeight · finalWidth`.
    public var flatFeatures: Int { (widths.last ?? inputChannels) * finalHeight * finalWidth }
    /// Elements of one input image, `C·H·W`.
    public var inputCount: Int { inputChannels * inputHeight * inputWidth }

    /// Parameters of the network, computed with checked arithmetic: nil when it
    /// overflows (or a size is negative). `SeedCNN.parameterCount` for a valid configuration.
    public var checkedParameterCount: Int? {
        var total = 0
        func add(_ a: Int, _ b: Int, bias: Int) -> Bool {
            guard a >= 0, b >= 0, bias >= 0 else { return false }
            let (product, o1) = a.multipliedReportingOverflow(by: b)
            let (withBias, o2) = product.addingReportingOverflow(bias)
            let (sum, o3) = total.addingReportingOverflow(withBias)
            total = sum
            return !(o1 || o2 || o3)
        }
        var cin = inputChannels
        for w in widths {
            let (fan, o) = cin.multipliedReportingOverflow(by: 9)
            guard !o, add(w, fan, bias: w) else { return nil }
            cin = w
        }
        guard widths.count < Int.bitWidth else { return nil }
        let (area, o1) = (inputHeight >> widths.count).multipliedReportingOverflow(by: inputWidth >> widths.count)
        let (flat, o2) = (widths.last ?? inputChannels).multipliedReportingOverflow(by: area)
        guard !o1, !o2, add(flat, hidden, bias: hidden), add(hidden, classes, bias: classes) else { return nil }
        return total
    }

    /// Checks the configuration, including `TrainingLimits`; returns a description of the first problem, or nil.
    public func validationError() -> String? {
        typealias L = TrainingLimits
        if widths.isEmpty || widths.count > L.maxBlocks { return "widths must hold \(Wording.range(1, L.maxBlocks)) channel counts (got \(widths.count))" }
        if widths.contains(where: { $0 <= 0 || $0 > L.maxWidth }) { return "widths must each be \(Wording.range(1, L.maxWidth)) (got \(widths))" }
        if hidden <= 0 || hidden > L.maxHidden { return "hidden must be \(Wording.range(1, L.maxHidden)) (got \(hidden))" }
        if classes < 2 { return "classes must be at least 2" }
        if inputChannels <= 0 { return "inputChannels must be positive" }
        if inputHeight <= 0 || inputWidth <= 0 || inputHeight % (1 << widths.count) != 0 || inputWidth % (1 << widths.count) != 0 {
            return "the input's height and width must be positive multiples of 2^\(widths.count) (got \(inputWidth)×\(inputHeight), width×height)"
        }
        guard let n = checkedParameterCount, n <= L.maxParameters else {
            return "widths \(widths) and hidden \(hidden) make \(checkedParameterCount.map(String.init) ?? "too many") parameters "
                + "for \(Wording.image(channels: inputChannels, height: inputHeight, width: inputWidth)) images and \(classes) classes; at most \(Wording.grouped(L.maxParameters)) are allowed"
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
