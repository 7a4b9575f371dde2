import MixCore

/// random_erasing's kernel: torchvision v2's `erase(img, i, j, h, w, v)` — the box
/// `[top, top+height) × [left, left+width)` (inside the image) set to `v`, either one value
/// per channel (timm's and torchvision's `value = 0`, or any constant) or one per pixel of
/// the box (`value = "random"`: the draw side supplies the bytes from the counter-based RNG).
/// Applied after mixing, as timm does; it has no `PolicyOp` id of its own here.
public struct Erase: ImageKernel {
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
        /// `channels` bytes (a constant per channel; one byte is used for every channel) or
        /// `channels × height × width` bytes (planar, per pixel of the box).
        public var values: [UInt8]
        /// Parameters as given (checked by `apply`).
        public init(top: Int, left: Int, height: Int, width: Int, values: [UInt8]) {
            self.top = top
            self.left = left
            self.height = height
            self.width = width
            self.values = values
        }
    }

    /// Writes the op with `p` on `src` into `dst`; throws when the box is not inside the
    /// image or `values` has neither 1, C nor C × height × width bytes.
    public static func apply(_ p: Params, src: PlanarImage, dst: inout PlanarImage) throws {
        guard p.height >= 0, p.width >= 0, p.top >= 0, p.left >= 0,
              p.top <= src.height - p.height, p.left <= src.width - p.width else {
            throw MixError("erase box \(p.width)×\(p.height) at (\(p.left), \(p.top)) is not inside the \(src.width)×\(src.height) image")
        }
        let c = src.channels, box = p.height * p.width
        guard [1, c, c * box].contains(p.values.count) else {
            throw MixError("erase takes 1, \(c) or \(c * box) values for a \(p.width)×\(p.height) box of \(c) channels, not \(p.values.count)")
        }
        dst = src
        // A one-pixel box's per-pixel bytes are its per-channel bytes: the same index.
        let perPixel = p.values.count == c * box && box > 1
        for ch in 0..<c {
            for y in 0..<p.height {
                for x in 0..<p.width {
                    let v = perPixel ? p.values[(ch * p.height + y) * p.width + x] : p.values[p.values.count == 1 ? 0 : ch]
                    dst[ch, p.top + y, p.left + x] = v
                }
            }
        }
    }
}
