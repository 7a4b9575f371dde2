import MixCore

/// RandomResizedCrop's kernel: `resized_crop(img, top, left, height, width, size,
/// BILINEAR, antialias=True)` — the box `[top, top+height) × [left, left+width)` (inside
/// the image, as RandomResizedCrop draws it) resized to `outHeight × outWidth`, bilinear,
/// antialiased when shrinking (libvips; DESIGN, "Policy ops").
public struct ResizedCrop: ImageKernel {
    /// The op's parameters (what the draw side records).
    public struct Params: Sendable, Hashable {
        /// The box: first row.
        public var top: Int
        /// The box: first column.
        public var left: Int
        /// The box: rows.
        public var height: Int
        /// The box: columns.
        public var width: Int
        /// The output's rows.
        public var outHeight: Int
        /// The output's columns.
        public var outWidth: Int
        /// Parameters as given (checked by `apply`).
        public init(top: Int, left: Int, height: Int, width: Int, outHeight: Int, outWidth: Int) {
            self.top = top
            self.left = left
            self.height = height
            self.width = width
            self.outHeight = outHeight
            self.outWidth = outWidth
        }
    }

    /// The crop alone (no resize), a copy of the box.
    public static func crop(_ p: Params, _ src: PlanarImage) throws -> PlanarImage {
        guard p.height >= 1, p.width >= 1, p.top >= 0, p.left >= 0,
              p.top <= src.height - p.height, p.left <= src.width - p.width else {
            throw MixError("crop box \(p.width)×\(p.height) at (\(p.left), \(p.top)) is not inside the \(src.width)×\(src.height) image")
        }
        var out = try PlanarImage(channels: src.channels, height: p.height, width: p.width)
        for c in 0..<src.channels {
            for y in 0..<p.height {
                let from = (c * src.height + p.top + y) * src.width + p.left
                let to = (c * p.height + y) * p.width
                out.pixels[to..<(to + p.width)] = src.pixels[from..<(from + p.width)]
            }
        }
        return out
    }

    /// Writes the op with `p` on `src` into `dst` (see the type's definition); throws on invalid parameters.
    public static func apply(_ p: Params, src: PlanarImage, dst: inout PlanarImage) throws {
        let box = try crop(p, src)
        dst = try VipsSampler.resizeBilinear(box, height: p.outHeight, width: p.outWidth)
    }
}
