import MixCore

/// A planar 8-bit image, `channels × height × width` bytes (channel-major, rows top to
/// bottom): what the policy ops read and write. One or three channels, any size ≥ 1 × 1.
public struct PlanarImage: Sendable, Hashable {
    /// 1 (grey) or 3 (RGB).
    public let channels: Int
    /// Rows.
    public let height: Int
    /// Columns.
    public let width: Int
    /// `channels × height × width` bytes; pixel `(c, y, x)` at `(c·height + y)·width + x`.
    public var pixels: [UInt8]

    /// An image of the given shape and bytes; throws when the shape is not 1 or 3 channels
    /// of at least 1 × 1, or `pixels` is not exactly that many bytes.
    public init(channels: Int, height: Int, width: Int, pixels: [UInt8]) throws {
        try Self.check(channels: channels, height: height, width: width)
        guard pixels.count == channels * height * width else {
            throw MixError("a \(channels)×\(height)×\(width) image needs \(channels * height * width) bytes, not \(pixels.count)")
        }
        self.channels = channels
        self.height = height
        self.width = width
        self.pixels = pixels
    }

    /// A black image of the given shape.
    public init(channels: Int, height: Int, width: Int) throws {
        try self.init(channels: channels, height: height, width: width, pixels: [UInt8](repeating: 0, count: channels * height * width))
    }

    /// Throws unless `channels` is 1 or 3 and `height`, `width` are ≥ 1 (and the image is
    /// below 2³¹ bytes, so every index fits the libraries' `int`).
    public static func check(channels: Int, height: Int, width: Int) throws {
        guard channels == 1 || channels == 3 else { throw MixError("policy ops take 1 or 3 channels, not \(channels)") }
        guard height >= 1, width >= 1 else { throw MixError("policy ops take images of at least 1×1, not \(width)×\(height)") }
        guard height <= Int(Int32.max) / width, channels * height * width <= Int(Int32.max) else {
            throw MixError("a \(width)×\(height) image is too large for the policy ops")
        }
    }

    /// The pixel `(c, y, x)`.
    @inlinable public subscript(c: Int, y: Int, x: Int) -> UInt8 {
        get { pixels[(c * height + y) * width + x] }
        set { pixels[(c * height + y) * width + x] = newValue }
    }

    /// Bytes per channel plane.
    public var planeCount: Int { height * width }

    /// `dst` made ready to receive an image of this shape (its storage reused when the shape matches).
    func shaped(_ dst: inout PlanarImage) {
        if dst.channels != channels || dst.height != height || dst.width != width { dst = self }
    }
}

/// An image kernel of the policy work: a pure function of its parameters and the source
/// image (no randomness inside: the draw side chooses `Params`). `dst` may be any image;
/// it is replaced by the output's shape.
public protocol ImageKernel {
    associatedtype Params: Sendable
    /// Writes the result of the op with `params` on `src` into `dst`.
    static func apply(_ params: Params, src: PlanarImage, dst: inout PlanarImage) throws
}

extension ImageKernel {
    /// The result of the op with `params` on `src`, as a new image.
    public static func applied(_ params: Params, to src: PlanarImage) throws -> PlanarImage {
        var dst = src
        try apply(params, src: src, dst: &dst)
        return dst
    }
}

/// float → uint8 as torch's `.to(torch.uint8)` after a clamp to [0, 255]: truncation.
@inline(__always) func truncatedByte(_ v: Float) -> UInt8 {
    UInt8(Swift.min(Swift.max(v, 0), 255))
}
