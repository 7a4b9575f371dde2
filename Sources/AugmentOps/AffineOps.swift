import Foundation
import MixCore

/// torchvision v2's `affine` / `rotate` on uint8 tensors with NEAREST interpolation and
/// fill 0 (TrivialAugmentWide's and RandAugment's defaults), the output the size of the input.
///
/// The pixel grid (torchvision's `_affine_grid` and `grid_sample(align_corners=False)`):
/// output pixel `(x, y)` has centred coordinates `(x − (W−1)/2, y − (H−1)/2)`; the inverse
/// matrix `M` of `_get_inverse_affine_matrix` maps them to centred input coordinates
/// `(u, v)`, the input pixel is `(round(u + (W−1)/2), round(v + (H−1)/2))`, 0 outside.
/// torch rounds halves to even in float32; libvips (which samples here) rounds halves up
/// in double: they differ only on exact halves (DESIGN, "Policy ops").
public struct AffineNearest: ImageKernel {
    /// `F.affine`'s arguments: angle (degrees, clockwise as torchvision's `affine` takes
    /// it), translation (pixels), shear (degrees, x and y), and the centre (pixel
    /// coordinates; `nil` is the image centre).
    public struct Params: Sendable, Hashable {
        /// Degrees, clockwise as `F.affine` takes it.
        public var angle: Double
        /// Pixels.
        public var translate: (x: Double, y: Double)
        /// Degrees, x and y.
        public var shear: (x: Double, y: Double)
        /// Pixel coordinates; nil for the image centre.
        public var center: (x: Double, y: Double)?

        /// Parameters as given (checked by `apply`).
        public init(angle: Double = 0, translate: (x: Double, y: Double) = (0, 0), shear: (x: Double, y: Double) = (0, 0),
                    center: (x: Double, y: Double)? = nil) {
            self.angle = angle
            self.translate = translate
            self.shear = shear
            self.center = center
        }

        /// Equal when every field is.
        public static func == (a: Params, b: Params) -> Bool {
            a.angle == b.angle && a.translate == b.translate && a.shear == b.shear && a.center?.x == b.center?.x && a.center?.y == b.center?.y
        }

        /// Hashes every field.
        public func hash(into h: inout Hasher) {
            for v in [angle, translate.x, translate.y, shear.x, shear.y, center?.x ?? .nan, center?.y ?? .nan] { h.combine(v) }
        }
    }

    /// torchvision's `_get_inverse_affine_matrix(center, angle, translate, 1, shear)`:
    /// the 2 × 3 matrix from centred output to centred input coordinates.
    public static func inverseMatrix(center: (Double, Double), angle: Double, translate: (Double, Double), shear: (Double, Double)) -> [Double] {
        let rot = angle * .pi / 180, sx = shear.0 * .pi / 180, sy = shear.1 * .pi / 180
        let (cx, cy) = center, (tx, ty) = translate
        let cosSy = cos(sy), tanSx = tan(sx), rotMinusSy = rot - sy
        let cxPlusTx = cx + tx, cyPlusTy = cy + ty
        let a = cos(rotMinusSy) / cosSy
        let b = -(a * tanSx + sin(rot))
        let c = sin(rotMinusSy) / cosSy
        let d = cos(rot) - c * tanSx
        var m = [d, -b, 0.0, -c, a, 0.0]
        m[2] += cx - m[0] * cxPlusTx - m[1] * cyPlusTy
        m[5] += cy - m[3] * cxPlusTx - m[4] * cyPlusTy
        return m
    }

    /// The map from output pixel indices to input pixel indices (before rounding) for an
    /// image of `height` × `width`: `[a, b, c, d, e, f]` with `x = a·X + b·Y + c`, `y = d·X + e·Y + f`.
    public static func pixelMap(_ p: Params, height: Int, width: Int) -> [Double] {
        let hw = Double(width) * 0.5, hh = Double(height) * 0.5
        let center = p.center.map { ($0.x - hw, $0.y - hh) } ?? (0, 0)
        let m = inverseMatrix(center: center, angle: p.angle, translate: p.translate, shear: p.shear)
        let ox = (Double(width) - 1) * 0.5, oy = (Double(height) - 1) * 0.5
        return [m[0], m[1], m[2] + ox - m[0] * ox - m[1] * oy,
                m[3], m[4], m[5] + oy - m[3] * ox - m[4] * oy]
    }

    /// Writes the op with `p` on `src` into `dst` (see the type's definition); throws on invalid parameters.
    public static func apply(_ p: Params, src: PlanarImage, dst: inout PlanarImage) throws {
        for v in [p.angle, p.translate.x, p.translate.y, p.shear.x, p.shear.y, p.center?.x ?? 0, p.center?.y ?? 0] where !v.isFinite {
            throw MixError("affine parameters must be finite, not \(v)")
        }
        try VipsSampler.affineNearest(src, inverse: pixelMap(p, height: src.height, width: src.width), into: &dst)
    }
}

/// TrivialAugmentWide's ShearX / ShearY: `F.affine(angle 0, translate 0, scale 1,
/// shear = degrees(atan(m)) on one axis, center [0, 0])` — sheared about the top-left corner.
public struct Shear: ImageKernel {
    /// The op's parameters (what the draw side records).
    public struct Params: Sendable, Hashable {
        /// The magnitude as `_apply_image_or_video_transform` receives it (the shear's tangent, e.g. ±0.99).
        public var magnitude: Double
        /// Along x (ShearX) or y (ShearY).
        public var horizontal: Bool
        /// Parameters as given (checked by `apply`).
        public init(magnitude: Double, horizontal: Bool) { self.magnitude = magnitude; self.horizontal = horizontal }
    }

    /// The affine parameters torchvision passes for this shear.
    public static func affine(_ p: Params) -> AffineNearest.Params {
        let degrees = atan(p.magnitude) * 180 / .pi
        return AffineNearest.Params(shear: p.horizontal ? (degrees, 0) : (0, degrees), center: (0, 0))
    }

    /// Writes the op with `p` on `src` into `dst` (see the type's definition); throws on invalid parameters.
    public static func apply(_ p: Params, src: PlanarImage, dst: inout PlanarImage) throws {
        guard p.magnitude.isFinite else { throw MixError("shear magnitude must be finite, not \(p.magnitude)") }
        try AffineNearest.apply(affine(p), src: src, dst: &dst)
    }
}

/// TranslateX / TranslateY: `F.affine(translate = [int(m), 0] or [0, int(m)])`: a whole-pixel
/// shift (the magnitude truncated toward zero), output pixel `(x, y)` = input `(x − tx, y − ty)`.
public struct Translate: ImageKernel {
    /// The op's parameters (what the draw side records).
    public struct Params: Sendable, Hashable {
        /// Pixels, as `_apply_image_or_video_transform` receives it (truncated toward zero).
        public var magnitude: Double
        /// Along x (the X op) or y (the Y op).
        public var horizontal: Bool
        /// Parameters as given (checked by `apply`).
        public init(magnitude: Double, horizontal: Bool) { self.magnitude = magnitude; self.horizontal = horizontal }
    }

    /// Whole pixels: Python's `int(m)`.
    public static func pixels(_ m: Double) -> Int { Int(m.rounded(.towardZero)) }

    /// The affine parameters torchvision passes for this op.
    public static func affine(_ p: Params) -> AffineNearest.Params {
        let t = Double(pixels(p.magnitude))
        return AffineNearest.Params(translate: p.horizontal ? (t, 0) : (0, t))
    }

    /// A whole-pixel shift needs no resampling: it is MixCore's `ImageTransform` (the crop
    /// augmentation's kernel) with `dx = −t` or `dy = −t`, the same pixels as the affine map
    /// (`testGeometryRecomputesFromTheDesignFormulas`) without libvips' millisecond per call.
    public static func apply(_ p: Params, src: PlanarImage, dst: inout PlanarImage) throws {
        guard p.magnitude.isFinite else { throw MixError("translate magnitude must be finite, not \(p.magnitude)") }
        // ImageTransform shifts by Int16: sides beyond that take the affine map.
        guard max(src.width, src.height) <= Int(Int16.max) else { return try AffineNearest.apply(affine(p), src: src, dst: &dst) }
        // Beyond the image every pixel is the fill; clamping keeps the shift in Int16.
        let limit = Double(max(src.width, src.height))
        let t = Int16(min(max(p.magnitude.rounded(.towardZero), -limit), limit))
        let shift = p.horizontal ? ImageTransform(dx: -t, dy: 0) : ImageTransform(dx: 0, dy: -t)
        src.shaped(&dst)
        src.pixels.withUnsafeBufferPointer { s in
            dst.pixels.withUnsafeMutableBufferPointer { o in
                shift.apply(s.baseAddress!, into: o.baseAddress!, channels: src.channels, height: src.height, width: src.width)
            }
        }
    }
}

/// Rotate: `F.rotate(angle = m)`, counter-clockwise in degrees about the image centre,
/// no expansion. An angle ≡ 0 (mod 360) is a copy (torchvision's fast path); 90°, 180°
/// and 270° give torchvision's exact `rot90` permutations too (their coordinates are whole).
public struct Rotate: ImageKernel {
    /// The op's parameters (what the draw side records).
    public struct Params: Sendable, Hashable {
        /// Degrees, as `_apply_image_or_video_transform` receives it.
        public var degrees: Double
        /// Parameters as given (checked by `apply`).
        public init(degrees: Double) { self.degrees = degrees }
    }

    /// The affine parameters torchvision passes for this op.
    public static func affine(_ p: Params) -> AffineNearest.Params {
        // rotate_image passes −angle to the affine matrix ("incoherence of rotation angle direction").
        AffineNearest.Params(angle: -pythonModulo(p.degrees, 360))
    }

    /// Writes the op with `p` on `src` into `dst` (see the type's definition); throws on invalid parameters.
    public static func apply(_ p: Params, src: PlanarImage, dst: inout PlanarImage) throws {
        guard p.degrees.isFinite else { throw MixError("rotation angle must be finite, not \(p.degrees)") }
        if pythonModulo(p.degrees, 360) == 0 { dst = src; return }
        try AffineNearest.apply(affine(p), src: src, dst: &dst)
    }
}

/// Python's `a % b` for floats (the result has the sign of `b`).
func pythonModulo(_ a: Double, _ b: Double) -> Double {
    let r = fmod(a, b)
    return (r != 0 && (r < 0) != (b < 0)) ? r + b : r
}
