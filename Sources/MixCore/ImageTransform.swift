/// A geometric transform of one image: a shift (the standard "pad, then crop
/// back to size" augmentation, zero fill) followed by an optional horizontal flip.
///
/// Output pixel `(c, y, x)` is source pixel `(c, y + dy, x' + dx)` where
/// `x' = W − 1 − x` when `flip`, else `x`; a source position outside the image
/// gives 0. "Pad by N, crop at offset (ox, oy) ∈ [0, 2N]²" is `dx = ox − N`,
/// `dy = oy − N`. The identity is `(0, 0, false)`.
///
/// Shared by the writer (Mixup applies it before mixing) and the readers
/// (ShardFormat applies it to resolve a reference sample), so both sides
/// compute the same bytes by construction.
public struct ImageTransform: Sendable, Hashable, Codable {
    /// Horizontal shift: output column x reads source column x + dx (before the flip).
    public var dx: Int16
    /// Vertical shift: output row y reads source row y + dy.
    public var dy: Int16
    /// Mirror left–right after the shift.
    public var flip: Bool

    public init(dx: Int16 = 0, dy: Int16 = 0, flip: Bool = false) {
        self.dx = dx
        self.dy = dy
        self.flip = flip
    }

    public static let identity = ImageTransform()

    public var isIdentity: Bool { dx == 0 && dy == 0 && !flip }

    /// Writes the transformed image of `src` (`channels × height × width` bytes,
    /// planar) into `out` (same size; must not overlap `src`).
    public func apply(_ src: UnsafePointer<UInt8>, into out: UnsafeMutablePointer<UInt8>,
                      channels: Int, height: Int, width: Int) {
        let plane = height * width
        if isIdentity {
            out.update(from: src, count: channels * plane)
            return
        }
        let dx = Int(self.dx), dy = Int(self.dy)
        // Output columns whose source column x + dx lies inside the image (before the flip).
        let x0 = Swift.max(0, -dx), x1 = Swift.min(width, width - dx)
        for c in 0..<channels {
            let srcPlane = src + c * plane
            let outPlane = out + c * plane
            for y in 0..<height {
                let row = outPlane + y * width
                let sy = y + dy
                guard sy >= 0, sy < height, x0 < x1 else {
                    row.update(repeating: 0, count: width)
                    continue
                }
                let srcRow = srcPlane + sy * width
                if flip {
                    // row[W−1−x] = src[x + dx] for x in [x0, x1); zero elsewhere.
                    for x in 0..<width {
                        let sx = width - 1 - x + dx
                        row[x] = (sx >= 0 && sx < width) ? srcRow[sx] : 0
                    }
                } else {
                    if x0 > 0 { row.update(repeating: 0, count: x0) }
                    (row + x0).update(from: srcRow + x0 + dx, count: x1 - x0)
                    if x1 < width { (row + x1).update(repeating: 0, count: width - x1) }
                }
            }
        }
    }

    /// The naive definition, one pixel at a time (the reference `apply` is tested against).
    public func pixel(_ src: (Int, Int, Int) -> UInt8, c: Int, y: Int, x: Int, height: Int, width: Int) -> UInt8 {
        let sx = (flip ? width - 1 - x : x) + Int(dx)
        let sy = y + Int(dy)
        guard sx >= 0, sx < width, sy >= 0, sy < height else { return 0 }
        return src(c, sy, sx)
    }
}
