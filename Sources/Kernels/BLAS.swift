// The only Swift file in the package that talks to OpenBLAS. Everything else calls
// `sgemm` / `setThreads` / `BLASKernel.runtime` from here.
//
// OpenBLAS is loaded with dlopen on first use instead of being linked: a DYNAMIC_ARCH
// build picks its kernel (reading OPENBLAS_CORETYPE) in a constructor that runs when the
// library loads, and a linked library loads before `main`. Loading it ourselves lets
// `BLASKernel` choose the kernel first, with no re-executed process and no fallback
// kernel ever initialised.
import Foundation

/// The OpenBLAS entry points the package uses, resolved once.
struct OpenBLASLibrary: @unchecked Sendable {
    typealias SGEMM = @convention(c) (Int32, Int32, Int32, Int32, Int32, Int32, Float,
                                      UnsafePointer<Float>?, Int32, UnsafePointer<Float>?, Int32, Float,
                                      UnsafeMutablePointer<Float>?, Int32) -> Void
    typealias SetThreads = @convention(c) (Int32) -> Void
    typealias GetInt = @convention(c) () -> Int32
    typealias GetString = @convention(c) () -> UnsafeMutablePointer<CChar>?

    let sgemm: SGEMM
    let setNumThreads: SetThreads
    let getNumThreads: GetInt
    let coreName: GetString
    let config: GetString
    /// The file that was loaded.
    let path: String
    /// The kernel choice made before loading.
    let selection: BLASKernel.Selection

    /// CBLAS constants (cblas.h): row-major order and the transpose flags.
    static let rowMajor: Int32 = 101, noTrans: Int32 = 111, trans: Int32 = 112

    /// Library names tried in order after `MIXSHARDS_OPENBLAS` (a path), if set.
    static let candidates = ["libopenblas.so.0", "libopenblas.so", "libopenblasp.so.0", "libopenblas.dylib"]

    static let shared: OpenBLASLibrary = load()

    private static func load() -> OpenBLASLibrary {
        let env = ProcessInfo.processInfo.environment
        let selection = BLASKernel.select(cpu: .current, userChoice: env["OPENBLAS_CORETYPE"])
        if let kernel = selection.requested { setenv("OPENBLAS_CORETYPE", kernel, 1) }
        var tried: [String] = []
        var handle: UnsafeMutableRawPointer?
        var path = ""
        for name in ([env["MIXSHARDS_OPENBLAS"]].compactMap { $0 } + candidates) {
            tried.append(name)
            if let h = dlopen(name, RTLD_NOW | RTLD_LOCAL) {
                handle = h
                path = name
                break
            }
        }
        // The variable was only for the library's constructor; children see the user's environment.
        if selection.requested != nil { unsetenv("OPENBLAS_CORETYPE") }
        guard let handle else {
            fatal("cannot load OpenBLAS (tried \(tried.joined(separator: ", "))): install libopenblas0 "
                  + "(Debian: apt-get install libopenblas-dev) or set MIXSHARDS_OPENBLAS to the library's path")
        }
        func symbol<T>(_ name: String, _: T.Type) -> T {
            guard let p = dlsym(handle, name) else { fatal("\(path) has no \(name); is it OpenBLAS?") }
            return unsafeBitCast(p, to: T.self)
        }
        return OpenBLASLibrary(
            sgemm: symbol("cblas_sgemm", SGEMM.self),
            setNumThreads: symbol("openblas_set_num_threads", SetThreads.self),
            getNumThreads: symbol("openblas_get_num_threads", GetInt.self),
            coreName: symbol("openblas_get_corename", GetString.self),
            config: symbol("openblas_get_config", GetString.self),
            path: path, selection: selection)
    }

    private static func fatal(_ message: String) -> Never {
        FileHandle.standardError.write(Data("error: \(message)\n".utf8))
        exit(1)
    }
}

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
    // OpenBLAS does beta = 0 as "zero C with its beta kernel, then C += alpha·A·B". Its beta
    // kernel stores one float at a time (9% of a training step on Zen 2); memset writes the
    // same +0s several times faster, and beta = 1 then skips OpenBLAS's pass: the same sums.
    var beta = beta
    if beta == 0 {
        if ldc == n {
            c.update(repeating: 0, count: m * n)
        } else {
            for row in 0..<m { (c + row * ldc).update(repeating: 0, count: n) }
        }
        beta = 1
    }
    let lib = OpenBLASLibrary.shared
    lib.sgemm(OpenBLASLibrary.rowMajor,
              transA ? OpenBLASLibrary.trans : OpenBLASLibrary.noTrans,
              transB ? OpenBLASLibrary.trans : OpenBLASLibrary.noTrans,
              Int32(m), Int32(n), Int32(k),
              alpha, a, Int32(lda), b, Int32(ldb),
              beta, c, Int32(ldc))
}

/// Sets the number of threads of the package's own parallel work (`parallelFor`, the
/// network's micro-batch workers). Values < 1 are clamped to 1. OpenBLAS itself always
/// runs single-threaded inside those workers (see `setBLASThreads`).
public func setThreads(_ n: Int) {
    ParallelSettings.threads = max(1, n)
    setBLASThreads(1)
}

/// The number of threads OpenBLAS currently uses.
public func blasThreads() -> Int {
    Int(OpenBLASLibrary.shared.getNumThreads())
}

/// Sets OpenBLAS's own thread count only (the package's loops keep theirs).
public func setBLASThreads(_ n: Int) {
    OpenBLASLibrary.shared.setNumThreads(Int32(max(1, n)))
}

extension BLASKernel {
    /// The loaded library: its kernel, where the choice came from, and its build.
    public static var runtime: Runtime {
        let lib = OpenBLASLibrary.shared
        let core = lib.coreName().map { String(cString: $0) } ?? "unknown"
        let config = lib.config().map { String(cString: $0).trimmingCharacters(in: .whitespaces) } ?? "OpenBLAS"
        return Runtime(kernel: core, selection: lib.selection, config: config, library: lib.path)
    }
}
