/// The image filters' kernels: forward (before compression) and inverse (after inflation).
extension ImageFilter {
    /// Writes the filtered `count` bytes of rows of `width` bytes from `src` into `dst` (which
    /// must not overlap it): each row's first byte as it is, then each byte minus its left
    /// neighbour, mod 256.
    @inline(__always)
    static func deltaEncode(_ src: UnsafePointer<UInt8>, into dst: UnsafeMutablePointer<UInt8>, count: Int, width: Int) {
        var row = 0
        while row < count {
            dst[row] = src[row]
            var x = 1
            while x < width {
                dst[row + x] = src[row + x] &- src[row + x - 1]
                x += 1
            }
            row += width
        }
    }

    /// Undoes `deltaEncode` (a running sum within each row, mod 256).
    @inline(__always)
    static func deltaDecode(_ p: UnsafeMutablePointer<UInt8>, count: Int, width: Int) {
        var row = 0
        while row < count {
            var acc = p[row]
            var x = 1
            while x < width {
                acc = acc &+ p[row + x]
                p[row + x] = acc
                x += 1
            }
            row += width
        }
    }
}
