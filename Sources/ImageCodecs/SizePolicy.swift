import MixCore

/// How `mixprep` brings every image of a dataset to one size (`[dataset] size`,
/// `resize`, `crop`, `resample`): source preparation, before any augmentation.
public struct SizePolicy: Sendable, Equatable {
    public enum Mode: String, CaseIterable, Sendable {
        /// Images must already have the target size (or, without one, all the same size).
        case none
        /// Scale so that the image covers the target (its shorter side to the size, for a
        /// square target), then crop the middle.
        case shorter
        /// Scale to exactly the target, ignoring the aspect ratio.
        case stretch
    }

    /// The target, or nil for "whatever size the images have" (mode none only).
    public var width: Int?
    public var height: Int?
    public var mode: Mode
    public var filter: ResampleFilter

    public init(width: Int?, height: Int?, mode: Mode, filter: ResampleFilter = .bicubic) {
        precondition((width == nil) == (height == nil), "SizePolicy: give both sides or neither")
        precondition(mode == .none || width != nil, "SizePolicy: resizing needs a size")
        self.width = width
        self.height = height
        self.mode = mode
        self.filter = filter
    }

    /// Keep every image as it is.
    public static let asIs = SizePolicy(width: nil, height: nil, mode: .none)

    /// The size an upright `w` × `h` image is resized to before the crop: for `shorter`,
    /// `s = max(tw/w, th/h)` and each side `max(t, ⌊side·s + ½⌋)`; for `stretch`, the
    /// target; for `none`, the image's own size.
    public func resizedSize(width w: Int, height h: Int) -> (width: Int, height: Int) {
        guard let tw = width, let th = height else { return (w, h) }
        switch mode {
        case .none: return (w, h)
        case .stretch: return (tw, th)
        case .shorter:
            let s = max(Double(tw) / Double(w), Double(th) / Double(h))
            return (max(tw, Int((Double(w) * s + 0.5).rounded(.down))), max(th, Int((Double(h) * s + 0.5).rounded(.down))))
        }
    }

    /// The top-left corner of the centre crop of a `w` × `h` image: `((w − tw) / 2, (h − th) / 2)`, rounded down.
    public func cropOrigin(width w: Int, height h: Int) -> (x: Int, y: Int) {
        guard let tw = width, let th = height else { return (0, 0) }
        return ((w - tw) / 2, (h - th) / 2)
    }

    /// The JPEG reduction (1, 2, 4 or 8) to decode a stored `w` × `h` image at, when it
    /// is turned by `orientation` and then resized as this policy says: the largest `s`
    /// with `s ≤ min(w ÷ 2w′, h ÷ 2h′)` (integer division) for a resize to `w′ × h′`
    /// (in the stored frame), so that at least twice the resized size is decoded and the
    /// filter does the rest: Pillow's `draft("RGB", (2w′, 2h′))`, as its `thumbnail` with
    /// `reducing_gap = 2` does it.
    public func jpegReduction(storedWidth w: Int, storedHeight h: Int, orientation: Orientation) -> Int {
        guard mode != .none else { return 1 }
        let (ow, oh) = orientation.swapsSides ? (h, w) : (w, h)
        let r = resizedSize(width: ow, height: oh)
        let (rw, rh) = orientation.swapsSides ? (r.height, r.width) : (r.width, r.height)
        let fit = min(w / (2 * rw), h / (2 * rh))
        return [8, 4, 2, 1].first { $0 <= fit } ?? 1
    }

    /// `image` (upright) at the target size: resized, then cropped in the middle.
    /// The resized image is bounded like a decoded one (`ImageLimits.maxPixels`): `shorter`
    /// scales a 1,000,000 × 1 PNG of 1 KB to 16,000,000 × 16 before cropping 16 × 16, which took
    /// 2.7 GB (mixfuzz target `image`).
    func apply(_ image: DecodedImage, with resampler: Resampler) throws -> DecodedImage {
        guard mode != .none, let tw = width, let th = height else { return image }
        let r = try checkedResize(width: image.width, height: image.height)
        let resized = try resampler.resize(image, width: r.width, height: r.height, filter: filter)
        return Self.crop(resized, x: (r.width - tw) / 2, y: (r.height - th) / 2, width: tw, height: th)
    }

    /// The same from packed RGB (an upright JPEG): one pass of libswscale resizes and makes the planes.
    func apply(_ image: PackedRGB, with resampler: Resampler) throws -> DecodedImage {
        guard mode != .none, let tw = width, let th = height else { return image.planar() }
        let r = try checkedResize(width: image.width, height: image.height)
        let resized = r.width == image.width && r.height == image.height
            ? image.planar() : try resampler.resize(image, width: r.width, height: r.height, filter: filter)
        return Self.crop(resized, x: (r.width - tw) / 2, y: (r.height - th) / 2, width: tw, height: th)
    }

    /// The size before the crop, refused beyond `ImageLimits.maxPixels`.
    private func checkedResize(width w: Int, height h: Int) throws -> (width: Int, height: Int) {
        let r = resizedSize(width: w, height: h)
        if ImageLimits.sizeProblem(width: r.width, height: r.height) != nil {
            throw MixError("is \(Wording.grouped(w))×\(Wording.grouped(h)) pixels, which resize = \"\(mode.rawValue)\" "
                           + "to \(width!)×\(height!) would first scale to \(Wording.grouped(r.width))×\(Wording.grouped(r.height)), more than the "
                           + "\(Wording.grouped(ImageLimits.maxPixels)) pixels mixprep decodes (Pillow's decompression-bomb limit)")
        }
        return r
    }

    /// The `width` × `height` window of `image` at (`x`, `y`).
    static func crop(_ image: DecodedImage, x: Int, y: Int, width: Int, height: Int) -> DecodedImage {
        if x == 0 && y == 0 && width == image.width && height == image.height { return image }
        precondition(x >= 0 && y >= 0 && x + width <= image.width && y + height <= image.height, "crop outside the image")
        let chw = [UInt8](unsafeUninitializedCapacity: 3 * width * height) { out, n in
            image.chw.withUnsafeBufferPointer { src in
                for c in 0..<3 {
                    for row in 0..<height {
                        (out.baseAddress! + (c * height + row) * width)
                            .update(from: src.baseAddress! + (c * image.height + y + row) * image.width + x, count: width)
                    }
                }
            }
            n = 3 * width * height
        }
        return DecodedImage(width: width, height: height, chw: chw)
    }
}
