/// An EXIF orientation: how the stored pixels must be turned to appear upright.
/// Applied as Pillow's `ImageOps.exif_transpose` does (and torchvision's
/// `decode_image(apply_exif_orientation=True)`).
public enum Orientation: Int, Sendable, CaseIterable {
    case up = 1, mirrored = 2, rotated180 = 3, flippedVertically = 4
    case transposed = 5, rotatedClockwise = 6, transverse = 7, rotatedCounterClockwise = 8

    /// Whether width and height swap.
    public var swapsSides: Bool { rawValue >= 5 }

    /// The upright image: each output pixel (x, y) of the turned image is read from
    /// the stored pixel this orientation maps it to.
    public func apply(_ image: DecodedImage) -> DecodedImage {
        guard self != .up else { return image }
        let w = image.width, h = image.height
        let (ow, oh) = swapsSides ? (h, w) : (w, h)
        let plane = w * h
        let chw = [UInt8](unsafeUninitializedCapacity: 3 * plane) { out, n in
            image.chw.withUnsafeBufferPointer { src in
                for c in 0..<3 {
                    let s = src.baseAddress! + c * plane, d = out.baseAddress! + c * plane
                    for y in 0..<oh {
                        for x in 0..<ow {
                            let (sx, sy): (Int, Int)
                            switch self {
                            case .up: (sx, sy) = (x, y)
                            case .mirrored: (sx, sy) = (w - 1 - x, y)
                            case .rotated180: (sx, sy) = (w - 1 - x, h - 1 - y)
                            case .flippedVertically: (sx, sy) = (x, h - 1 - y)
                            case .transposed: (sx, sy) = (y, x)
                            case .rotatedClockwise: (sx, sy) = (y, h - 1 - x)
                            case .transverse: (sx, sy) = (w - 1 - y, h - 1 - x)
                            case .rotatedCounterClockwise: (sx, sy) = (w - 1 - y, x)
                            }
                            d[y * ow + x] = s[sy * w + sx]
                        }
                    }
                }
            }
            n = 3 * plane
        }
        return DecodedImage(width: ow, height: oh, chw: chw)
    }
}
