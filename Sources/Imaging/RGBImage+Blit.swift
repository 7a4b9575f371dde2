/// Copying planar (CHW) uint8 images into an `RGBImage`.
extension RGBImage {
    /// Draws a planar `channels × height × width` uint8 image with its top-left
    /// corner at `(x, y)`, each source pixel becoming a `scale × scale` block
    /// (nearest-neighbour upscaling). One channel is drawn as grey; three as RGB.
    /// The destination is clipped to the image.
    ///
    /// - Precondition: `channels` is 1 or 3, `scale ≥ 1`, and `chw` holds at
    ///   least `channels × height × width` bytes.
    public mutating func blitPlanar(_ chw: UnsafeRawBufferPointer, channels: Int, height h: Int, width w: Int,
                                    x: Int, y: Int, scale: Int = 1) {
        precondition(channels == 1 || channels == 3, "blitPlanar: channels must be 1 or 3, got \(channels)")
        precondition(scale >= 1, "blitPlanar: scale must be ≥ 1, got \(scale)")
        precondition(h >= 0 && w >= 0, "blitPlanar: negative size \(w)×\(h)")
        let plane = h * w
        precondition(chw.count >= channels * plane,
                     "blitPlanar: \(chw.count) bytes for \(channels)×\(h)×\(w)")
        // Destination rectangle after clipping.
        let dx0 = max(0, x), dx1 = min(width, x + w * scale)
        let dy0 = max(0, y), dy1 = min(height, y + h * scale)
        guard dx0 < dx1 && dy0 < dy1 else { return }
        let gOff = channels == 3 ? plane : 0
        let bOff = channels == 3 ? 2 * plane : 0
        for dy in dy0..<dy1 {
            let sy = (dy - y) / scale
            let srcRow = sy * w
            var di = (dy * width + dx0) * 3
            for dx in dx0..<dx1 {
                let s = srcRow + (dx - x) / scale
                // Indices are in range: s < plane and the offsets are < channels × plane ≤ chw.count.
                pixels[di] = chw[s]
                pixels[di + 1] = chw[gOff + s]
                pixels[di + 2] = chw[bOff + s]
                di += 3
            }
        }
    }

    /// `blitPlanar` over the bytes of an array.
    public mutating func blitPlanar(_ chw: [UInt8], channels: Int, height h: Int, width w: Int,
                                    x: Int, y: Int, scale: Int = 1) {
        chw.withUnsafeBytes { blitPlanar($0, channels: channels, height: h, width: w, x: x, y: y, scale: scale) }
    }

    /// `blitPlanar` over the bytes of an array slice (e.g. one sample of a batch).
    public mutating func blitPlanar(_ chw: ArraySlice<UInt8>, channels: Int, height h: Int, width w: Int,
                                    x: Int, y: Int, scale: Int = 1) {
        chw.withUnsafeBytes { blitPlanar($0, channels: channels, height: h, width: w, x: x, y: y, scale: scale) }
    }

    /// A `width × height` image from planar (CHW) uint8 bytes with 1 or 3 channels.
    public init(planar chw: [UInt8], channels: Int, height: Int, width: Int) {
        self.init(width: width, height: height, background: .black)
        blitPlanar(chw, channels: channels, height: height, width: width, x: 0, y: 0)
    }

    /// The image as planar CHW RGB bytes (`3 × height × width`).
    public func planarRGB() -> [UInt8] {
        let plane = width * height
        var out = [UInt8](repeating: 0, count: 3 * plane)
        for p in 0..<plane {
            out[p] = pixels[3 * p]
            out[plane + p] = pixels[3 * p + 1]
            out[2 * plane + p] = pixels[3 * p + 2]
        }
        return out
    }
}
