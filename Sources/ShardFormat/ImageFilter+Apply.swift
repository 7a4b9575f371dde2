/// The image filters' kernels: forward (before compression) and inverse (after inflation).
extension ImageFilter {
    /// Filters `count` bytes of rows of `width` bytes in place (right to left within each row, so every difference reads unfiltered bytes).
    @inline(__always)
    static func deltaEncodeInPlace(_ p: UnsafeMutablePointer<UInt8>, count: Int, width: Int) {
        var row = 0
        while row < count {
            var x = width - 1
            while x > 0 {
                p[row + x] = p[row + x] &- p[row + x - 1]
                x -= 1
            }
            row += width
        }
    }

    /// Undoes `deltaEncodeInPlace` (a running sum within each row, mod 256).
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
