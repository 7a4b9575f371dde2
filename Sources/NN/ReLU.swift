import Kernels

/// Elementwise rectifier on a flat buffer (any layout). In-place use is allowed.
public enum ReLU {
    /// y = max(x, 0).
    public static func forward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        parallelChunks(count, minChunk: 1 << 16) { r in
            for i in r { y[i] = max(x[i], 0) }
        }
    }

    /// dx = dy · [y > 0], where `y` is the forward output (or input: same mask).
    /// `dx` may alias `dy`.
    public static func backward(output y: UnsafePointer<Float>, dOutput dy: UnsafePointer<Float>,
                                dInput dx: UnsafeMutablePointer<Float>, count: Int) {
        parallelChunks(count, minChunk: 1 << 16) { r in
            for i in r { dx[i] = y[i] > 0 ? dy[i] : 0 }
        }
    }
}
