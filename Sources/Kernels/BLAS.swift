// The only Swift file in the package that imports COpenBLAS.
// Everything else calls `sgemm` / `setThreads` from here.
import COpenBLAS

/// Row-major single-precision GEMM:  C[m×n] = alpha · op(A)[m×k] · op(B)[k×n] + beta · C.
///
/// `op(X)` is `X` or `Xᵀ` according to `transA` / `transB`. Leading dimensions are
/// row strides of the matrices *as stored* (so for `transA == false`, `lda >= k`;
/// for `transA == true`, A is stored as k×m and `lda >= m`). Pass `nil` to use the
/// tight default. With `beta == 0`, C need not be initialised.
@inline(__always)
public func sgemm(
    transA: Bool = false, transB: Bool = false,
    m: Int, n: Int, k: Int,
    alpha: Float = 1,
    a: UnsafePointer<Float>, lda: Int? = nil,
    b: UnsafePointer<Float>, ldb: Int? = nil,
    beta: Float = 0,
    c: UnsafeMutablePointer<Float>, ldc: Int? = nil
) {
    precondition(m >= 0 && n >= 0 && k >= 0, "sgemm: negative dimension")
    if m == 0 || n == 0 { return }
    let lda = lda ?? (transA ? m : k)
    let ldb = ldb ?? (transB ? k : n)
    let ldc = ldc ?? n
    cblas_sgemm(
        CblasRowMajor,
        transA ? CblasTrans : CblasNoTrans,
        transB ? CblasTrans : CblasNoTrans,
        Int32(m), Int32(n), Int32(k),
        alpha, a, Int32(lda), b, Int32(ldb),
        beta, c, Int32(ldc))
}

/// Sets the number of threads used by BLAS and by the package's own parallel loops
/// (`parallelFor`). Values < 1 are clamped to 1.
public func setThreads(_ n: Int) {
    let n = max(1, n)
    openblas_set_num_threads(Int32(n))
    ParallelSettings.threads = n
}

/// The number of threads OpenBLAS currently uses.
public func blasThreads() -> Int {
    Int(openblas_get_num_threads())
}
